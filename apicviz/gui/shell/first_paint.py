"""Launch timing for the benchmarks: report when the window was first painted, then quit.

Used only when ``APICVIZ_BENCH_LAUNCH_T0`` is set (see ``launch``), so the
benchmark can time exec-to-pixels of the real program, start-up imports
included, without a person watching.
"""
from __future__ import annotations

import sys
import time

from PySide6.QtCore import QEvent, QObject, QTimer
from PySide6.QtWidgets import QApplication, QWidget


class _FirstPaint(QObject):
    """Event filter: after the window's first paint has been flushed, print the elapsed time and quit."""

    def __init__(self, window: QWidget, launched_at: float) -> None:
        super().__init__(window)
        self.launched_at = launched_at
        self.seen = False

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if not self.seen and event.type() == QEvent.Type.Paint:
            self.seen = True
            # The zero timer runs once the paint of every child widget has been flushed.
            QTimer.singleShot(0, self._report)
        return False

    def _report(self) -> None:
        print(f"first-paint {time.time() - self.launched_at:.3f}", file=sys.stderr, flush=True)
        QApplication.quit()


def quit_after_first_paint(window: QWidget, launched_at: float) -> None:
    window.installEventFilter(_FirstPaint(window, launched_at))
