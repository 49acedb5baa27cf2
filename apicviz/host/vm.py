"""Build a scenario as a real VM: in-kernel irqchip, vCPUs in creation order, APIC registers.

No guest operating system: every register the map reads is set from
userspace. Per vCPU, in the scenario's order:

* ``KVM_CREATE_VCPU(id)`` — the x2APIC ID is the vCPU ID;
* ``KVM_SET_CPUID2`` with the x2APIC bit (KVM refuses ``IA32_APIC_BASE.EXTD``
  without it);
* a ``KVM_SET_LAPIC`` page with the xAPIC ID, LDR, DFR and SPIV, written
  while the APIC is still in xAPIC mode — in x2APIC mode
  ``kvm_apic_state_fixup()`` rewrites the ID and LDR fields of a page, and
  before 6.10 it truncated an ID above 0xff without 32-bit IDs;
* ``IA32_APIC_BASE`` through ``KVM_SET_MSRS`` for x2APIC mode (KVM then sets
  the x2APIC ID and derived LDR itself) or for a hardware-disabled APIC.

The page each vCPU ends up with is read back once and kept: it is both the
check that the host took the scenario as written and the state restored
after an interrupt changed something.
"""
from __future__ import annotations

import contextlib
import os
import resource
import struct
from dataclasses import dataclass, field
from typing import Self

from ..model.numbers import fmt_id
from ..model.scenario import Scenario, Vcpu
from . import kvm_abi as abi
from .host_info import errno_text
from .stub import GuestMemory, RunBound, StubSender

_IRR = struct.Struct("<" + "I12x" * 7 + "I")
_REG = struct.Struct("<I")


class BuildError(Exception):
    """The host could not build this scenario; the message says which step failed and why."""


def page_reg(page: abi.KvmLapicState, offset: int) -> int:
    return _REG.unpack_from(page.regs, offset)[0]


def set_page_reg(page: abi.KvmLapicState, offset: int, value: int) -> None:
    _REG.pack_into(page.regs, offset, value & 0xFFFFFFFF)


def page_irr(page: abi.KvmLapicState) -> int:
    """The 256-bit IRR as one integer (bit v = vector v requested)."""
    words = _IRR.unpack_from(page.regs, abi.APIC_IRR)
    value = 0
    for i, word in enumerate(words):
        value |= word << (32 * i)
    return value


def clear_irr(page: abi.KvmLapicState) -> None:
    for i in range(8):
        set_page_reg(page, abi.APIC_IRR + 0x10 * i, 0)


@dataclass
class HostVcpu:
    vcpu: Vcpu
    fd: int
    #: The page as KVM reports it after the build: what a reset restores.
    page: abi.KvmLapicState
    #: The same registers in xAPIC layout, for x2APIC vCPUs whose page cannot round-trip (see restore_page).
    xapic_page: abi.KvmLapicState | None = None
    stub: StubSender | None = None


@dataclass
class HostVm:
    """The VM of one scenario; close it to release every descriptor."""

    kvm_fd: int
    vm_fd: int
    vcpus: list[HostVcpu] = field(default_factory=list)
    memory: GuestMemory | None = None
    bound: RunBound | None = None
    use_32bit_ids: bool = False
    #: KVM_SET_LAPIC keeps an x2APIC page intact (None: not tried yet; see _round_trips).
    x2apic_round_trip: bool | None = None

    def close(self) -> None:
        for hv in self.vcpus:
            if hv.stub is not None:
                hv.stub.close()
            os.close(hv.fd)
        self.vcpus.clear()
        if self.memory is not None:
            self.memory.close()
            self.memory = None
        if self.bound is not None:
            self.bound.close()
            self.bound = None
        if self.vm_fd >= 0:
            os.close(self.vm_fd)
            self.vm_fd = -1

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def restore_page(self, hv: HostVcpu) -> None:
        """Put back the built APIC page (clears IRR bits a delivery set; resets arb_prio too)."""
        if hv.xapic_page is None:
            abi.ioctl(hv.fd, abi.KVM_SET_LAPIC, hv.page)
            return
        # Through xAPIC mode: KVM re-derives the x2APIC ID and LDR when EXTD is set again.
        base = abi.APIC_DEFAULT_PHYS_BASE | abi.APICBASE_ENABLE
        abi.ioctl(hv.fd, abi.KVM_SET_MSRS, abi.msr_buffer([(abi.MSR_IA32_APICBASE, base)]))
        abi.ioctl(hv.fd, abi.KVM_SET_LAPIC, hv.xapic_page)
        _set_apic_base(hv.fd, base | abi.APICBASE_EXTD, "x2APIC mode")


