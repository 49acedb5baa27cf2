"""``--sweep`` on the host: every destination of the model's sweep, sent for real.

The model's sweep (:func:`apicviz.model.sweep.sweep_destinations`) names each
destination once for a group of senders that should behave alike; the host
check does not assume that and sends each destination from every sender of
its group: as an MSI and as an IPI from the sweep's xAPIC and x2APIC vCPU.
Messages are fixed delivery, so the vector does not route them: each message
of a batch gets its own vector (0x20–0xfe) and every vCPU is read once per
batch of 223 messages.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..model.analysis import Evaluation
from ..model.numbers import fmt_id
from ..model.scenario import Interrupt
from ..model.sweep import SENDER_TEXT, sweep_destinations, sweep_senders
from . import batch
from .deliver import Message
from .host_info import HostInfo
from .vm import HostVm

FIRST_VECTOR, LAST_VECTOR = 0x20, 0xFE
SHOWN_DISAGREEMENTS = 20


@dataclass
class SweepEntry:
    """One destination from one sender: host and model accepted vCPU ids."""

    dest_mode: str
    dest: int
    sender: str
    count: int
    host_accepted: list[int] | None
    model_accepted: list[int]
    problem: str = ""

    @property
    def agree(self) -> bool | None:
        return None if self.host_accepted is None else self.host_accepted == self.model_accepted

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"dest_mode": self.dest_mode, "dest": self.dest, "sender": self.sender}
        if self.count != 1:
            out["count"] = self.count
        if self.host_accepted is None:
            out["skipped"] = self.problem
        else:
            out.update(host_accepted=self.host_accepted, model_accepted=self.model_accepted, agree=self.agree)
        return out


@dataclass
class SweepCheck:
    entries: list[SweepEntry] = field(default_factory=list)

    @property
    def compared(self) -> int:
        return sum(1 for e in self.entries if e.agree is not None)

    @property
    def disagreeing(self) -> list[SweepEntry]:
        return [e for e in self.entries if e.agree is False]

    @property
    def agree(self) -> bool:
        return not self.disagreeing

    def to_json(self) -> dict[str, Any]:
        return {"compared": self.compared, "skipped": len(self.entries) - self.compared,
                "agree": self.agree, "destinations": [e.to_json() for e in self.entries]}

    def text_lines(self) -> list[str]:
        from .probe_text import bracketed_ids

        bad = self.disagreeing
        lines = [f"  sweep: {self.compared} destinations × senders sent on the host, "
                 f"{self.compared - len(bad)} agree, {len(bad)} disagree"
                 + (f", {len(self.entries) - self.compared} not readable" if len(self.entries) > self.compared
                    else "")]
        lines.extend(f"    ≠ {e.dest_mode} {fmt_id(e.dest)} ({SENDER_TEXT[e.sender]}): "
                     f"host {bracketed_ids(e.host_accepted or [])}, model {bracketed_ids(e.model_accepted)}"
                     for e in bad[:SHOWN_DISAGREEMENTS])
        if len(bad) > SHOWN_DISAGREEMENTS:
            lines.append(f"    … and {len(bad) - SHOWN_DISAGREEMENTS} more")
        return lines


@dataclass
class SweepPlan:
    """The sweep's messages with the model's answers, ready to send on a built VM."""

    entries: list[SweepEntry]
    messages: list[Message]
    stub_sources: set[int]
    arb_prio_matters: bool

    def run(self, vm: HostVm, progress: Callable[[int, int], None] | None,
            cancelled: Callable[[], bool] | None) -> SweepCheck:
        ids = [hv.vcpu.id for hv in vm.vcpus]
        weights = [len(e.model_accepted) for e in self.entries]
        outcomes = batch.run(vm, self.messages, self.arb_prio_matters, progress, cancelled, weights)
        for entry, outcome in zip(self.entries, outcomes, strict=False):
            if outcome.accepted is None:
                entry.problem = outcome.problem
            else:
                entry.host_accepted = [ids[k] for k in outcome.accepted]
        return SweepCheck(self.entries)


def plan_sweep(ev: Evaluation, host: HostInfo) -> SweepPlan:
    """Every (destination, sender) of the model's sweep of ``ev`` (the host-model evaluation)."""
    senders = sweep_senders(ev)
    router = ev.router
    vcpus = ev.scenario.vcpus
    entries: list[SweepEntry] = []
    messages: list[Message] = []
    span = LAST_VECTOR - FIRST_VECTOR + 1
    for d in sweep_destinations(ev):
        for s in d.senders:
            source = senders[s]
            vector = FIRST_VECTOR + len(messages) % span
            irq = Interrupt(dest_mode=d.dest_mode, dest=d.dest, delivery="fixed", vector=vector)
            model = router.route_dest(irq, d.dest, source).accepted
            entries.append(SweepEntry(d.dest_mode, d.dest, s, d.count, None, [vcpus[i].id for i in model]))
            stub = source is not None and not vcpus[source].x2apic_mode
            messages.append(Message(source, d.dest_mode, d.dest, "none", "fixed", vector, stub))
    stubs = {vcpus[i].id for i in senders.values() if i is not None and not vcpus[i].x2apic_mode}
    return SweepPlan(entries, messages, stubs, not host.vector_hashing)
