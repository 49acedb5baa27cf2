"""When the destination sweep runs: a moment after the last edit, big VMs in a worker thread.

The sweep routes every destination of the VM (tens of ms at 4096 vCPUs), so
it must never sit between an edit and its repaint. Edits in quick succession
are coalesced by a short timer; a VM of :data:`BACKGROUND_SWEEP_VCPUS` or more
sweeps in a thread. The thread works on the evaluation it was given, which the
controller never mutates (it edits copy-on-write), so it needs no copy.

Only the sweep of the newest evaluation is published: a job that finishes
after a newer edit is dropped and the newest one starts. The worker never
touches Qt; the window collects its result with a short poll timer that runs
only while a job is out, so closing the window while a sweep runs cannot
emit into a deleted object.
"""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

from PySide6.QtCore import QObject, QTimer, Signal
from shiboken6 import isValid

from ...model import Evaluation
from ...model.sweep import SweepResult, sweep

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
    result: SweepResult | None = None
    thread: threading.Thread | None = None
    #: Wall time of the sweep in the worker (the benchmark reports it).
    seconds: float = 0.0

    def run(self) -> None:
        try:
            start = time.perf_counter()
            result = sweep(self.evaluation)
            result.by_severity()  # tally the rows' classes here, not in the window when it lands
            self.seconds = time.perf_counter() - start
            self.result = result
        except Exception:  # noqa: BLE001 - a background failure must not escape; the sweep stays stale
            self.result = None
        finally:
            self.done.set()


class SweepScheduler(QObject):
    """Coalesces sweeps after edits, runs big ones in the background, drops stale results."""

    #: The sweep of the newest evaluation (a SweepResult).
    finished = Signal(object)

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
        if not self._closed:
            self._timer.start()

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
        if job is not None and job.thread is not None:
            job.thread.join(wait_s)

    # ----- running ---------------------------------------------------------------------------

    def _start(self) -> None:
        ev = self._evaluation
        if self._closed or ev is None or self.fresh:
            return
        if len(ev.scenario.vcpus) < self.background_from:
            self._publish(sweep(ev), self._generation)
            return
        if self._job is not None:
            return  # one worker at a time; the newest evaluation starts when it is done
        job = _Job(self._generation, ev)
        job.thread = threading.Thread(target=job.run, name="apicviz-sweep", daemon=True)
        self._job = job
        job.thread.start()
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
        if job.generation == self._generation and job.result is not None:
            self.worker_seconds = job.seconds
            self._publish(job.result, job.generation)
        elif not self.fresh:
            self._start()  # stale (or failed): sweep the newest evaluation now

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
