"""Presentation zoom (Ctrl+= / Ctrl+- / Ctrl+0): every font and the map grow for a projector."""
from __future__ import annotations

from PySide6.QtCore import QObject, QPointF, QTimer, Signal
from PySide6.QtGui import QAction, QFont, QGuiApplication, QKeySequence
from PySide6.QtWidgets import QApplication, QDockWidget, QHeaderView, QTableView, QWidget

STEPS = (0.8, 0.9, 1.0, 1.25, 1.5, 1.75, 2.0, 2.5)


class PresentationZoom(QObject):
    """Scales the application font and the map cells together, in fixed steps.

    A step after which the window could no longer fit its screen (its minimum
    size grows with the text) is taken back, with a message: zoom never makes
    the window larger than the screen.
    """

    changed = Signal(float)
    #: The tables were refitted to the new font (the window then resizes its docks).
    fitted = Signal(float)
    #: A step was taken back because the window would not fit the screen; the message says so.
    refused = Signal(str)

    def __init__(self, window: QWidget, grid=None) -> None:
        super().__init__(window)
        self.window = window
        self.grid = grid
        self.index = STEPS.index(1.0)
        self._previous = self.index
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
        self._previous = self.index
        self.index = index
        self.apply()

    def set_factor(self, factor: float) -> None:
        self.set_step(min(range(len(STEPS)), key=lambda i: abs(STEPS[i] - factor)))

    def apply(self) -> None:
        factor = self.factor
        font = QFont(QGuiApplication.font())
        font.setPointSizeF(self.base_points * factor)
        QApplication.setFont(font)
        # Widgets with a style sheet (status chips, map banner) keep the font they were polished with.
        for widget in QApplication.allWidgets():
            if widget.styleSheet():
                widget.setFont(font)
        # A dock paints its title with the title font it was created with while its own font equals the
        # application's; a font that differs only in its (invisible) style strategy makes it use its own.
        title_font = QFont(font)
        title_font.setStyleStrategy(QFont.StyleStrategy.PreferQuality)
        for dock in self.window.findChildren(QDockWidget):
            dock.setFont(title_font)
        # Widgets receive the new font through posted events: size the tables once they have it.
        QTimer.singleShot(0, self, self._after_font_change)
        if self.grid is not None and self.base_cell is not None:
            if factor == 1.0:
                self.grid.fit()
            else:
                # The map's labels are sized from its cells: grow the cells with the text (the map scrolls
                # down, from its first row; cap_map_to_width keeps the 16 columns side by side).
                # A fitted map stays fitted: it fits again when the docks have their new sizes.
                self.grid.set_cell_height(self.base_cell * factor, anchor=QPointF(0, 0), user=not self.grid.auto_fit)
        self.changed.emit(factor)

    def _after_font_change(self) -> None:
        self._fit_tables()
        if self._too_big():
            self._take_back()
            return
        self.fitted.emit(self.factor)
        # Once the docks have their sizes for the new text: does the map still have room for its own?
        QTimer.singleShot(0, self, self._check_content)

    def _check_content(self) -> None:
        fits = getattr(self.window, "content_fits", None)
        if fits is not None and self.window.isVisible() and not fits():
            self._take_back()

    def _take_back(self) -> None:
        """The step up did not fit this screen: back to the step before, and say so."""
        if self.index <= self._previous:
            return
        factor = self.factor
        self.index = self._previous
        self.apply()
        self.refused.emit(f"Zoom {factor:.0%} does not fit this screen (the window would be larger than it); "
                          f"staying at {self.factor:.0%}")

    def cap_map_to_width(self) -> None:
        """Once the docks have their new sizes: no map column beyond the right edge."""
        grid = self.grid
        if grid is None or self.factor == 1.0 or not grid.isVisible():
            return
        if grid.auto_fit:
            grid.fit()  # the largest cells that show every row, in the map's new size
            return
        cap = grid.width_fit_height()
        if grid.cell_h > cap:
            grid.set_cell_height(cap, anchor=QPointF(0, 0))
            grid.horizontalScrollBar().setValue(0)
            grid.verticalScrollBar().setValue(0)

    def _too_big(self) -> bool:
        from . import layout

        window = self.window
        if not window.isVisible() or not getattr(window, "remember_settings", True):
            return False  # a headless picture has no screen to fit
        return not layout.fits_screen_minimum(window)

    def _fit_tables(self) -> None:
        for table in self.window.findChildren(QTableView):
            table.verticalHeader().setDefaultSectionSize(int(table.fontMetrics().height() * 1.5))
            panel = table.parentWidget()
            resize = getattr(panel, "resize_columns", None)
            if resize is not None:
                resize()  # header and content, hidden columns kept hidden
            else:
                table.horizontalHeader().resizeSections(QHeaderView.ResizeMode.ResizeToContents)
