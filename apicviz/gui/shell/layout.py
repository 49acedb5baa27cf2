"""Window layout: dock sizes worked out from the fonts, kept on the screen, checked when restored.

The default layout is computed, not hard-coded: the vCPU table gets the
width that shows all its default columns, the interrupts table the width
its columns need, and the map the rest — so 1280×800 at 100 % and
1920×1080 at 200 % both show every column whole. A remembered layout is
used only if it still fits the screen and leaves every panel usable;
otherwise the default comes back and the broken one is forgotten.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QRect, QSize, Qt
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QDockWidget, QStyle, QWidget

if TYPE_CHECKING:
    from .main_window import MainWindow

#: Bumped when docks or columns change, so a layout saved by an older apicviz is not restored.
LAYOUT_VERSION = 3
DEFAULT_SIZE = (1280, 800)
#: The map keeps at least this much width; the vCPU table gives way first.
MAP_MIN_WIDTH = 520
#: The bottom docks (interrupts, explain) are this many text lines high.
BOTTOM_LINES = 14
#: The vCPU table's share of the left column (its rows decide within it); the lesson tabs get the rest.
VCPU_SHARE = (0.4, 0.65)


def available_rect(widget: QWidget) -> QRect:
    """The usable area of the screen the widget is on (the primary screen when unknown)."""
    screen = QGuiApplication.screenAt(widget.frameGeometry().center())
    if screen is None:
        screen = widget.screen()
    return screen.availableGeometry()


def frame_extra(widget: QWidget) -> QSize:
    """What the window manager's frame adds to the client size."""
    frame, inner = widget.frameGeometry(), widget.geometry()
    return QSize(max(0, frame.width() - inner.width()), max(0, frame.height() - inner.height()))


def fit_to_screen(window: QWidget) -> bool:
    """Shrink and move the window so its frame lies on its screen; True when it changed."""
    avail = available_rect(window)
    extra = frame_extra(window)
    width = min(window.width(), avail.width() - extra.width())
    height = min(window.height(), avail.height() - extra.height())
    changed = (width, height) != (window.width(), window.height())
    if changed:
        window.resize(max(width, 1), max(height, 1))
    frame = window.frameGeometry()
    x = min(max(frame.x(), avail.x()), avail.right() + 1 - frame.width())
    y = min(max(frame.y(), avail.y()), avail.bottom() + 1 - frame.height())
    if (x, y) != (frame.x(), frame.y()):
        window.move(max(x, avail.x()), max(y, avail.y()))
        changed = True
    return changed


def fits_screen(window: QWidget) -> bool:
    """The window's frame is on its screen, and its minimum size is too."""
    avail = available_rect(window)
    extra = frame_extra(window)
    minimum = window.minimumSizeHint().expandedTo(window.minimumSize())
    return (avail.contains(window.frameGeometry())
            and minimum.width() + extra.width() <= avail.width()
            and minimum.height() + extra.height() <= avail.height())


def fits_screen_minimum(window: QWidget) -> bool:
    """The window's minimum size fits its screen (it can be resized to fit)."""
    avail = available_rect(window)
    extra = frame_extra(window)
    minimum = window.minimumSizeHint().expandedTo(window.minimumSize())
    return (minimum.width() + extra.width() <= avail.width()
            and minimum.height() + extra.height() <= avail.height())


def default_size(window: QWidget) -> tuple[int, int]:
    """1280×800, or the screen when it is smaller."""
    avail = available_rect(window)
    extra = frame_extra(window)
    return (min(DEFAULT_SIZE[0], avail.width() - extra.width()),
            min(DEFAULT_SIZE[1], avail.height() - extra.height()))


def fit_docks(window: MainWindow) -> None:
    """Dock sizes from what the contents need at the current font (first start, Reset Layout, zoom)."""
    width, height = window.width(), window.height()
    line_h = window.fontMetrics().height()
    vcpu_w = min(window.vcpu_panel.needed_width(), max(200, width - MAP_MIN_WIDTH - 12))
    window.resizeDocks([window.vcpu_dock], [vcpu_w], Qt.Orientation.Horizontal)
    window.interrupt_panel.fit_width(width - 8)  # the bottom docks span the window
    bottom_h = min(line_h * BOTTOM_LINES, height // 3)
    # What the left column has now, less what the bottom docks take from it: asking docks for more than
    # the window holds would make Qt grow the window.
    # The left column: the window less menu, status bar, the bottom docks, two tab bars and the separators.
    # (Asking the docks for more than the window holds would make Qt grow the window.)
    tab_h = line_h + 12
    sep = window.style().pixelMetric(QStyle.PixelMetric.PM_DockWidgetSeparatorExtent, None, window)
    left_h = (height - window.menuBar().sizeHint().height() - window.statusBar().sizeHint().height()
              - bottom_h - 2 * tab_h - 3 * sep - 8)
    window.resizeDocks([window.interrupt_dock], [bottom_h], Qt.Orientation.Vertical)
    # The vCPU table as tall as its rows (up to a dozen), within its share; the lesson tabs get the rest.
    vcpu_h = window.vcpu_panel.needed_height() + line_h + 8  # + the dock's title
    vcpu_h = max(int(left_h * VCPU_SHARE[0]), min(vcpu_h, int(left_h * VCPU_SHARE[1])))
    window.resizeDocks([window.vcpu_dock, window.lesson_dock], [vcpu_h, max(1, left_h - vcpu_h)],
                       Qt.Orientation.Vertical)


def layout_problems(window: MainWindow) -> list[str]:
    """What makes a shown (restored) layout unusable; empty when it is fine."""
    problems = []
    if not fits_screen(window):
        problems.append("the window does not fit its screen")
    screens = [s.availableGeometry() for s in QGuiApplication.screens()]
    for dock in window.findChildren(QDockWidget):
        if dock.isHidden():
            continue  # closed by the user: View brings it back
        if dock.isFloating() and not any(r.intersects(dock.frameGeometry()) for r in screens):
            problems.append(f"the {dock.windowTitle()} panel floats off every screen")
        hint = dock.minimumSizeHint()
        if dock.width() < min(hint.width(), 60) or dock.height() < min(hint.height(), 40):
            problems.append(f"the {dock.windowTitle()} panel is squeezed to {dock.width()}×{dock.height()}")
    central = window.centralWidget()
    if central is not None and (central.width() < MAP_MIN_WIDTH // 2 or central.height() < 120):
        problems.append(f"the map is squeezed to {central.width()}×{central.height()}")
    return problems
