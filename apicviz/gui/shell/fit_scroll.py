"""A dock's scroll area that gives its view the room the dock has, and scrolls only below the view's minimum.

QScrollArea's own resizing, once a view holds a word-wrapped label (a
height-for-width layout), sizes the view to its *preferred* height for the
width. A plot or a list prefers a few hundred pixels, so at 1280x800 the
sweep's heat map and the step list came out taller than their dock and
needed scrolling although they fit. Here the view gets the viewport's size,
and a scroll bar appears only when the dock is smaller than the least the
view can be drawn in.
"""
from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, QTimer, Signal
from PySide6.QtWidgets import QFrame, QScrollArea, QWidget


class FitScrollArea(QScrollArea):
    """Frameless; resizes ``widget`` to the viewport, never below its minimum for that width."""

    #: The view's contents changed and it now needs this many more pixels of height than it has.
    #: (Not emitted when the user makes the dock smaller: the user's size stands.)
    short_of_height = Signal(int)

    def __init__(self, widget: QWidget, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.setWidgetResizable(False)
        self.setWidget(widget)
        widget.installEventFilter(self)

    def least_height(self, widget: QWidget, width: int) -> int:
        """The least height ``widget`` can be drawn in at ``width`` (wrapped labels take their lines)."""
        least = widget.minimumSizeHint().expandedTo(widget.minimumSize()).height()
        lay = widget.layout()
        if lay is not None and lay.hasHeightForWidth():
            least = max(least, lay.minimumHeightForWidth(width))
        return least

    def fit(self) -> None:
        widget = self.widget()
        if widget is None:
            return
        room = self.maximumViewportSize()  # the viewport without scroll bars
        least_w = widget.minimumSizeHint().expandedTo(widget.minimumSize()).width()
        width = max(room.width(), least_w)
        height = self.least_height(widget, width)
        if height > room.height():  # a vertical scroll bar takes its width from the view
            width = max(room.width() - self.verticalScrollBar().sizeHint().width(), least_w)
            height = self.least_height(widget, width)
        widget.resize(width, max(height, room.height()))

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self.fit()

    def shortfall(self) -> int:
        """How much taller the viewport must be for the view to fit without scrolling (0 when it fits)."""
        widget = self.widget()
        if widget is None:
            return 0
        return max(0, self.least_height(widget, self.viewport().width()) - self.viewport().height())

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if watched is self.widget() and event.type() == QEvent.Type.LayoutRequest:
            self.fit()
            QTimer.singleShot(0, self, self._report_shortfall)  # once the layouts this one starts are done
        return super().eventFilter(watched, event)

    def showEvent(self, event) -> None:
        super().showEvent(event)
        QTimer.singleShot(0, self, self._report_shortfall)  # a tab raised: its contents may want more room

    def _report_shortfall(self) -> None:
        short = self.shortfall()
        if short and not self.visibleRegion().isEmpty():  # a tab behind another is "visible" to Qt
            self.short_of_height.emit(short)
