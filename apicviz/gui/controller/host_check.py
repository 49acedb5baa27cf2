"""The host check in the window: the probe on this machine's /dev/kvm, rerun after each edit while on.

Shaped like :class:`~.sweep_scheduler.SweepScheduler`: edits in quick
succession share one run (a debounce timer), the probe runs in a worker
thread on the evaluation's snapshot (never mutated: the controller edits
copy-on-write), and only the answer for the newest evaluation is published.
A job that is overtaken by an edit is cancelled (the probe checks between
batches) and the newest starts when it is gone. The worker never touches Qt:
a poll timer, running only while a job is out, collects its result and its
progress, so a window that closes mid-run receives nothing; ``shutdown``
cancels the job and waits briefly for the VM to be torn down.

Whether KVM can be used at all is asked once (``host_info()``) and kept: the
KVM menu disables the action with that reason.
"""
from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject, QTimer, Signal

from ...host.host_info import HostInfo, KvmUnavailable, host_info
from ...model import Evaluation
from ..viewmodels.host_verdict import HostVerdict, build_verdict
from .workers import Worker

#: Edits closer together than this share one probe (a small VM probes in ~10 ms, 1024 vCPUs in seconds).
DEBOUNCE_MS = 120
#: How often the window looks at a running worker (result and progress).
POLL_MS = 10
#: How long closing the window waits for a cancelled probe to tear its VM down.
SHUTDOWN_WAIT_S = 3.0

OFF, UNAVAILABLE, RUNNING, DONE, CANCELLED, FAILED = "off", "unavailable", "running", "done", "cancelled", "failed"

ProbeFn = Callable[..., "ProbeResult"]

if TYPE_CHECKING:  # the probe itself (ctypes, the VM builder) loads when a check first runs
    from ...host.probe import ProbeResult


def probe(scenario: Any, **kwargs: Any) -> ProbeResult:
    """apicviz.host.probe.probe, imported on first use."""
    from ...host.probe import probe as run_probe

    return run_probe(scenario, **kwargs)


@dataclass(frozen=True)
class HostStatus:
    """What the window shows about the host check."""

    state: str
    #: The newest verdict in (while RUNNING it may belong to an earlier edit: see ``fresh``).
    verdict: HostVerdict | None = None
    #: The verdict belongs to the newest evaluation.
    fresh: bool = False
    #: Why KVM cannot be used, why the run failed, or that it was cancelled.
    message: str = ""


def host_label(info: HostInfo) -> str:
    """'Linux 6.18.44' (the release without its local suffix; the tooltip has all of it)."""
    return f"Linux {info.release.split('-')[0]}"


def verdict_from_result(result: ProbeResult, evaluation: Evaluation) -> HostVerdict:
    """A ProbeResult of this host as the window shows it (built in the worker thread)."""
    from ...host.probe_text import config_notes

    info = result.host
    data = result.to_json("")
    data["seconds"] = round(result.seconds, 3)
    notes = [] if result.skipped else config_notes(evaluation.scenario, info)
    short = f"host {info.kernel}" if info.kernel else "host"
    return build_verdict(data, evaluation, source="host", label=host_label(info), short=short,
                         header=info.describe(), notes=notes)


@dataclass
class _Job:
    """One probe in a worker thread; the worker fills ``verdict`` or ``error`` and sets ``done``."""

    generation: int
    evaluation: Evaluation
    probe_fn: ProbeFn
    info: HostInfo | None
    cancel: threading.Event = field(default_factory=threading.Event)
    done: threading.Event = field(default_factory=threading.Event)
    #: (phase, done, total), written by the worker, read by the poll timer.
    progress: tuple[str, int, int] | None = None
    verdict: HostVerdict | None = None
    error: str = ""
    cancelled: bool = False
    started: float = field(default_factory=time.monotonic)
    worker: Worker | None = None

    def run(self) -> None:
        from ...host.probe import ProbeCancelled

        try:
            result = self.probe_fn(self.evaluation.scenario, progress=self._on_progress,
                                   cancelled=self.cancel.is_set, host=self.info)
            self.verdict = verdict_from_result(result, self.evaluation)
        except ProbeCancelled:
            self.cancelled = True
        except KvmUnavailable as exc:
            self.error = str(exc)
        except Exception as exc:  # noqa: BLE001 - a failed probe is shown in the chip, never a traceback
            self.error = f"the host check failed: {type(exc).__name__}: {exc}"
        finally:
            self.done.set()

    def _on_progress(self, phase: str, done: int, total: int) -> None:
        self.progress = (phase, done, total)


