"""Presentation zoom (Ctrl+= / Ctrl+- / Ctrl+0): every font and the map grow for a projector."""
from __future__ import annotations

from PySide6.QtCore import QObject, QTimer, Signal
from PySide6.QtGui import QAction, QFont, QGuiApplication, QKeySequence
from PySide6.QtWidgets import QApplication, QHeaderView, QTableView, QWidget

STEPS = (0.8, 0.9, 1.0, 1.25, 1.5, 1.75, 2.0, 2.5)


class PresentationZoom(QObject):
    """Scales the application font and the map cells together, in fixed steps."""

    changed = Signal(float)

    def __init__(self, window: QWidget, grid=None) -> None:
        super().__init__(window)
        self.window = window
        self.grid = grid
        self.index = STEPS.index(1.0)
        app_font = QGuiApplication.font()
        self.base_points = app_font.pointSizeF() if app_font.pointSizeF() > 0 else 9.5
        self.base_cell = getattr(grid, "cell_h", None)
        self.zoom_in = QAction("Zoom &In (presentation)", window)
        self.zoom_in.setShortcuts([QKeySequence("Ctrl+="), QKeySequence("Ctrl++")])
        self.zoom_in.triggered.connect(lambda: self.set_step(self.index + 1))
        self.zoom_out = QAction("Zoom &Out (presentation)", window)
        self.zoom_out.setShortcut(QKeySequence("Ctrl+-"))
        self.zoom_out.triggered.connect(lambda: self.set_step(self.index - 1))
        self.reset = QAction("&Actual Size", window)
        self.reset.setShortcut(QKeySequence("Ctrl+0"))
        self.reset.triggered.connect(lambda: self.set_step(STEPS.index(1.0)))

    @property
    def factor(self) -> float:
        return STEPS[self.index]

    def set_step(self, index: int) -> None:
        index = max(0, min(index, len(STEPS) - 1))
        if index == self.index:
            return
        if self.factor == 1.0 and self.grid is not None:
            self.base_cell = self.grid.cell_h  # the size the map has at 100 % (fitted or user-zoomed)
        self.index = index
        self.apply()

    def set_factor(self, factor: float) -> None:
        self.set_step(min(range(len(STEPS)), key=lambda i: abs(STEPS[i] - factor)))

    def apply(self) -> None:
        factor = self.factor
        font = QFont(QGuiApplication.font())
        font.setPointSizeF(self.base_points * factor)
        QApplication.setFont(font)
        # Widgets receive the new font through posted events: size the tables once they have it.
        QTimer.singleShot(0, self, self._fit_tables)
        if self.grid is not None and self.base_cell is not None:
            if factor == 1.0:
                self.grid.fit()
            else:
                # The map's labels are sized from its cells: grow the cells with the text (the map scrolls).
                self.grid.set_cell_height(self.base_cell * factor)
        self.changed.emit(factor)

    def _fit_tables(self) -> None:
        for table in self.window.findChildren(QTableView):
            table.verticalHeader().setDefaultSectionSize(int(table.fontMetrics().height() * 1.5))
            table.horizontalHeader().resizeSections(QHeaderView.ResizeMode.ResizeToContents)
