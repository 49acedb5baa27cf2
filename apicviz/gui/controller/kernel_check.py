"""KVM > Check on another kernel…: the host check inside a throwaway VM of another kernel, off the GUI thread.

``apicviz.kernelvm.remote_probe.probe_on_kernel`` boots the kernel with
virtme-ng and runs ``apicviz probe --json`` inside (20-60 s here, TCG
included). The worker probes a file holding the snapshot of the scenario it
was given (the window's scenario may be unsaved or edited meanwhile); its
answer is compared with that snapshot's evaluation, and the controller shows
it only while the scenario is still that snapshot. Cancel kills the guest
(``probe_on_kernel``'s ``cancelled``); closing the window cancels and waits a
moment. As with the host check, the worker never touches Qt: a poll timer
reports the elapsed time and collects the answer.
"""
from __future__ import annotations

import contextlib
import os
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject, QTimer, Signal

from ...host.host_info import HostInfo
from ...host.probe_text import config_notes
from ...model import Evaluation
from ...model.scenario_file import scenario_to_text
from ..viewmodels.host_verdict import HostVerdict, build_verdict
from .workers import Worker

#: A guest that has not answered by then is killed (the CLI's default).
TIMEOUT_S = 240.0
POLL_MS = 100
SHUTDOWN_WAIT_S = 5.0

ProbeOnKernel = Callable[..., tuple[list[dict[str, Any]], dict[str, Any]]]

if TYPE_CHECKING:  # kernelvm (subprocess, tarfile...) is imported when a run starts, not with the window
    from ...kernelvm.remote_probe import KernelChoice


@dataclass(frozen=True)
class KernelFailure:
    """Why a run on another kernel gave no answer: KernelVmError's code, message, fix and console tail."""

    cause: str
    message: str
    fix: str = ""
    console: str = ""


def verdict_from_json(probe: dict[str, Any], evaluation: Evaluation) -> HostVerdict:
    """The answer of a kernel booted in a VM, as the window shows it."""
    host = probe.get("host") or {}
    vm = probe.get("vm") or {}
    release = str(host.get("release") or vm.get("release") or "?")
    kernel = host.get("kernel")
    info = HostInfo(release, kernel, host.get("behaviour"), bool(host.get("vector_hashing", True)), "",
                    bool(host.get("smm", True)), "", int(host.get("max_vcpu_id") or 0), 0, 0)
    model = f"model kernel {kernel} ({info.behaviour})" if kernel else "no model kernel"
    how = f"{vm.get('accel', '?')}, {vm.get('seconds', '?')} s" if vm else ""
    header = (f"Linux {release} booted in a throwaway VM ({how}) → {model}; kvm.vector_hashing "
              f"{'on' if info.vector_hashing else 'off'}; SMM {'on' if info.smm else 'off'}"
              + (f"; image {vm['image']}" if vm.get("image") else ""))
    notes = [] if probe.get("skipped") or not kernel else config_notes(evaluation.scenario, info)
    return build_verdict(probe, evaluation, source="kernel", label=f"Linux {release} (VM)",
                         short=f"Linux {kernel or release} (VM)", header=header, notes=notes)


@dataclass
class _Job:
    choice: KernelChoice
    evaluation: Evaluation
    run_fn: ProbeOnKernel
    cancel: threading.Event = field(default_factory=threading.Event)
    done: threading.Event = field(default_factory=threading.Event)
    verdict: HostVerdict | None = None
    failure: KernelFailure | None = None
    started: float = field(default_factory=time.monotonic)
    worker: Worker | None = None

    def run(self) -> None:
        from ...kernelvm.errors import KernelVmError

        path = ""
        try:
            fd, path = tempfile.mkstemp(prefix="apicviz-kernel-check-", suffix=".apicviz.json")
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                f.write(scenario_to_text(self.evaluation.scenario))
            lines, _vm = self.run_fn(self.choice, [path], timeout=TIMEOUT_S, cancelled=self.cancel.is_set)
            self.verdict = verdict_from_json(lines[0], self.evaluation)
        except KernelVmError as exc:
            self.failure = KernelFailure(exc.cause, exc.message, exc.fix, exc.console)
        except Exception as exc:  # noqa: BLE001 - shown in the dialog, never a traceback from a worker
            self.failure = KernelFailure("failed", f"{type(exc).__name__}: {exc}")
        finally:
            if path:
                with contextlib.suppress(OSError):
                    os.unlink(path)
            self.done.set()


def _probe_on_kernel(*args: Any, **kwargs: Any) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    from ...kernelvm.remote_probe import probe_on_kernel

    return probe_on_kernel(*args, **kwargs)


class KernelCheckRunner(QObject):
    """One run on another kernel at a time; cancellable; quiet once the window closes."""

    #: Seconds since the run started (while it runs).
    elapsed = Signal(float)
    #: The answer (a HostVerdict for the snapshot that was probed).
    finished = Signal(object)
    #: A KernelFailure (including a cancelled run: cause "cancelled").
    failed = Signal(object)

    def __init__(self, parent: QObject | None = None, run_fn: ProbeOnKernel | None = None) -> None:
        super().__init__(parent)
        self.run_fn: ProbeOnKernel = run_fn or _probe_on_kernel
        self._job: _Job | None = None
        self._closed = False
        self._poll = QTimer(self)
        self._poll.setInterval(POLL_MS)
        self._poll.timeout.connect(self._collect)

    @property
    def busy(self) -> bool:
        return self._job is not None

    def start(self, choice: KernelChoice, evaluation: Evaluation) -> bool:
        """Boot ``choice`` and probe ``evaluation``'s scenario there; False while another run is out."""
        if self._job is not None or self._closed:
            return False
        job = _Job(choice, evaluation, self.run_fn)
        job.worker = Worker(job.run, "apicviz-kernel-check")
        self._job = job
        job.worker.start()
        self._poll.start()
        return True

    def cancel(self) -> None:
        """Kill the guest; ``failed`` follows with cause "cancelled"."""
        if self._job is not None:
            self._job.cancel.set()

    def wait(self, timeout: float) -> bool:
        """Block until the run ends and its signal is out (tests); True when it did."""
        job = self._job
        if job is None:
            return True
        if not job.done.wait(timeout):
            return False
        self._collect()
        return True

    def shutdown(self) -> None:
        self._closed = True
        self._poll.stop()
        job, self._job = self._job, None
        if job is not None:
            job.cancel.set()
            if job.worker is not None:
                job.worker.finished(SHUTDOWN_WAIT_S)

    def _collect(self) -> None:
        job = self._job
        if job is None:
            self._poll.stop()
            return
        if not job.done.is_set():
            self.elapsed.emit(time.monotonic() - job.started)
            return
        self._job = None
        self._poll.stop()
        if job.worker is not None:
            job.worker.finished()  # the collector may run again once no worker is out
        if self._closed:
            return
        if job.verdict is not None:
            self.finished.emit(job.verdict)
        else:
            self.failed.emit(job.failure or KernelFailure("failed", "no answer"))
