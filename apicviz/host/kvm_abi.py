"""The slice of the KVM userspace ABI the host check needs, as ctypes.

Layouts follow ``include/uapi/linux/kvm.h`` and
``arch/x86/include/uapi/asm/kvm.h`` (x86-64); ioctl numbers are derived from
the ``_IO/_IOR/_IOW/_IOWR`` encoding with the structure sizes, so a layout
mistake shows up as ENOTTY instead of silently corrupting a structure.
"""
from __future__ import annotations

import ctypes
import os
import threading
import time
from ctypes import c_uint8, c_uint16, c_uint32, c_uint64
from typing import Any

# --- ioctl encoding (asm-generic/ioctl.h) ---------------------------------
_IOC_NONE, _IOC_WRITE, _IOC_READ = 0, 1, 2
KVMIO = 0xAE


def _ioc(direction: int, nr: int, size: int) -> int:
    return (direction << 30) | (size << 16) | (KVMIO << 8) | nr


def _io(nr: int) -> int:
    return _ioc(_IOC_NONE, nr, 0)


def _ior(nr: int, struct: type) -> int:
    return _ioc(_IOC_READ, nr, ctypes.sizeof(struct))


def _iow(nr: int, struct: type) -> int:
    return _ioc(_IOC_WRITE, nr, ctypes.sizeof(struct))


def _iowr(nr: int, struct: type) -> int:
    return _ioc(_IOC_READ | _IOC_WRITE, nr, ctypes.sizeof(struct))


# --- structures -----------------------------------------------------------
class KvmUserspaceMemoryRegion(ctypes.Structure):
    _fields_ = [("slot", c_uint32), ("flags", c_uint32), ("guest_phys_addr", c_uint64),
                ("memory_size", c_uint64), ("userspace_addr", c_uint64)]


class KvmEnableCap(ctypes.Structure):
    _fields_ = [("cap", c_uint32), ("flags", c_uint32), ("args", c_uint64 * 4), ("pad", c_uint8 * 64)]


class KvmMsi(ctypes.Structure):
    _fields_ = [("address_lo", c_uint32), ("address_hi", c_uint32), ("data", c_uint32),
                ("flags", c_uint32), ("devid", c_uint32), ("pad", c_uint8 * 12)]


class KvmLapicState(ctypes.Structure):
    """The 1 KiB APIC register page; register R lives at byte offset R."""

    _fields_ = [("regs", c_uint8 * 0x400)]


class KvmMsrEntry(ctypes.Structure):
    _fields_ = [("index", c_uint32), ("reserved", c_uint32), ("data", c_uint64)]


class KvmMsrs(ctypes.Structure):
    """Header of ``struct kvm_msrs``; the entries follow it (see :func:`msr_buffer`)."""

    _fields_ = [("nmsrs", c_uint32), ("pad", c_uint32)]


class KvmCpuidEntry2(ctypes.Structure):
    _fields_ = [("function", c_uint32), ("index", c_uint32), ("flags", c_uint32), ("eax", c_uint32),
                ("ebx", c_uint32), ("ecx", c_uint32), ("edx", c_uint32), ("padding", c_uint32 * 3)]


class KvmCpuid2(ctypes.Structure):
    """Header of ``struct kvm_cpuid2``; the entries follow it (see :func:`cpuid_buffer`)."""

    _fields_ = [("nent", c_uint32), ("padding", c_uint32)]


class _Exception(ctypes.Structure):
    _fields_ = [("injected", c_uint8), ("nr", c_uint8), ("has_error_code", c_uint8), ("pending", c_uint8),
                ("error_code", c_uint32)]


class _Interrupt(ctypes.Structure):
    _fields_ = [("injected", c_uint8), ("nr", c_uint8), ("soft", c_uint8), ("shadow", c_uint8)]


class _Nmi(ctypes.Structure):
    _fields_ = [("injected", c_uint8), ("pending", c_uint8), ("masked", c_uint8), ("pad", c_uint8)]


class _Smi(ctypes.Structure):
    _fields_ = [("smm", c_uint8), ("pending", c_uint8), ("smm_inside_nmi", c_uint8), ("latched_init", c_uint8)]


class KvmVcpuEvents(ctypes.Structure):
    _fields_ = [("exception", _Exception), ("interrupt", _Interrupt), ("nmi", _Nmi), ("sipi_vector", c_uint32),
                ("flags", c_uint32), ("smi", _Smi), ("triple_fault_pending", c_uint8),
                ("reserved", c_uint8 * 26), ("exception_has_payload", c_uint8), ("exception_payload", c_uint64)]


class KvmMpState(ctypes.Structure):
    _fields_ = [("mp_state", c_uint32)]


class KvmRegs(ctypes.Structure):
    _fields_ = [(name, c_uint64) for name in (
        "rax", "rbx", "rcx", "rdx", "rsi", "rdi", "rsp", "rbp",
        "r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15", "rip", "rflags")]