def _set_apic_base(fd: int, value: int, what: str) -> None:
    if abi.ioctl(fd, abi.KVM_SET_MSRS, abi.msr_buffer([(abi.MSR_IA32_APICBASE, value)])) != 1:
        raise BuildError(f"KVM refused IA32_APIC_BASE = {value:#x} ({what})")


def _unused_boot_id(scenario: Scenario, max_vcpu_id: int) -> int | None:
    """A vCPU ID no vCPU has: no vCPU is the BSP, so an INIT parks every vCPU alike."""
    used = {v.id for v in scenario.vcpus}
    for candidate in range(max_vcpu_id):
        if candidate not in used:
            return candidate
    return None


def _cpuid_with_x2apic(kvm_fd: int) -> abi.ctypes.Structure:
    for nent in (128, 256, 1024):
        buf = abi.cpuid_buffer(nent)
        try:
            abi.ioctl(kvm_fd, abi.KVM_GET_SUPPORTED_CPUID, buf)
        except OSError as exc:
            if exc.errno == 7:  # E2BIG: more entries than room
                continue
            raise BuildError(f"KVM_GET_SUPPORTED_CPUID failed: {errno_text(exc)}") from None
        for i in range(buf.nent):
            if buf.entries[i].function == 1:
                buf.entries[i].ecx |= abi.CPUID_1_ECX_X2APIC
        return buf
    raise BuildError("KVM_GET_SUPPORTED_CPUID needs more than 1024 entries")


def _xapic_page(reset: abi.KvmLapicState, v: Vcpu) -> abi.KvmLapicState:
    """The vCPU's reset page with the scenario's xAPIC ID, LDR, DFR and software enable."""
    page = abi.KvmLapicState.from_buffer_copy(reset)
    set_page_reg(page, abi.APIC_ID, v.xapic_id << 24)
    set_page_reg(page, abi.APIC_LDR, v.logical_id << 24)
    set_page_reg(page, abi.APIC_DFR, v.dfr)
    spiv = page_reg(page, abi.APIC_SPIV) & ~abi.APIC_SPIV_ENABLED | 0xFF
    set_page_reg(page, abi.APIC_SPIV, spiv | (abi.APIC_SPIV_ENABLED if v.sw_enabled else 0))
    return page


def _check_page(v: Vcpu, page: abi.KvmLapicState) -> None:
    """The host must hold the registers the scenario asked for, or nothing it says means anything."""
    sw_enabled = bool(page_reg(page, abi.APIC_SPIV) & abi.APIC_SPIV_ENABLED)
    problems = []
    if sw_enabled != v.sw_enabled:
        problems.append("SPIV software-enable bit")
    if v.x2apic_mode:
        if page_reg(page, abi.APIC_LDR) != v.x2apic_ldr:
            problems.append(f"LDR {page_reg(page, abi.APIC_LDR):#x} (expected {v.x2apic_ldr:#x})")
    else:
        if page_reg(page, abi.APIC_ID) >> 24 != v.xapic_id:
            problems.append("APIC_ID")
        if page_reg(page, abi.APIC_LDR) >> 24 != v.logical_id:
            problems.append("LDR")
        if page_reg(page, abi.APIC_DFR) != v.dfr:
            problems.append("DFR")
    if problems:
        raise BuildError(f"the host changed vCPU {fmt_id(v.id)}'s " + ", ".join(problems)
                         + " after KVM_SET_LAPIC; the scenario cannot be reproduced here")


def build_vm(kvm_fd: int, scenario: Scenario, stub_sources: set[int], max_vcpu_id: int,
             force_mode_cycle: bool = False) -> HostVm:
    """Create the VM for ``scenario``; ``stub_sources`` are the xAPIC vCPU IDs that will send IPIs.

    ``force_mode_cycle`` restores every x2APIC page through xAPIC mode (tests exercise that path).
    """
    _enough_descriptors(len(scenario.vcpus))
    step = "KVM_CREATE_VM"
    try:
        vm = HostVm(kvm_fd, abi.ioctl(kvm_fd, abi.KVM_CREATE_VM, 0))
    except OSError as exc:
        raise BuildError(f"{step} failed: {errno_text(exc)}") from None
    try:
        _populate(vm, scenario, stub_sources, max_vcpu_id, force_mode_cycle)
    except OSError as exc:
        vm.close()
        raise BuildError(f"building the VM failed: {errno_text(exc)}") from None
    except BaseException:
        vm.close()
        raise
    return vm


