"""Python's cyclic garbage collector, held off while a one-shot command works on one file.

An evaluation of a 4096-vCPU VM with its sweep is a few hundred thousand
small objects, none of them in a reference cycle: reference counting frees
each as soon as it is dropped. The cyclic collector would still rescan them
every few hundred allocations, which was a third of ``apicviz eval --json``'s
time. Between files one collection runs, so a cycle left by one file never
outlives the next.
"""
from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def collector_held_off() -> Iterator[None]:
    """No automatic cyclic collection inside the block; the previous setting comes back after it."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def between_files() -> None:
    """Collect what one file's work left in cycles before the next file starts."""
    gc.collect()