class HostCheckScheduler(QObject):
    """Runs the host check after edits while it is on; publishes the newest answer only."""

    #: The status changed (a verdict came in, a run started, failed, was cancelled, or the check went off).
    changed = Signal()
    #: A running probe's progress: phase ("build", "interrupts"), done, total, seconds since it started.
    progress = Signal(str, int, int, float)

    def __init__(self, parent: QObject | None = None, *, probe_fn: ProbeFn | None = None,
                 info_fn: Callable[[], HostInfo] | None = None, debounce_ms: int = DEBOUNCE_MS) -> None:
        super().__init__(parent)
        self.probe_fn: ProbeFn = probe_fn or probe
        self.info_fn = info_fn or host_info
        self._info: HostInfo | None = None
        self._unavailable: str | None = None
        self.enabled = False
        self.status = HostStatus(OFF)
        self._evaluation: Evaluation | None = None
        self._generation = 0
        self._job: _Job | None = None
        self._user_cancelled = False
        self._closed = False
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(debounce_ms)
        self._timer.timeout.connect(self._start)
        self._poll = QTimer(self)
        self._poll.setInterval(POLL_MS)
        self._poll.timeout.connect(self._collect)

    # ----- availability ----------------------------------------------------------------------

    def availability(self) -> tuple[HostInfo | None, str]:
        """(this host's KVM, '') or (None, why it cannot be used); asked once, then kept."""
        if self._info is None and self._unavailable is None:
            try:
                self._info = self.info_fn()
            except KvmUnavailable as exc:
                self._unavailable = str(exc)
            except OSError as exc:
                self._unavailable = f"cannot ask KVM: {exc.strerror or exc}"
        return self._info, self._unavailable or ""

    @property
    def busy(self) -> bool:
        """A worker is out (maybe for an evaluation that is no longer current)."""
        return self._job is not None

    # ----- driving -----------------------------------------------------------------------------

    def set_enabled(self, on: bool, evaluation: Evaluation) -> None:
        """Turn the check on (it runs for ``evaluation`` shortly) or off (a running probe is cancelled)."""
        if on == self.enabled:
            return
        if on:
            info, why = self.availability()
            if info is None:
                self._set_status(HostStatus(UNAVAILABLE, message=why))
                return
            self.enabled = True
            self._set_status(HostStatus(RUNNING))
            self.schedule(evaluation)
            return
        self.enabled = False
        self._timer.stop()
        if self._job is not None:
            self._job.cancel.set()
        self._set_status(HostStatus(OFF))

    def schedule(self, evaluation: Evaluation) -> None:
        """A new evaluation: while on, it is probed shortly; a run for an older one is cancelled."""
        self._evaluation = evaluation
        self._generation += 1
        if not self.enabled or self._closed:
            return
        self._user_cancelled = False
        if self._job is not None:
            self._job.cancel.set()  # stale from now on: let it stop at the next batch
        old = self.status
        if old.state != RUNNING or old.fresh:
            self._set_status(HostStatus(RUNNING, old.verdict, fresh=False))
        self._timer.start()

    def run_now(self) -> None:
        """Skip the debounce (tests, and pictures that must carry the verdict)."""
        if self.enabled and self._timer.isActive():
            self._timer.stop()
            self._start()

    def cancel(self) -> None:
        """The user cancels the running probe (Esc, Cancel): the check stays on and reruns after the next edit."""
        if not self.enabled or (self._job is None and not self._timer.isActive()):
            return
        self._timer.stop()
        self._user_cancelled = True
        if self._job is not None:
            self._job.cancel.set()
        else:
            self._set_status(HostStatus(CANCELLED, self.status.verdict, message="cancelled"))

    def wait(self, timeout: float = 30.0) -> bool:
        """Block until no probe is pending or running (pictures, the report, tests); True when settled."""
        deadline = time.monotonic() + timeout
        self.run_now()
        while self._job is not None or self._timer.isActive():
            job = self._job
            if job is not None:
                job.done.wait(max(0.0, min(0.05, deadline - time.monotonic())))
                self._collect()
            elif self._timer.isActive():
                self.run_now()
            if time.monotonic() > deadline:
                return False
        return True

    def shutdown(self) -> None:
        """The window closes: nothing more is started or emitted; a running probe is cancelled and awaited."""
        self._closed = True
        self._timer.stop()
        self._poll.stop()
        job, self._job = self._job, None
        if job is not None:
            job.cancel.set()
            if job.worker is not None:
                job.worker.finished(SHUTDOWN_WAIT_S)

    # ----- running -------------------------------------------------------------------------------

    def _start(self) -> None:
        ev = self._evaluation
        if self._closed or not self.enabled or ev is None:
            return
        if self._job is not None:
            return  # the stale job stops soon; _collect starts the newest
        job = _Job(self._generation, ev, self.probe_fn, self._info)
        job.worker = Worker(job.run, "apicviz-host-check")
        self._job = job
        job.worker.start()
        self._poll.start()

    def _collect(self) -> None:
        job = self._job
        if job is None:
            self._poll.stop()
            return
        if not job.done.is_set():
            if job.progress is not None:
                self.progress.emit(*job.progress, time.monotonic() - job.started)
            return
        self._job = None
        self._poll.stop()
        if job.worker is not None:
            job.worker.finished()  # the collector may run again once no worker is out
        if self._closed or not self.enabled:
            return
        current = job.generation == self._generation
        user_cancelled, self._user_cancelled = self._user_cancelled, False
        if job.cancelled and user_cancelled:
            self._set_status(HostStatus(CANCELLED, self.status.verdict, message="cancelled"))
        elif not current:
            if not self._timer.isActive():
                self._start()  # overtaken by an edit: probe the newest evaluation now
        elif job.error:
            self._set_status(HostStatus(FAILED, self.status.verdict, message=job.error))
        elif job.verdict is not None:
            self._set_status(HostStatus(DONE, job.verdict, fresh=True))

    def _set_status(self, status: HostStatus) -> None:
        self.status = status
        if not self._closed:
            self.changed.emit()