def _enough_descriptors(vcpus: int) -> None:
    """Every vCPU is a file descriptor; many desktops start processes with a soft limit of 1024."""
    needed = vcpus + 64
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < needed:
        new = needed if hard == resource.RLIM_INFINITY else min(needed, hard)
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (new, hard))
        except (ValueError, OSError):
            new = soft
        if new < needed:
            raise BuildError(f"{vcpus} vCPUs need {needed} file descriptors; this process may open {new} "
                             f"(raise it with 'ulimit -n {needed}')")


def _populate(vm: HostVm, scenario: Scenario, stub_sources: set[int], max_vcpu_id: int,
              force_mode_cycle: bool) -> None:
    kvm = scenario.kvm
    step = "KVM_CREATE_IRQCHIP"
    try:
        abi.ioctl(vm.vm_fd, abi.KVM_CREATE_IRQCHIP)
        flags = (abi.KVM_X2APIC_API_USE_32BIT_IDS if kvm.use_32bit_ids else 0) | \
                (abi.KVM_X2APIC_API_DISABLE_BROADCAST_QUIRK if kvm.disable_broadcast_quirk else 0)
        if flags:
            step = f"KVM_ENABLE_CAP(KVM_CAP_X2APIC_API, {flags:#x})"
            cap = abi.KvmEnableCap(cap=abi.KVM_CAP_X2APIC_API)
            cap.args[0] = flags
            abi.ioctl(vm.vm_fd, abi.KVM_ENABLE_CAP, cap)
        vm.use_32bit_ids = kvm.use_32bit_ids
        boot = _unused_boot_id(scenario, max_vcpu_id)
        if boot is not None and boot != 0:
            step = "KVM_SET_BOOT_CPU_ID"
            abi.ioctl(vm.vm_fd, abi.KVM_SET_BOOT_CPU_ID, boot)
        if stub_sources:
            step = "guest memory for the xAPIC sender"
            with contextlib.suppress(OSError):  # needed by VMX without unrestricted guest
                abi.ioctl(vm.vm_fd, abi.KVM_SET_TSS_ADDR, 0xFFFBD000)
            vm.memory = GuestMemory(vm.vm_fd)
            vm.bound = RunBound()
            mmap_size = abi.ioctl(vm.kvm_fd, abi.KVM_GET_VCPU_MMAP_SIZE)
    except OSError as exc:
        raise BuildError(f"{step} failed: {errno_text(exc)}") from None
    cpuid = _cpuid_with_x2apic(vm.kvm_fd)
    for index, v in enumerate(scenario.vcpus):
        step = f"KVM_CREATE_VCPU({fmt_id(v.id)}) for vcpus[{index}]"
        try:
            fd = abi.ioctl(vm.vm_fd, abi.KVM_CREATE_VCPU, v.id)
        except OSError as exc:
            raise BuildError(f"{step} failed: {errno_text(exc)}") from None
        hv = HostVcpu(v, fd, abi.KvmLapicState())
        vm.vcpus.append(hv)
        try:
            step = f"setting up vCPU {fmt_id(v.id)}"
            _setup_vcpu(hv, cpuid)
            if v.present:
                _check_page(v, hv.page)
            if v.x2apic_mode and (force_mode_cycle or (v.id > 0xFF and not kvm.use_32bit_ids
                                                       and not _round_trips(vm, hv))):
                hv.xapic_page = _xapic_layout(hv.page, v)
            if v.id in stub_sources and not v.x2apic_mode and v.present:
                hv.stub = StubSender(fd, mmap_size, vm.memory, vm.bound)  # type: ignore[arg-type]
        except OSError as exc:
            raise BuildError(f"{step} failed: {errno_text(exc)}") from None