class KvmSegment(ctypes.Structure):
    _fields_ = [("base", c_uint64), ("limit", c_uint32), ("selector", c_uint16), ("type", c_uint8),
                ("present", c_uint8), ("dpl", c_uint8), ("db", c_uint8), ("s", c_uint8), ("l", c_uint8),
                ("g", c_uint8), ("avl", c_uint8), ("unusable", c_uint8), ("padding", c_uint8)]


class KvmDtable(ctypes.Structure):
    _fields_ = [("base", c_uint64), ("limit", c_uint16), ("padding", c_uint16 * 3)]


class KvmSregs(ctypes.Structure):
    _fields_ = [("cs", KvmSegment), ("ds", KvmSegment), ("es", KvmSegment), ("fs", KvmSegment),
                ("gs", KvmSegment), ("ss", KvmSegment), ("tr", KvmSegment), ("ldt", KvmSegment),
                ("gdt", KvmDtable), ("idt", KvmDtable), ("cr0", c_uint64), ("cr2", c_uint64),
                ("cr3", c_uint64), ("cr4", c_uint64), ("cr8", c_uint64), ("efer", c_uint64),
                ("apic_base", c_uint64), ("interrupt_bitmap", c_uint64 * 4)]


class KvmSignalMask(ctypes.Structure):
    """``struct kvm_signal_mask`` with room for the kernel's 8-byte x86-64 sigset."""

    _fields_ = [("len", c_uint32), ("sigset", c_uint8 * 8)]


class KvmRunHead(ctypes.Structure):
    """The start of the mmapped ``struct kvm_run``: what a stub exit needs."""

    _fields_ = [("request_interrupt_window", c_uint8), ("immediate_exit", c_uint8), ("padding1", c_uint8 * 6),
                ("exit_reason", c_uint32), ("ready_for_interrupt_injection", c_uint8), ("if_flag", c_uint8),
                ("flags", c_uint16), ("cr8", c_uint64), ("apic_base", c_uint64),
                # union: KVM_EXIT_IO's fields, the one exit the stub is meant to take
                ("io_direction", c_uint8), ("io_size", c_uint8), ("io_port", c_uint16), ("io_count", c_uint32),
                ("io_data_offset", c_uint64)]


assert ctypes.sizeof(KvmVcpuEvents) == 64
assert ctypes.sizeof(KvmSregs) == 312
assert ctypes.sizeof(KvmMsi) == 32
assert ctypes.sizeof(KvmEnableCap) == 104

# --- ioctl numbers ----------------------------------------------------------
KVM_GET_API_VERSION = _io(0x00)
KVM_CREATE_VM = _io(0x01)
KVM_CHECK_EXTENSION = _io(0x03)
KVM_GET_VCPU_MMAP_SIZE = _io(0x04)
KVM_GET_SUPPORTED_CPUID = _iowr(0x05, KvmCpuid2)
KVM_CREATE_VCPU = _io(0x41)
KVM_SET_USER_MEMORY_REGION = _iow(0x46, KvmUserspaceMemoryRegion)
KVM_SET_TSS_ADDR = _io(0x47)
KVM_CREATE_IRQCHIP = _io(0x60)
KVM_SET_BOOT_CPU_ID = _io(0x78)
KVM_RUN = _io(0x80)
KVM_GET_REGS = _ior(0x81, KvmRegs)
KVM_SET_REGS = _iow(0x82, KvmRegs)
KVM_GET_SREGS = _ior(0x83, KvmSregs)
KVM_SET_SREGS = _iow(0x84, KvmSregs)
KVM_GET_MSRS = _iowr(0x88, KvmMsrs)
KVM_SET_MSRS = _iow(0x89, KvmMsrs)
KVM_GET_LAPIC = _ior(0x8E, KvmLapicState)
KVM_SET_LAPIC = _iow(0x8F, KvmLapicState)
KVM_SET_CPUID2 = _iow(0x90, KvmCpuid2)
KVM_GET_MP_STATE = _ior(0x98, KvmMpState)
KVM_SET_MP_STATE = _iow(0x99, KvmMpState)
KVM_GET_VCPU_EVENTS = _ior(0x9F, KvmVcpuEvents)
KVM_SET_VCPU_EVENTS = _iow(0xA0, KvmVcpuEvents)
KVM_ENABLE_CAP = _iow(0xA3, KvmEnableCap)
KVM_SIGNAL_MSI = _iow(0xA5, KvmMsi)

# struct kvm_signal_mask is { __u32 len; __u8 sigset[]; }: its _IOW size is 4.
KVM_SET_SIGNAL_MASK = _ioc(_IOC_WRITE, 0x8B, 4)

# --- capabilities and flags -------------------------------------------------
KVM_API_VERSION = 12
KVM_CAP_IRQCHIP = 0
KVM_CAP_NR_VCPUS = 9
KVM_CAP_MAX_VCPUS = 66
KVM_CAP_SIGNAL_MSI = 77
KVM_CAP_X86_SMM = 117
KVM_CAP_MAX_VCPU_ID = 128
KVM_CAP_X2APIC_API = 129

