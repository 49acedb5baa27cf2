"""Send one message on the real VM, the way a device or a guest would.

* no sender: an MSI with ``KVM_SIGNAL_MSI`` — destination bits 7:0 in address
  bits 19:12; ``address_hi`` carries bits 31:8 only with 32-bit IDs
  (``KVM_X2APIC_API_USE_32BIT_IDS``), as KVM reads it;
* an x2APIC-mode sender: its x2APIC ICR (MSR 0x830) written with
  ``KVM_SET_MSRS`` — KVM handles that exactly like the guest's WRMSR;
* an xAPIC-mode sender: the guest stub of :mod:`.stub` writes ICR_HIGH and
  ICR_LOW through the APIC page.

Messages are edge-triggered and asserted, as FORMAT.md assumes.
"""
from __future__ import annotations

from dataclasses import dataclass

from ..model.scenario import Interrupt
from . import kvm_abi as abi
from .host_info import errno_text
from .stub import StubExit
from .vm import HostVm

#: What to read back for each delivery mode.
READBACK = {"fixed": "irr", "lowest": "irr", "nmi": "nmi", "smi": "smi", "init": "init", "sipi": "sipi"}


@dataclass(frozen=True)
class Message:
    """One message as KVM receives it; ``source`` is a vCPU index (None for an MSI)."""

    source: int | None
    dest_mode: str
    dest: int
    shorthand: str
    delivery: str
    vector: int
    #: Sent by running the guest stub on an xAPIC-mode sender (the sender runs).
    stub: bool = False

    @property
    def readback(self) -> str:
        return READBACK[self.delivery]

    @property
    def slot(self) -> tuple[str, int]:
        """What this message leaves behind on an accepting vCPU; two messages of a batch never share one."""
        return (self.readback, self.vector if self.readback == "irr" else 0)

    @classmethod
    def from_interrupt(cls, irq: Interrupt, source_index: int | None, source_x2apic: bool) -> Message:
        dest = 0 if irq.shorthand != "none" else (irq.dest or 0)
        if source_index is not None and not source_x2apic:
            dest &= 0xFF  # the xAPIC ICR has 8 destination bits
        stub = source_index is not None and not source_x2apic
        return cls(source_index, irq.dest_mode, dest, irq.shorthand, irq.delivery, irq.vector, stub)


@dataclass
class Sent:
    """The outcome of sending: ``error`` set when KVM refused the message itself."""

    error: str = ""
    stub: StubExit | None = None


def msi(message: Message, use_32bit_ids: bool) -> abi.KvmMsi:
    address_lo = abi.APIC_DEFAULT_PHYS_BASE | (message.dest & 0xFF) << 12
    if message.dest_mode == "logical":
        address_lo |= abi.MSI_ADDR_LOGICAL
    address_hi = message.dest & 0xFFFFFF00 if use_32bit_ids else 0
    data = message.vector | abi.DELIVERY_MODE[message.delivery] << 8 | abi.ICR_ASSERT
    return abi.KvmMsi(address_lo=address_lo, address_hi=address_hi, data=data)


def icr_low(message: Message) -> int:
    value = message.vector | abi.DELIVERY_MODE[message.delivery] << 8 | abi.ICR_ASSERT
    value |= abi.SHORTHAND[message.shorthand] << 18
    if message.dest_mode == "logical":
        value |= abi.ICR_LOGICAL
    return value


def send(vm: HostVm, message: Message) -> Sent:
    """Deliver ``message``; what accepted it is read back afterwards (:mod:`.readback`)."""
    if message.source is None:
        try:
            abi.ioctl(vm.vm_fd, abi.KVM_SIGNAL_MSI, msi(message, vm.use_32bit_ids))
        except OSError as exc:
            # kvm_set_msi answers -1 when no APIC took it, which reaches userspace as EPERM.
            if exc.errno != 1:
                return Sent(f"KVM_SIGNAL_MSI failed: {errno_text(exc)}")
        return Sent()
    hv = vm.vcpus[message.source]
    if hv.vcpu.x2apic_mode:
        value = message.dest << 32 | icr_low(message)
        try:
            done = abi.ioctl(hv.fd, abi.KVM_SET_MSRS, abi.msr_buffer([(abi.MSR_X2APIC_ICR, value)]))
        except OSError as exc:
            return Sent(f"KVM_SET_MSRS(x2APIC ICR) failed: {errno_text(exc)}")
        return Sent() if done == 1 else Sent(f"KVM refused the x2APIC ICR write {value:#x}")
    if hv.stub is None:
        return Sent("no stub was prepared on this xAPIC sender")
    try:
        result = hv.stub.send(message.dest << 24, icr_low(message))
    except OSError as exc:
        return Sent(f"running the xAPIC sender's stub failed: {errno_text(exc)}")
    return Sent(stub=result)