def _setup_vcpu(hv: HostVcpu, cpuid: abi.ctypes.Structure) -> None:
    """Registers of one new vCPU, with as few map-recalculating ioctls as possible (each costs O(vCPUs)).

    x2APIC: CPUID (for EXTD), then IA32_APIC_BASE and SPIV in one KVM_SET_MSRS
    (KVM sets the x2APIC ID and LDR itself). xAPIC: one KVM_SET_LAPIC, left
    out when the reset page already is the scenario's. The x2APIC CPUID bit is
    only set where EXTD needs it: KVM's APIC reads nothing else from CPUID.
    """
    v, fd = hv.vcpu, hv.fd
    base = abi.APIC_DEFAULT_PHYS_BASE
    if v.x2apic_mode:
        abi.ioctl(fd, abi.KVM_SET_CPUID2, cpuid)
        entries = [(abi.MSR_IA32_APICBASE, base | abi.APICBASE_ENABLE | abi.APICBASE_EXTD)]
        if v.sw_enabled:
            entries.append((abi.MSR_X2APIC_SPIV, 0xFF | abi.APIC_SPIV_ENABLED))
        if abi.ioctl(fd, abi.KVM_SET_MSRS, abi.msr_buffer(entries)) != len(entries):
            raise BuildError(f"KVM refused x2APIC mode or its SPIV for vCPU {fmt_id(v.id)}")
    elif v.present:
        abi.ioctl(fd, abi.KVM_GET_LAPIC, hv.page)
        wanted = _xapic_page(hv.page, v)
        if bytes(wanted) == bytes(hv.page):
            return
        abi.ioctl(fd, abi.KVM_SET_LAPIC, wanted)
    else:
        _set_apic_base(fd, base, "hardware-disabled APIC")
    abi.ioctl(fd, abi.KVM_GET_LAPIC, hv.page)


def _round_trips(vm: HostVm, hv: HostVcpu) -> bool:
    """Does KVM_SET_LAPIC keep an x2APIC ID above 0xff without 32-bit IDs? Tried once per VM.

    Since 6.10 ("Make x2APIC ID 100% readonly") it does and a reset is one
    KVM_SET_LAPIC; before, kvm_apic_state_fixup() truncated the ID and
    derived the LDR from the truncated value, and the page must go through
    xAPIC mode instead (three ioctls).
    """
    if vm.x2apic_round_trip is None:
        abi.ioctl(hv.fd, abi.KVM_SET_LAPIC, hv.page)
        back = abi.KvmLapicState()
        abi.ioctl(hv.fd, abi.KVM_GET_LAPIC, back)
        vm.x2apic_round_trip = all(page_reg(back, r) == page_reg(hv.page, r) for r in (abi.APIC_ID, abi.APIC_LDR))
        if not vm.x2apic_round_trip:  # undo the damage the trial did
            _set_apic_base(hv.fd, abi.APIC_DEFAULT_PHYS_BASE | abi.APICBASE_ENABLE, "xAPIC mode")
            abi.ioctl(hv.fd, abi.KVM_SET_LAPIC, _xapic_layout(hv.page, hv.vcpu))
            _set_apic_base(hv.fd, abi.APIC_DEFAULT_PHYS_BASE | abi.APICBASE_ENABLE | abi.APICBASE_EXTD, "x2APIC mode")
    return vm.x2apic_round_trip


def _xapic_layout(page: abi.KvmLapicState, v: Vcpu) -> abi.KvmLapicState:
    """An x2APIC vCPU's built page as it must be loaded in xAPIC mode (before EXTD is set again)."""
    copy = abi.KvmLapicState.from_buffer_copy(page)
    set_page_reg(copy, abi.APIC_ID, (v.id & 0xFF) << 24)
    set_page_reg(copy, abi.APIC_LDR, 0)
    return copy


def verify_unchanged(vm: HostVm) -> list[str]:
    """Registers the map reads that differ from the built VM (empty when every reset was complete)."""
    page = abi.KvmLapicState()
    problems = []
    for hv in vm.vcpus:
        if not hv.vcpu.present:
            continue
        abi.ioctl(hv.fd, abi.KVM_GET_LAPIC, page)
        for offset, name in ((abi.APIC_ID, "APIC_ID"), (abi.APIC_LDR, "LDR"), (abi.APIC_DFR, "DFR"),
                             (abi.APIC_SPIV, "SPIV")):
            if page_reg(page, offset) != page_reg(hv.page, offset):
                problems.append(f"vCPU {fmt_id(hv.vcpu.id)} {name} {page_reg(page, offset):#x}, "
                                f"built {page_reg(hv.page, offset):#x}")
        if page_irr(page):
            problems.append(f"vCPU {fmt_id(hv.vcpu.id)} IRR not cleared")
    return problems
