"""Worker threads during which Python's cyclic collector never runs on its own.

A collection runs in whichever thread allocates when a threshold is
crossed. If that is a worker, and the collection frees a cycle that holds a
Qt wrapper (a closed dialog, a dropped window), the QObject is destroyed in
the worker: it takes a Qt lock, then waits for the interpreter lock. The main
thread, destroying objects of its own, holds the interpreter lock and waits
for that Qt lock. The window is frozen for good; the test suite caught
exactly this, with a sweep worker and a deleted QAction.

So while any worker is out, automatic collection is off. It comes back when
the last worker has been collected on the main thread, and only if it was on
before. An explicit ``gc.collect()`` on the main thread (the app's idle
collector) still works meanwhile.
"""
from __future__ import annotations

import threading
from collections.abc import Callable

from ...collector_hold import hold_collector, release_collector

#: How long collecting a finished worker waits for its thread to end (it has set ``done`` already).
JOIN_S = 1.0


class Worker:
    """A daemon thread that holds the collector off from :meth:`start` until :meth:`finished` saw it end."""

    def __init__(self, target: Callable[[], object], name: str) -> None:
        self.thread = threading.Thread(target=target, name=name, daemon=True)
        self._holding = False

    def start(self) -> None:
        hold_collector()
        self._holding = True
        self.thread.start()

    def finished(self, wait_s: float = JOIN_S) -> bool:
        """On the main thread, once the job is done or abandoned: let go when the thread has ended.

        A thread still running after ``wait_s`` (one that ignored its cancel at shutdown) keeps its
        hold: collecting while it could still free objects is the hazard this module exists for.
        """
        self.thread.join(wait_s)
        if self._holding and not self.thread.is_alive():
            self._holding = False
            release_collector()
        return not self.thread.is_alive()
