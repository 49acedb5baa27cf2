"""Who accepted: read every vCPU's state after a batch of messages, then undo it.

Fixed and lowest-priority messages leave the vector's bit in the IRR
(``KVM_GET_LAPIC``; KVM syncs posted interrupts into the page first). NMI,
SMI and INIT leave ``nmi.pending``, ``smi.pending`` and ``smi.latched_init``
in ``KVM_GET_VCPU_EVENTS``; a vCPU that ran the xAPIC stub may already have
taken its own INIT, which ``KVM_GET_MP_STATE`` shows as INIT_RECEIVED (read
after the events, because that ioctl itself processes a latched INIT).

Nothing here consults the model: every vCPU is read, the model is compared
afterwards.
"""
from __future__ import annotations

from dataclasses import dataclass

from . import kvm_abi as abi
from .vm import HostVm, page_irr

_CLEAR_FLAGS = abi.KVM_VCPUEVENT_VALID_NMI_PENDING | abi.KVM_VCPUEVENT_VALID_SMM


@dataclass
class VcpuReadback:
    """What one vCPU holds after a batch."""

    irr: int = 0
    nmi: bool = False
    smi: bool = False
    init: bool = False
    #: The stub sender took an INIT (the vCPU was reset and waits for a SIPI).
    init_taken: bool = False
    events: abi.KvmVcpuEvents | None = None

    @property
    def dirty(self) -> bool:
        return bool(self.irr) or self.nmi or self.smi or self.init or self.init_taken


def read_all(vm: HostVm, need_irr: bool, need_events: bool, ran: set[int]) -> list[VcpuReadback]:
    """Read every vCPU; ``ran`` are the indexes of stub senders that ran in this batch."""
    out = []
    page = abi.KvmLapicState()
    ioctl = abi.ioctl
    for index, hv in enumerate(vm.vcpus):
        rb = VcpuReadback()
        if need_irr:
            ioctl(hv.fd, abi.KVM_GET_LAPIC, page)
            rb.irr = page_irr(page)
        if need_events or index in ran:
            events = abi.KvmVcpuEvents()
            ioctl(hv.fd, abi.KVM_GET_VCPU_EVENTS, events)
            rb.events = events
            rb.nmi = bool(events.nmi.pending or events.nmi.injected)
            rb.smi = bool(events.smi.pending or events.smi.smm)
            rb.init = bool(events.smi.latched_init)
        if index in ran:
            mp = abi.KvmMpState()
            ioctl(hv.fd, abi.KVM_GET_MP_STATE, mp)
            rb.init_taken = mp.mp_state in (abi.KVM_MP_STATE_INIT_RECEIVED, abi.KVM_MP_STATE_UNINITIALIZED)
        out.append(rb)
    return out


def reset(vm: HostVm, states: list[VcpuReadback]) -> None:
    """Undo what the batch left behind, so the next batch sees the scenario as written."""
    ioctl = abi.ioctl
    for hv, rb in zip(vm.vcpus, states, strict=False):
        if not rb.dirty:
            continue
        if rb.irr or rb.init_taken:
            vm.restore_page(hv)
        if rb.nmi or rb.smi or rb.init or rb.init_taken:
            events = rb.events if rb.events is not None else abi.KvmVcpuEvents()
            if rb.events is None:
                ioctl(hv.fd, abi.KVM_GET_VCPU_EVENTS, events)
            events.flags = _CLEAR_FLAGS
            events.nmi.pending = 0
            events.nmi.injected = 0
            events.smi.pending = 0
            events.smi.smm = 0
            events.smi.smm_inside_nmi = 0
            events.smi.latched_init = 0
            ioctl(hv.fd, abi.KVM_SET_VCPU_EVENTS, events)
        if rb.init_taken and hv.stub is not None:
            hv.stub.prepare()


def accepted(states: list[VcpuReadback], readback: str, vector: int) -> list[int]:
    """vCPU indexes (creation order) holding the mark of one message kind."""
    if readback == "irr":
        bit = 1 << vector
        return [i for i, rb in enumerate(states) if rb.irr & bit]
    if readback == "nmi":
        return [i for i, rb in enumerate(states) if rb.nmi]
    if readback == "smi":
        return [i for i, rb in enumerate(states) if rb.smi]
    if readback == "init":
        return [i for i, rb in enumerate(states) if rb.init or rb.init_taken]
    raise ValueError(readback)
