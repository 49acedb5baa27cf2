"""Deliver many messages on one VM quickly: batches of messages that cannot disturb each other.

Reading every vCPU costs one ioctl per vCPU, so messages are grouped: within a
batch no two messages leave the same mark (an IRR vector, a pending NMI, …),
every vCPU is read once after the batch, and whatever the batch left behind
is reset. Messages whose effect changes the VM itself — INIT (it resets a
sender that takes it), SMI (with SMM it enters SMM) — and lowest-priority
messages when KVM arbitrates by ``arb_prio`` (a delivery bumps it) go alone.
A batch never holds two messages with the same vector, so the scenario's own
vectors are used unchanged: vector hashing depends on them.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from .deliver import Message, send
from .readback import accepted, read_all, reset
from .vm import HostVm

Progress = Callable[[int, int], None]
Cancelled = Callable[[], bool]


class ProbeCancelled(Exception):
    """The caller's cancel flag was raised between two batches."""


@dataclass
class Outcome:
    """Host answer for one message: accepted vCPU indexes, or why it cannot be read."""

    accepted: list[int] | None
    problem: str = ""


def plan(messages: Sequence[Message], arb_prio_matters: bool) -> list[list[int]]:
    """Group message indexes into batches (first fit, keeping each batch's slots distinct)."""
    batches: list[list[int]] = []
    slots: list[set[tuple[str, int]]] = []
    for i, m in enumerate(messages):
        alone = m.delivery in ("init", "smi") or (m.delivery == "lowest" and arb_prio_matters)
        if alone:
            batches.append([i])
            slots.append({("alone", 0)})
            continue
        for batch, used in zip(batches, slots):
            if m.slot not in used and ("alone", 0) not in used:
                batch.append(i)
                used.add(m.slot)
                break
        else:
            batches.append([i])
            slots.append({m.slot})
    return batches


def run(vm: HostVm, messages: Sequence[Message], arb_prio_matters: bool,
        progress: Progress | None = None, cancelled: Cancelled | None = None) -> list[Outcome]:
    """Send every message and read back who accepted it; the VM ends as it started."""
    outcomes: list[Outcome | None] = [None] * len(messages)
    batches = plan(messages, arb_prio_matters)
    done = 0
    for batch in batches:
        if cancelled is not None and cancelled():
            raise ProbeCancelled()
        ran: set[int] = set()
        problems: dict[int, str] = {}
        for i in batch:
            m = messages[i]
            sent = send(vm, m)
            if m.source is not None and sent.stub is not None:
                ran.add(m.source)
                stub = sent.stub
                # An INIT to itself may park the sender before the OUT: the readback sees it.
                if not stub.finished and not (m.delivery == "init" and stub.timed_out):
                    why = "timed out" if stub.timed_out else f"exit reason {stub.exit_reason}"
                    problems[i] = (f"the xAPIC sender's stub did not reach its OUT ({why}"
                                   + (f", {stub.error}" if stub.error else "")
                                   + "): what it sent cannot be read back")
            if sent.error:
                problems[i] = sent.error
        kinds = {messages[i].readback for i in batch}
        states = read_all(vm, "irr" in kinds, bool(kinds - {"irr"}), ran)
        for i in batch:
            if i in problems:
                outcomes[i] = Outcome(None, problems[i])
            else:
                m = messages[i]
                outcomes[i] = Outcome(accepted(states, m.readback, m.vector))
        reset(vm, states)
        done += len(batch)
        if progress is not None:
            progress(done, len(messages))
    return [o if o is not None else Outcome(None, "not delivered") for o in outcomes]
