"""The logical part of KVM's map: flat, cluster, x2APIC clusters, or why there is none.

A title names ``logical_mode``; when the mode has no table (disabled, none,
sw_disabled, or no map at all) the reason is given in words instead, since
"the table is empty" and "the table is not used" look alike as pictures.
"""
from __future__ import annotations

import html

from PySide6.QtCore import QEvent, QPoint, QPointF, QRectF, QSize, Qt, Signal
from PySide6.QtGui import QFont, QFontMetricsF, QMouseEvent, QPainter, QPaintEvent
from PySide6.QtWidgets import QFrame, QLabel, QScrollArea, QToolTip, QVBoxLayout, QWidget

from ...model import Evaluation
from ..viewmodels.logical_slots import LogicalLayout, build_logical, logical_tooltip
from ..viewmodels.map_slots import MapSlots
from . import palette
from .slot_painter import SlotPainter

SPACING = 2.0


class LogicalGrid(QWidget):
    """Rows of logical slots; paints only the lines in the exposed area (256 x2APIC clusters).

    ``per_line`` rows are placed side by side (the compact strip under the
    physical grid puts the two halves of the flat table, or several clusters,
    on one line).
    """

    vcpu_clicked = Signal(int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.layout_data: LogicalLayout | None = None
        self.ev: Evaluation | None = None
        self.phys: MapSlots | None = None
        self.painter = SlotPainter(self.font())
        self.label_font = QFont(self.font())
        self.label_font.setPixelSize(11)
        self.cell_w, self.cell_h, self.label_w, self.header_h = 58.0, 30.0, 70.0, 16.0
        self.per_line = 1
        self.compact = False

    def set_layout_data(self, data: LogicalLayout, ev: Evaluation, phys: MapSlots) -> None:
        self.layout_data, self.ev, self.phys = data, ev, phys
        self._relayout()

    def _relayout(self) -> None:
        data = self.layout_data
        if data is None:
            return
        fm = QFontMetricsF(self.label_font)
        if data.mode == "x2apic":
            self.cell_w, self.cell_h = 14.0, 11.0  # colours only: the physical grid has the words
        elif self.compact:
            self.cell_w, self.cell_h = 50.0, 24.0
        else:
            self.cell_w, self.cell_h = 58.0, 30.0
        labels = [r.label for r in data.rows] or [""]
        self.label_w = max(fm.horizontalAdvance(t) for t in labels) + 10
        self.header_h = fm.height() + 4 if data.columns else 0
        self.painter.set_size(self.cell_w, self.cell_h)
        self.setFixedSize(self.sizeHint())
        self.update()

    def set_width(self, width: int, compact: bool) -> None:
        """Fit as many rows side by side as ``width`` allows (compact strip) or one per line."""
        self.compact = compact
        self._relayout()
        per_line = max(1, int(width // self.group_w())) if compact else 1
        if per_line != self.per_line:
            self.per_line = per_line
            self.setFixedSize(self.sizeHint())
            self.update()

    def group_w(self) -> float:
        data = self.layout_data
        ncols = len(data.columns) if data is not None else 0
        return self.label_w + ncols * (self.cell_w + SPACING) + 8

    def lines(self) -> int:
        data = self.layout_data
        return 0 if data is None else -(-len(data.rows) // self.per_line)

    def sizeHint(self) -> QSize:
        data = self.layout_data
        if data is None or not data.rows:
            return QSize(10, 0)
        w = min(self.per_line, len(data.rows)) * self.group_w()
        h = self.header_h + self.lines() * (self.cell_h + SPACING) + 2
        return QSize(int(w), int(h))

    def cell_rect(self, row: int, col: int) -> QRectF:
        line, k = divmod(row, self.per_line)
        return QRectF(k * self.group_w() + self.label_w + col * (self.cell_w + SPACING) + 1,
                      self.header_h + line * (self.cell_h + SPACING) + 1, self.cell_w, self.cell_h)

    def cell_at(self, pos: QPoint | QPointF) -> tuple[int, int] | None:
        data = self.layout_data
        if data is None or pos.y() < self.header_h:
            return None
        k, x = divmod(pos.x(), self.group_w())
        line = int((pos.y() - self.header_h) // (self.cell_h + SPACING))
        col = int((x - self.label_w) // (self.cell_w + SPACING))
        row = line * self.per_line + int(k)
        if x >= self.label_w and int(k) < self.per_line and 0 <= row < len(data.rows) \
                and 0 <= col < len(data.rows[row].cells):
            return row, col
        return None

    def paintEvent(self, event: QPaintEvent) -> None:
        data = self.layout_data
        if data is None or not data.rows:
            return
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        p.setFont(self.label_font)
        p.setPen(palette.qcolor(palette.HEADER_TEXT))
        for k in range(min(self.per_line, len(data.rows))):
            for col, text in enumerate(data.columns):
                r = self.cell_rect(k, col)
                p.drawText(QRectF(r.left() - 4, 0, r.width() + 8, self.header_h), Qt.AlignmentFlag.AlignCenter, text)
        exposed = event.rect()
        pitch = self.cell_h + SPACING
        first = max(0, int((exposed.top() - self.header_h) // pitch)) * self.per_line
        last = min(len(data.rows), (int((exposed.bottom() - self.header_h) // pitch) + 1) * self.per_line)
        for i in range(first, last):
            row = data.rows[i]
            p.setFont(self.label_font)
            p.setPen(palette.qcolor(palette.HEADER_TEXT))
            r0 = self.cell_rect(i, 0)
            p.drawText(QRectF(r0.left() - self.label_w, r0.top(), self.label_w - 6, r0.height()),
                       Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter, row.label)
            for col, info in enumerate(row.cells):
                self.painter.paint(p, self.cell_rect(i, col), info)

    def event(self, event: QEvent) -> bool:
        if event.type() == QEvent.Type.ToolTip and self.layout_data is not None:
            hit = self.cell_at(event.pos())  # type: ignore[attr-defined]
            if hit is None or self.ev is None or self.phys is None:
                QToolTip.hideText()
            else:
                row = self.layout_data.rows[hit[0]]
                text = logical_tooltip(self.ev, self.layout_data, row, row.cells[hit[1]], self.phys)
                QToolTip.showText(event.globalPos(), text, self, self.cell_rect(*hit).toRect())  # type: ignore[attr-defined]
            return True
        return super().event(event)

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        hit = self.cell_at(event.position())
        if hit is not None and self.layout_data is not None and event.button() == Qt.MouseButton.LeftButton:
            vcpu = self.layout_data.rows[hit[0]].cells[hit[1]].vcpu
            if vcpu is not None:
                self.vcpu_clicked.emit(vcpu)


class LogicalView(QWidget):
    """Title (the logical mode), a line of words, and the slots when the mode has a table.

    Wide: a column beside the physical grid. Compact: a strip under it, the
    title and the slots on as few lines as the width allows.
    """

    vcpu_clicked = Signal(int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.title = QLabel()
        self.title.setWordWrap(True)
        self.title.setTextFormat(Qt.TextFormat.RichText)
        self.reason = QLabel()
        self.reason.setWordWrap(True)
        self.grid = LogicalGrid()
        self.grid.vcpu_clicked.connect(self.vcpu_clicked)
        self.scroll_area = QScrollArea()
        self.scroll_area.setWidget(self.grid)
        self.scroll_area.setWidgetResizable(False)
        self.scroll_area.setFrameShape(QFrame.Shape.NoFrame)
        self.scroll_area.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAsNeeded)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(2)
        lay.addWidget(self.title)
        lay.addWidget(self.reason)
        lay.addWidget(self.scroll_area, 1)
        self.data: LogicalLayout | None = None
        self.compact = False

    def set_compact(self, compact: bool) -> None:
        if compact != self.compact:
            self.compact = compact
            self._apply()

    def show_map(self, ev: Evaluation, phys: MapSlots) -> None:
        self.data = build_logical(ev, phys)
        self.grid.set_layout_data(self.data, ev, phys)
        self._apply()

    def _apply(self) -> None:
        data = self.data
        if data is None:
            return
        if self.compact:
            self.title.setText(f"<b>{html.escape(data.title)}</b>"
                               + (f" — {html.escape(data.reason)}" if not data.rows else ""))
            self.title.setToolTip(data.reason)
            self.reason.hide()
        else:
            self.title.setText(f"<b>{html.escape(data.title)}</b>")
            self.reason.setText(data.reason)
            self.reason.show()
        self.reason.setStyleSheet("" if data.rows else palette.NOTE_CSS)
        self.grid.set_width(self.width() - 16, self.compact)
        self.scroll_area.setVisible(bool(data.rows))
        rows_h = self.grid.sizeHint().height() + 4
        cap = 2 * (self.grid.cell_h + SPACING) + self.grid.header_h + 6 if self.compact else 140
        self.scroll_area.setMinimumHeight(int(min(rows_h, cap)) if data.rows else 0)
        self.scroll_area.setMaximumHeight(int(min(rows_h, cap) if self.compact else rows_h) if data.rows else 0)

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        if self.compact and self.data is not None:
            old = self.grid.per_line
            self.grid.set_width(self.width() - 16, True)
            if self.grid.per_line != old:
                self._apply()

    def mode_text(self) -> str:
        """The logical mode and the reason in words, as shown (for tests and screen readers)."""
        data = self.data
        return f"{data.title}\n{data.reason}" if data is not None else ""
