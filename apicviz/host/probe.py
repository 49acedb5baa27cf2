"""The host check: run a scenario on this machine's KVM and compare with the model for this kernel.

API (Qt-free; a GUI worker thread calls it as is)::

    result = probe(scenario, sweep=False, progress=None, cancelled=None)

* ``scenario`` — a validated :class:`~apicviz.model.scenario.Scenario`; it is
  not modified.
* ``progress(phase, done, total)`` — optional, called from the calling
  thread: phase ``"build"``, ``"interrupts"`` or ``"sweep"``.
* ``cancelled()`` — optional; checked between batches; when it returns true
  :class:`ProbeCancelled` is raised and the VM is torn down.
* Raises :class:`KvmUnavailable` when ``/dev/kvm`` cannot be used at all;
  everything else — a scenario the host cannot build, an interrupt it cannot
  express — is a skip *in* the result, with a code and the reason in words.

The returned :class:`ProbeResult` holds the host (:class:`HostInfo`), one
:class:`InterruptCheck` per interrupt (``host_accepted``, ``model_accepted``
as vCPU ids in creation order, ``agree``, or ``skip_code``/``skip_reason``),
the model evaluation used for the comparison, and ``to_json(file)`` in the
"Host check" shape of FORMAT.md.

The model side is the scenario retargeted to the host: ``kvm.kernel``,
``vector_hashing`` and ``smm`` are the host's, whatever the scenario says
(its kernel is reported beside). The VM is built once and every batch of
interrupts is undone before the next, so each interrupt sees the scenario as
written.
"""
from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..model.analysis import Evaluation, evaluate
from ..model.errors import ScenarioError
from ..model.scenario import Interrupt, Scenario, check_scenario
from . import batch
from .batch import ProbeCancelled
from .deliver import Message
from .host_info import HostInfo, KvmUnavailable, host_info, open_kvm
from .skips import interrupt_skip, scenario_skip
from .vm import BuildError, build_vm, verify_unchanged

PROBE_FORMAT = "apicviz-probe"
Progress = Callable[[str, int, int], None]

__all__ = ["InterruptCheck", "KvmUnavailable", "ProbeCancelled", "ProbeResult", "host_scenario", "probe"]


@dataclass
class InterruptCheck:
    """One interrupt on the host and in the model (vCPU ids), or why it was not compared."""

    index: int
    host_accepted: list[int] | None = None
    model_accepted: list[int] | None = None
    skip_code: str | None = None
    skip_reason: str | None = None

    @property
    def skipped(self) -> bool:
        return self.skip_code is not None

    @property
    def agree(self) -> bool | None:
        if self.skipped:
            return None
        return self.host_accepted == self.model_accepted

    def to_json(self) -> dict[str, Any]:
        if self.skipped:
            return {"skipped": self.skip_reason}
        return {"host_accepted": self.host_accepted, "model_accepted": self.model_accepted, "agree": self.agree}


@dataclass
class ProbeResult:
    host: HostInfo
    scenario_kernel: str
    interrupts: list[InterruptCheck] = field(default_factory=list)
    skip_code: str | None = None
    skipped: str | None = None
    #: The model evaluation compared with the host (None when the scenario was skipped before it).
    model: Evaluation | None = None
    sweep: Any = None  # SweepCheck when asked for
    seconds: float = 0.0

    @property
    def compared(self) -> int:
        return sum(1 for c in self.interrupts if not c.skipped)

    @property
    def disagreeing(self) -> list[InterruptCheck]:
        return [c for c in self.interrupts if c.agree is False]

    @property
    def skipped_interrupts(self) -> list[InterruptCheck]:
        return [c for c in self.interrupts if c.skipped]

    @property
    def agree(self) -> bool:
        if self.disagreeing:
            return False
        return self.sweep is None or self.sweep.agree

    def to_json(self, file: str) -> dict[str, Any]:
        out: dict[str, Any] = {
            "format": PROBE_FORMAT,
            "version": 1,
            "file": file,
            "host": self.host.to_json(),
            "scenario_kernel": self.scenario_kernel,
            "skipped": self.skipped,
            "interrupts": [c.to_json() for c in self.interrupts],
            "agree": self.agree,
        }
        if self.sweep is not None:
            out["sweep"] = self.sweep.to_json()
        return out