KVM_X2APIC_API_USE_32BIT_IDS = 1 << 0
KVM_X2APIC_API_DISABLE_BROADCAST_QUIRK = 1 << 1

KVM_VCPUEVENT_VALID_NMI_PENDING = 0x01
KVM_VCPUEVENT_VALID_SMM = 0x08

KVM_MP_STATE_RUNNABLE = 0
KVM_MP_STATE_UNINITIALIZED = 1
KVM_MP_STATE_INIT_RECEIVED = 2
KVM_MP_STATE_HALTED = 3

KVM_EXIT_IO = 2
KVM_EXIT_HLT = 5
KVM_EXIT_MMIO = 6
KVM_EXIT_SHUTDOWN = 8
KVM_EXIT_FAIL_ENTRY = 9
KVM_EXIT_INTR = 10
KVM_EXIT_INTERNAL_ERROR = 17

# --- architectural constants -------------------------------------------------
MSR_IA32_APICBASE = 0x1B
APICBASE_BSP = 1 << 8
APICBASE_EXTD = 1 << 10  # x2APIC mode
APICBASE_ENABLE = 1 << 11
APIC_DEFAULT_PHYS_BASE = 0xFEE00000
MSR_X2APIC_ICR = 0x830
MSR_X2APIC_SPIV = 0x80F
CPUID_1_ECX_X2APIC = 1 << 21

# xAPIC register offsets in the APIC page (and in kvm_lapic_state.regs)
APIC_ID = 0x20
APIC_LDR = 0xD0
APIC_DFR = 0xE0
APIC_SPIV = 0xF0
APIC_IRR = 0x200
APIC_ICR = 0x300
APIC_ICR2 = 0x310
APIC_SPIV_ENABLED = 1 << 8

# ICR / MSI data delivery-mode field (bits 10:8)
DELIVERY_MODE = {"fixed": 0, "lowest": 1, "smi": 2, "nmi": 4, "init": 5, "sipi": 6}
SHORTHAND = {"none": 0, "self": 1, "all": 2, "all-but-self": 3}
ICR_LOGICAL = 1 << 11
ICR_ASSERT = 1 << 14
MSI_ADDR_LOGICAL = 1 << 2


_libc = ctypes.CDLL(None, use_errno=True)
_libc.ioctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_void_p]
_libc.ioctl.restype = ctypes.c_int


def ioctl(fd: int, request: int, arg: int | ctypes.Structure | ctypes.Array = 0) -> int:
    """One ioctl through libc: a structure is passed by address, an integer by value.

    Not ``fcntl.ioctl``: its integer argument is a C ``int`` (too small for a
    TSS address), and KVM_RUN must come back with EINTR when the bounding
    signal arrives instead of being restarted.
    """
    pointer = arg if isinstance(arg, int) else ctypes.addressof(arg)
    if _TRACE is not None:
        _trace(f"ioctl fd {fd} {_REQUEST_NAMES.get(request, hex(request))}")
    result = _libc.ioctl(fd, request, pointer)
    if result < 0:
        err = ctypes.get_errno()
        if _TRACE is not None:
            _trace(f"  -> errno {err}")
        raise OSError(err, os.strerror(err))
    return result


#: ``APICVIZ_PROBE_TRACE=FILE``: every ioctl is written to FILE as it starts (and any error), line by
#: line, so a probe that hangs shows the call it hangs in (inside a throwaway VM too: see kernelvm.boot).
_TRACE = os.environ.get("APICVIZ_PROBE_TRACE") or None
_trace_file: Any = None


def _trace(text: str) -> None:
    global _trace_file  # noqa: PLW0603 - one lazily opened file for the whole process
    if _trace_file is None:
        _trace_file = open(str(_TRACE), "a", buffering=1)  # noqa: SIM115 - kept open until the process ends
    _trace_file.write(f"{time.monotonic():.3f} [{threading.get_native_id()}] {text}\n")



def msr_buffer(entries: list[tuple[int, int]]) -> ctypes.Array:
    """A ``struct kvm_msrs`` with its entries, ready for KVM_SET_MSRS / KVM_GET_MSRS."""
    n = len(entries)

    class _Msrs(ctypes.Structure):
        _fields_ = [("nmsrs", c_uint32), ("pad", c_uint32), ("entries", KvmMsrEntry * n)]

    buf = _Msrs()
    buf.nmsrs = n
    for i, (index, data) in enumerate(entries):
        buf.entries[i].index = index
        buf.entries[i].data = data
    return buf  # type: ignore[return-value]


def cpuid_buffer(nent: int) -> ctypes.Structure:
    """A ``struct kvm_cpuid2`` with room for ``nent`` entries."""

    class _Cpuid(ctypes.Structure):
        _fields_ = [("nent", c_uint32), ("padding", c_uint32), ("entries", KvmCpuidEntry2 * nent)]

    buf = _Cpuid()
    buf.nent = nent
    return buf


#: ioctl request number -> its name, for the trace.
_REQUEST_NAMES = {value: name for name, value in list(globals().items())
                  if name.startswith("KVM_") and isinstance(value, int) and value > 0xFF}
