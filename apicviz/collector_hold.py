"""Python's automatic cyclic collection, held off by whoever needs it off, and restored by the last one.

Two users, for two reasons: ``apicviz eval`` builds hundreds of thousands of
objects that reference counting frees on its own, which the collector would
rescan again and again (a third of the command's time at 4096 vCPUs); and the
window must never let a collection run in a worker thread (see
:mod:`apicviz.gui.controller.workers`). Holds nest and may come from several
threads; automatic collection comes back with the last release, and only if
it was on before the first hold. An explicit ``gc.collect()`` still works.
"""
from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager


class _CollectorHold:
    """Counts the holders; the first one turns automatic collection off, the last restores it."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.count = 0
        self._restore = False

    def hold(self) -> None:
        with self._lock:
            if self.count == 0:
                self._restore = gc.isenabled()
                gc.disable()
            self.count += 1

    def release(self) -> None:
        with self._lock:
            if self.count == 0:
                return
            self.count -= 1
            if self.count == 0 and self._restore:
                gc.enable()


_HOLD = _CollectorHold()


def hold_collector() -> None:
    """Automatic collection off until the matching :func:`release_collector` (calls nest)."""
    _HOLD.hold()


def release_collector() -> None:
    _HOLD.release()


def collector_held() -> bool:
    """Whether some caller holds the collector off now (tests)."""
    return _HOLD.count > 0


@contextmanager
def collector_held_off() -> Iterator[None]:
    """No automatic collection inside the block."""
    hold_collector()
    try:
        yield
    finally:
        release_collector()