def host_scenario(scenario: Scenario, host: HostInfo) -> Scenario:
    """The scenario as the model must see it to describe this host (kernel, vector hashing, SMM)."""
    assert host.kernel is not None
    copy = scenario.copy()
    copy.kvm.kernel = host.kernel
    copy.kvm.vector_hashing = host.vector_hashing
    copy.kvm.smm = host.smm
    return copy


def _xapic_stub_sources(scenario: Scenario, wanted: list[int]) -> set[int]:
    by_id = scenario.vcpu_by_id()
    out = set()
    for i in wanted:
        src = scenario.interrupts[i].source
        if src is not None and not by_id[src].x2apic_mode:
            out.add(src)
    return out


def probe(scenario: Scenario, *, sweep: bool = False, progress: Progress | None = None,
          cancelled: Callable[[], bool] | None = None, host: HostInfo | None = None) -> ProbeResult:
    """Build ``scenario`` on /dev/kvm, deliver every interrupt, compare with the model (see module doc)."""
    started = time.perf_counter()
    kvm_fd = open_kvm()
    try:
        info = host if host is not None else host_info(kvm_fd)
        result = ProbeResult(info, scenario.kvm.kernel)
        _probe(kvm_fd, scenario, result, sweep, progress, cancelled)
    finally:
        os.close(kvm_fd)
    result.seconds = time.perf_counter() - started
    return result


def _probe(kvm_fd: int, scenario: Scenario, result: ProbeResult, want_sweep: bool,
           progress: Progress | None, cancelled: Callable[[], bool] | None) -> None:
    info = result.host
    skip = scenario_skip(scenario, info)
    if skip is None:
        try:
            target = host_scenario(scenario, info)
            check_scenario(target)
        except ScenarioError as exc:
            skip = ("model_invalid", f"the scenario is not valid for the host's kernel {info.kernel}: {exc}")
    if skip is not None:
        result.skip_code, result.skipped = skip
        return
    ev = evaluate(target)
    result.model = ev
    ids = [v.id for v in scenario.vcpus]
    index_of = {v.id: i for i, v in enumerate(scenario.vcpus)}
    checks = [InterruptCheck(i) for i in range(len(scenario.interrupts))]
    result.interrupts = checks
    wanted: list[int] = []
    for i, irq in enumerate(scenario.interrupts):
        reason = interrupt_skip(scenario, irq, info)
        if reason is not None:
            checks[i].skip_code, checks[i].skip_reason = reason
        else:
            checks[i].model_accepted = ev.ids(ev.routes[i].accepted)
            wanted.append(i)
    sweep_plan = None
    stub_sources = _xapic_stub_sources(scenario, wanted)
    if want_sweep:
        from .sweep_probe import plan_sweep

        sweep_plan = plan_sweep(ev, info)
        stub_sources |= sweep_plan.stub_sources
    if progress is not None:
        progress("build", 0, len(scenario.vcpus))
    try:
        vm = build_vm(kvm_fd, scenario, stub_sources, info.max_vcpu_id)
    except BuildError as exc:
        result.skip_code, result.skipped = "build_failed", f"this host could not build the VM: {exc}"
        result.interrupts = []
        return
    with vm:
        if progress is not None:
            progress("build", len(scenario.vcpus), len(scenario.vcpus))
        messages = [_message(scenario.interrupts[i], index_of, scenario) for i in wanted]
        step = None if progress is None else (lambda done, total: progress("interrupts", done, total))
        weights = [len(checks[i].model_accepted or []) for i in wanted]
        outcomes = batch.run(vm, messages, not info.vector_hashing, step, cancelled, weights)
        for i, outcome in zip(wanted, outcomes, strict=False):
            if outcome.accepted is None:
                checks[i].skip_code, checks[i].skip_reason = "unobservable", outcome.problem
                checks[i].model_accepted = None
            else:
                checks[i].host_accepted = [ids[k] for k in outcome.accepted]
        if sweep_plan is not None:
            step = None if progress is None else (lambda done, total: progress("sweep", done, total))
            result.sweep = sweep_plan.run(vm, step, cancelled)
        drift = verify_unchanged(vm)
        if drift:
            result.skip_code = "state_drift"
            result.skipped = ("the VM's APIC registers changed while probing (" + "; ".join(drift[:3])
                              + "): the results are discarded")
            result.interrupts = []
            result.sweep = None


def _message(irq: Interrupt, index_of: dict[int, int], scenario: Scenario) -> Message:
    if irq.source is None:
        return Message.from_interrupt(irq, None, False)
    k = index_of[irq.source]
    return Message.from_interrupt(irq, k, scenario.vcpus[k].x2apic_mode)
