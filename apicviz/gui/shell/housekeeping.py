"""Python's cyclic garbage collector, moved off the path between an edit and its repaint.

A 4096-vCPU edit allocates tens of thousands of small objects (the sweep's
routes above all). CPython answers with full collections that scan every
object the window holds (Qt wrappers, the scenario, both evaluations, the
sweep): 100-300 ms on this kind of machine, at a random moment, often in the
middle of the next edit or inside the sweep's worker thread, which then holds
the interpreter lock and stalls the window.

So the objects that live as long as the window are frozen once (a full
collection never scans them again), automatic full collections are turned
off, and one full collection runs when the user pauses: a moment after the
last edit, or, while edits keep coming, once every :data:`MAX_INTERVAL_MS`
just after a sweep has been shown. Young-generation collections stay automatic; they are short.
Nothing is skipped: reference counting frees almost everything at once, and
the rare cycles are collected at the next pause.
"""
from __future__ import annotations

import gc
import time

from PySide6.QtCore import QObject, QTimer

#: A full collection runs this long after the last edit ...
IDLE_MS = 1500
#: ... or after this long of continuous editing.
MAX_INTERVAL_MS = 30_000
#: Young collections every 5000 new objects instead of 700: fewer, still short.
YOUNG_THRESHOLD = 5000
#: gen1 collections before a full one is even considered: never, we collect at pauses.
NO_AUTOMATIC_FULL = 1 << 30


class IdleCollector(QObject):
    """Owns the collector policy of the running app (one per application)."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.collections = 0
        self._last = time.monotonic()
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(IDLE_MS)
        self._timer.timeout.connect(self.collect)
        gc.collect()
        gc.freeze()  # modules, Qt wrappers and the first scenario: out of every later full scan
        _, middle, _ = gc.get_threshold()
        gc.set_threshold(YOUNG_THRESHOLD, middle, NO_AUTOMATIC_FULL)

    def activity(self, *_args: object) -> None:
        """An edit allocated a lot: collect at the next pause."""
        self._timer.start()

    def settled(self, *_args: object) -> None:
        """The sweep of an edit is shown: the moment for an overdue collection, else wait for a pause."""
        if (time.monotonic() - self._last) * 1000 >= MAX_INTERVAL_MS:
            self.collect()
        else:
            self._timer.start()

    def collect(self) -> None:
        self._timer.stop()
        gc.collect()
        self.collections += 1
        self._last = time.monotonic()


def install_idle_gc(controller: QObject) -> IdleCollector:
    """Collect garbage when the user pauses, not while the window answers an edit."""
    collector = IdleCollector(controller)
    for signal in ("result_changed", "scenario_replaced"):
        getattr(controller, signal).connect(collector.activity)
    controller.sweep_changed.connect(collector.settled)  # type: ignore[attr-defined]
    return collector
