"""When the destination sweep runs: a moment after the last edit, big VMs in a worker thread.

The sweep routes every destination of the VM (tens of ms at 4096 vCPUs), so
it must never sit between an edit and its repaint. Edits in quick succession
are coalesced by a short timer; a VM of :data:`BACKGROUND_SWEEP_VCPUS` or more
sweeps in a thread. The thread works on the evaluation it was given, which the
controller never mutates (it edits copy-on-write), so it needs no copy.

Only the sweep of the newest evaluation is published: a newer edit stops a
running job at its next look (a job that finishes anyway is dropped) and the
newest one starts. The worker never touches Qt; the window collects its
result with a short poll timer that runs only while a job is out, so closing
the window while a sweep runs cannot emit into a deleted object.
"""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

from PySide6.QtCore import QObject, QTimer, Signal
from shiboken6 import isValid

from ...model import Evaluation
from ...model.sweep import SweepCancelled, SweepResult, sweep
from .workers import Worker

#: From this many vCPUs on, the sweep runs in a worker thread.
BACKGROUND_SWEEP_VCPUS = 512
#: Edits closer together than this share one sweep.
COALESCE_MS = 30
#: How often the window looks for a finished worker while one runs.
POLL_MS = 4
#: How long closing the window waits for a running worker.
SHUTDOWN_WAIT_S = 5.0


@dataclass
class _Job:
    """One sweep handed to a worker thread; the worker fills ``result`` and sets ``done``."""

    generation: int
    evaluation: Evaluation
    done: threading.Event = field(default_factory=threading.Event)
    #: Set when a newer edit makes this sweep stale: the worker stops at its next look.
    cancel: threading.Event = field(default_factory=threading.Event)
    result: SweepResult | None = None
    worker: Worker | None = None
    #: Wall time of the sweep in the worker (the benchmark reports it).
    seconds: float = 0.0
    #: Why the sweep failed ("TypeError: ..."), when it raised.
    error: str | None = None

    def run(self) -> None:
        try:
            start = time.perf_counter()
            result = sweep(self.evaluation, self.cancel.is_set)
            result.by_severity()  # tally the rows' classes here, not in the window when it lands
            self.seconds = time.perf_counter() - start
            self.result = result
        except SweepCancelled:
            self.result = None  # stale: the newest evaluation is swept next
        except Exception as exc:  # noqa: BLE001 - a background failure must not escape; the sweep stays stale
            self.result = None
            self.error = f"{type(exc).__name__}: {exc}"
        finally:
            self.done.set()


class SweepScheduler(QObject):
    """Coalesces sweeps after edits, runs big ones in the background, drops stale results."""

    #: The sweep of the newest evaluation (a SweepResult).
    finished = Signal(object)
    #: The sweep of the newest evaluation raised (the reason); the next edit tries again.
    failed = Signal(str)

    def __init__(self, parent: QObject | None = None, background_from: int = BACKGROUND_SWEEP_VCPUS) -> None:
        super().__init__(parent)
        self.background_from = background_from
        self.result: SweepResult | None = None
        #: The result belongs to the newest evaluation.
        self.fresh = False
        self._evaluation: Evaluation | None = None
        self._generation = 0
        self._job: _Job | None = None
        #: Wall time in the worker of the last sweep shown (None until one ran in a worker).
        self.worker_seconds: float | None = None
        self._closed = False
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(COALESCE_MS)
        self._timer.timeout.connect(self._start)
        self._poll = QTimer(self)
        self._poll.setInterval(POLL_MS)
        self._poll.timeout.connect(self._collect)

    def set_delay(self, ms: int) -> None:
        """How long after an edit the sweep starts (benchmarks hold it back to time the repaint alone)."""
        self._timer.setInterval(ms)

    @property
    def busy(self) -> bool:
        """A worker thread is still sweeping (maybe for an evaluation that is no longer current)."""
        return self._job is not None

    @property
    def pending(self) -> bool:
        """The newest evaluation has no sweep yet."""
        return not self.fresh

    def schedule(self, evaluation: Evaluation) -> None:
        """A new evaluation: its sweep follows shortly (the previous result is stale from now on)."""
        self._evaluation = evaluation
        self._generation += 1
        self.fresh = False
        self.stop_running()
        if not self._closed:
            self._timer.start()

    def stop_running(self) -> None:
        """An edit is on its way: a running worker's result would be dropped, so it stops at its next look.

        Called before the edit is evaluated, so the evaluation and the repaint get the interpreter to
        themselves instead of sharing its lock with a sweep, each at half speed.
        """
        if self._job is not None:
            self._job.cancel.set()

    def ensure(self) -> SweepResult:
        """The sweep of the newest evaluation, computed here and now if it is not in yet."""
        if self.result is None or not self.fresh:
            self._timer.stop()
            assert self._evaluation is not None, "nothing scheduled yet"
            self.result = sweep(self._evaluation)
            self.fresh = True
            if not self._closed:
                self._emit(self.result)
        return self.result

    def shutdown(self, wait_s: float = SHUTDOWN_WAIT_S) -> None:
        """The window closes: stop the timers and wait for a running worker (a sweep takes tens of ms).

        The worker touches no Qt object, so even one that outlives ``wait_s``
        cannot emit into the deleted window; it only finishes unobserved.
        """
        self._closed = True
        self._timer.stop()
        self._poll.stop()
        job, self._job = self._job, None
        if job is not None and job.worker is not None:
            job.worker.finished(wait_s)

    # ----- running ---------------------------------------------------------------------------

    def _start(self) -> None:
        ev = self._evaluation
        if self._closed or ev is None or self.fresh:
            return
        if len(ev.scenario.vcpus) < self.background_from:
            try:
                result = sweep(ev)
            except Exception as exc:  # noqa: BLE001 - as in the worker: say so, never a traceback
                self.failed.emit(f"{type(exc).__name__}: {exc}")
                return
            self._publish(result, self._generation)
            return
        if self._job is not None:
            return  # one worker at a time; the newest evaluation starts when it is done
        job = _Job(self._generation, ev)
        job.worker = Worker(job.run, "apicviz-sweep")
        self._job = job
        job.worker.start()
        self._poll.start()

    def _collect(self) -> None:
        job = self._job
        if job is None:
            self._poll.stop()
            return
        if not job.done.is_set():
            return
        self._job = None
        self._poll.stop()
        if job.worker is not None:
            job.worker.finished()  # the collector may run again once no worker is out
        if job.generation == self._generation and job.result is not None:
            self.worker_seconds = job.seconds
            self._publish(job.result, job.generation)
        elif job.error is not None and job.generation == self._generation:
            if isValid(self):
                self.failed.emit(job.error)  # not retried: the same evaluation would fail the same way
        else:
            self._start()  # stale (stopped or finished), or stopped for an edit that never came: sweep now

    def _publish(self, result: SweepResult, generation: int) -> None:
        if generation != self._generation or self._closed:
            return
        self.result = result
        self.fresh = True
        self._emit(result)

    def _emit(self, result: SweepResult) -> None:
        # A sweep in this thread runs Python for a while; a window dropped meanwhile (its last reference
        # collected) takes this object's Qt half with it. Then there is nobody left to tell.
        if isValid(self):
            self.finished.emit(result)
