"""Python's cyclic garbage collector, moved off the path between an edit and its repaint.

A 4096-vCPU edit allocates tens of thousands of small objects (the sweep's
routes above all). CPython answers with full collections that scan every
object the window holds (Qt wrappers, the scenario, both evaluations, the
sweep): 100-300 ms on this kind of machine, at a random moment, often in the
middle of the next edit or inside the sweep's worker thread, which then holds
the interpreter lock and stalls the window.

So the objects that live as long as the window are frozen once (a full
collection never scans them again), and one full collection runs when the
user pauses: a moment after the last edit, or, while edits keep coming, once
every :data:`MAX_INTERVAL_MS` just after a sweep has been shown.

No collection runs on its own at all: the app holds automatic collection off
for good (:mod:`..controller.workers` says why a collection must never run
in a worker thread), and young-generation collections, which are short, run
from a timer on the main thread when enough new objects have piled up.
Nothing is skipped: reference counting frees almost everything at once, and
the rare cycles are collected at the next young collection or pause.
"""
from __future__ import annotations

import gc
import time

from PySide6.QtCore import QObject, QTimer

from ...collector_hold import hold_collector, release_collector

#: A full collection runs this long after the last edit ...
IDLE_MS = 1500
#: ... or after this long of continuous editing.
MAX_INTERVAL_MS = 30_000
#: A young collection once 5000 new objects are tracked (Python's own default is 700): fewer, still short.
YOUNG_THRESHOLD = 5000
#: How often the main thread looks whether a young collection is due.
YOUNG_POLL_MS = 250
#: Young collections before the middle generation is collected too (as Python's default threshold).
MIDDLE_EVERY = 10


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
        hold_collector()  # for good: from now on every collection runs here, on the main thread
        self._holding = True
        self._young = QTimer(self)
        self._young.setInterval(YOUNG_POLL_MS)
        self._young.timeout.connect(self.collect_young)
        self._young.start()
        self.young_collections = 0

    def stop(self) -> None:
        """The policy ends (the app quits; tests): the timers stop and automatic collection may come back."""
        self._timer.stop()
        self._young.stop()
        if self._holding:
            self._holding = False
            release_collector()

    def collect_young(self) -> None:
        """A young (and now and then middle) collection, when enough new objects are tracked."""
        young, middle, _ = gc.get_count()
        if young >= YOUNG_THRESHOLD:
            gc.collect(1 if middle >= MIDDLE_EVERY else 0)
            self.young_collections += 1

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
