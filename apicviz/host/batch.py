"""Deliver many messages on one VM quickly: batches of messages that cannot disturb each other.

Reading every vCPU costs one ioctl per vCPU, so messages are grouped: within a
batch no two messages leave the same mark (an IRR vector, a pending NMI, …),
every vCPU is read once after the batch, and whatever the batch left behind
is reset. Messages whose effect changes the VM itself — INIT (it resets a
sender that takes it), SMI (with SMM it enters SMM) — and lowest-priority
messages when KVM arbitrates by ``arb_prio`` (a delivery bumps it) go alone.
A batch never holds two messages with the same vector; a lowest-priority
message keeps its vector (vector hashing depends on it), a fixed one may be
carried by a free vector of an open batch (see :func:`plan`).
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

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


FREE_VECTORS = range(0x20, 0xFF)  # not the exception vectors, not the spurious vector 0xff


def _flexible(m: Message) -> bool:
    """A fixed message's vector takes no part in KVM's routing or acceptance (only lowest priority
    hashes it), so another one may carry it; vectors below 0x20 are kept, to send them as written."""
    return m.delivery == "fixed" and m.vector in FREE_VECTORS


def plan(messages: Sequence[Message], arb_prio_matters: bool,
         weights: Sequence[int] | None = None) -> tuple[list[list[int]], list[Message]]:
    """Group message indexes into batches (first fit, keeping each batch's slots distinct).

    Returns the batches and the messages as sent: a fixed message whose
    vector is taken in every open batch gets a free one there instead of a
    batch of its own. An INIT or SMI changes a vCPU that runs afterwards
    (reset, SMM), so it closes its batch: nothing is sent after it, and every
    vCPU is read before the stub senders' MP state (which processes a latched
    INIT). When it is itself sent by running a stub, it goes alone.

    ``weights`` (the model's expected number of receivers) only orders the
    planning, heaviest first, so broadcasts share batches and most batches
    reset few vCPUs; what is read back never depends on it.
    """
    batches: list[list[int]] = []
    slots: list[set[tuple[str, int]]] = []
    closed: list[bool] = []
    sent = list(messages)

    def place(b: int, i: int, m: Message, closing: bool) -> None:
        batches[b].append(i)
        slots[b].add(m.slot)
        closed[b] = closing
        sent[i] = m

    order = range(len(messages)) if weights is None else sorted(range(len(messages)), key=lambda k: -weights[k])
    for i in order:
        m = messages[i]
        closing = m.delivery in ("init", "smi")
        if (closing and m.stub) or (m.delivery == "lowest" and arb_prio_matters):
            batches.append([])
            slots.append(set())
            closed.append(True)
            place(len(batches) - 1, i, m, True)
            continue
        target = next((b for b in range(len(batches)) if not closed[b] and m.slot not in slots[b]), None)
        if target is None and _flexible(m):
            for b in range(len(batches)):
                free = next((v for v in FREE_VECTORS if ("irr", v) not in slots[b]), None) if not closed[b] else None
                if free is not None:
                    target, m = b, replace(m, vector=free)
                    break
        if target is None:
            batches.append([])
            slots.append(set())
            closed.append(False)
            target = len(batches) - 1
        place(target, i, m, closing)
    return batches, sent


def run(vm: HostVm, messages: Sequence[Message], arb_prio_matters: bool,
        progress: Progress | None = None, cancelled: Cancelled | None = None,
        weights: Sequence[int] | None = None) -> list[Outcome]:
    """Send every message and read back who accepted it; the VM ends as it started."""
    outcomes: list[Outcome | None] = [None] * len(messages)
    batches, messages = plan(messages, arb_prio_matters, weights)
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
