"""A layout that wraps its widgets onto more rows instead of squeezing them.

The status chips must never be cut: at 1280 px they fit on one row, at a
projector's 200 % zoom (or with a long "map NONE" reason) they take a second
row. Each item keeps its size hint; only the row breaks move.
"""
from __future__ import annotations

from PySide6.QtCore import QMargins, QPoint, QRect, QSize, Qt
from PySide6.QtWidgets import QLayout, QLayoutItem, QWidget


class FlowLayout(QLayout):
    """Items left to right at their size hint, wrapping to a new row when the width runs out."""

    def __init__(self, parent: QWidget | None = None, spacing: int = 4) -> None:
        super().__init__(parent)
        self._items: list[QLayoutItem] = []
        self._spacing = spacing
        self.setContentsMargins(QMargins(0, 0, 0, 0))

    # ----- QLayout API ---------------------------------------------------------

    def addItem(self, item: QLayoutItem) -> None:
        self._items.append(item)

    def count(self) -> int:
        return len(self._items)

    def itemAt(self, index: int) -> QLayoutItem | None:
        return self._items[index] if 0 <= index < len(self._items) else None

    def takeAt(self, index: int) -> QLayoutItem | None:
        return self._items.pop(index) if 0 <= index < len(self._items) else None

    def spacing(self) -> int:
        return self._spacing

    def expandingDirections(self) -> Qt.Orientation:
        return Qt.Orientation(0)

    def hasHeightForWidth(self) -> bool:
        return True

    def heightForWidth(self, width: int) -> int:
        return self._arrange(QRect(0, 0, width, 0), move=False)

    def setGeometry(self, rect: QRect) -> None:
        super().setGeometry(rect)
        self._arrange(rect, move=True)

    def sizeHint(self) -> QSize:
        """All items on one row: what the layout would like."""
        shown = self._shown()
        m = self.contentsMargins()
        width = sum(i.sizeHint().width() for i in shown) + self._spacing * max(0, len(shown) - 1)
        height = max((i.sizeHint().height() for i in shown), default=0)
        return QSize(width + m.left() + m.right(), height + m.top() + m.bottom())

    def minimumSize(self) -> QSize:
        """The widest item: narrower than that, an item would be cut."""
        m = self.contentsMargins()
        width = max((i.sizeHint().width() for i in self._shown()), default=0)
        height = max((i.sizeHint().height() for i in self._shown()), default=0)
        return QSize(width + m.left() + m.right(), height + m.top() + m.bottom())

    # ----- placing ---------------------------------------------------------------

    def _shown(self) -> list[QLayoutItem]:
        return [i for i in self._items if not i.isEmpty()]

    def rows(self, width: int) -> int:
        """How many rows the items take at ``width`` (for tests and screenshots)."""
        return self._arrange(QRect(0, 0, width, 0), move=False, count_rows=True)

    def _arrange(self, rect: QRect, move: bool, count_rows: bool = False) -> int:
        """Place (or only measure) the items; the height used, or the number of rows."""
        m = self.contentsMargins()
        x, y, row_h, rows = rect.x() + m.left(), rect.y() + m.top(), 0, 0
        right = rect.right() - m.right()
        for item in self._shown():
            hint = item.sizeHint()
            if x > rect.x() + m.left() and x + hint.width() - 1 > right:
                x, y, row_h = rect.x() + m.left(), y + row_h + self._spacing, 0
                rows += 1
            if move:
                item.setGeometry(QRect(QPoint(x, y), hint))
            x += hint.width() + self._spacing
            row_h = max(row_h, hint.height())
        if count_rows:
            return rows + 1 if self._shown() else 0
        return y + row_h + m.bottom() - rect.y()
