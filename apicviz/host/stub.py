"""The xAPIC sender: a few bytes of guest code that write ICR_HIGH/ICR_LOW, then OUT.

An xAPIC-mode vCPU can only send an IPI by writing its memory-mapped APIC
page, and KVM routes it differently from an MSI (the sender's mode picks the
broadcast value, shorthands need a sender), so the host check really runs
that write on the sending vCPU: 32-bit flat protected mode without paging
(set with KVM_SET_SREGS), interrupts off (IF=0) so a fixed IPI to itself
stays in its IRR, NMIs masked so an NMI to itself stays pending.

Every KVM_RUN is bounded: an INIT sent to itself may park the vCPU in
INIT_RECEIVED, where it waits for a SIPI that never comes. A POSIX timer
aimed at this thread raises a real-time signal; the signal is blocked in the
thread except while inside KVM_RUN (KVM_SET_SIGNAL_MASK), so it interrupts
the run with EINTR and is then consumed with ``sigtimedwait`` — no handler,
nothing delivered to Python, usable from any thread (a GUI worker too).
"""
from __future__ import annotations

import ctypes
import mmap
import signal
import struct
import threading
from dataclasses import dataclass

from . import kvm_abi as abi

STUB_GPA = 0x1000
STUB_PORT = 0x10
GUEST_MEMORY = 0x10000
RUN_TIMEOUT_NS = 20_000_000  # far above the microseconds a stub run takes
RUN_ATTEMPTS = 5  # a run cut short while this busy machine descheduled it is resumed
BOUND_SIGNAL = signal.SIGRTMIN + 6

_CLOCK_MONOTONIC = 1
_SIGEV_THREAD_ID = 4


class _SigEvent(ctypes.Structure):
    _fields_ = [("sigev_value", ctypes.c_uint64), ("sigev_signo", ctypes.c_int), ("sigev_notify", ctypes.c_int),
                ("sigev_notify_thread_id", ctypes.c_int), ("pad", ctypes.c_int * 11)]


class _ITimerSpec(ctypes.Structure):
    _fields_ = [("interval_sec", ctypes.c_long), ("interval_nsec", ctypes.c_long),
                ("value_sec", ctypes.c_long), ("value_nsec", ctypes.c_long)]


class _KvmSignalMask(ctypes.Structure):
    _fields_ = [("len", ctypes.c_uint32), ("sigset", ctypes.c_uint64)]


_libc = ctypes.CDLL(None, use_errno=True)
_libc.timer_create.argtypes = [ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p]
_libc.timer_settime.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p]
_libc.timer_delete.argtypes = [ctypes.c_void_p]


def stub_code(icr_high: int, icr_low: int) -> bytes:
    """mov dword [ICR2], icr_high; mov dword [ICR], icr_low; out STUB_PORT, al; hlt."""
    icr2 = abi.APIC_DEFAULT_PHYS_BASE + abi.APIC_ICR2
    icr = abi.APIC_DEFAULT_PHYS_BASE + abi.APIC_ICR
    return (b"\xc7\x05" + struct.pack("<II", icr2, icr_high)
            + b"\xc7\x05" + struct.pack("<II", icr, icr_low)
            + bytes((0xE6, STUB_PORT, 0xF4)))


def flat_sregs(sregs: abi.KvmSregs) -> None:
    """32-bit flat protected mode, no paging: the APIC page is reached at its physical address."""
    for name, seg_type, selector in (("cs", 0xB, 8), ("ds", 0x3, 16), ("es", 0x3, 16), ("fs", 0x3, 16),
                                     ("gs", 0x3, 16), ("ss", 0x3, 16)):
        seg = getattr(sregs, name)
        seg.base, seg.limit, seg.selector, seg.type = 0, 0xFFFFFFFF, selector, seg_type
        seg.present, seg.dpl, seg.db, seg.s, seg.l, seg.g, seg.avl, seg.unusable = 1, 0, 1, 1, 0, 1, 0, 0
    sregs.cr0 = (sregs.cr0 | 1) & ~(1 << 31)
    sregs.efer = 0


@dataclass
class StubExit:
    """How one stub run ended."""

    finished: bool  # reached its OUT
    timed_out: bool
    exit_reason: int
    error: str = ""


class GuestMemory:
    """The one memory slot the stubs run from (GPA 0, 64 KiB)."""

    def __init__(self, vm_fd: int) -> None:
        self.map = mmap.mmap(-1, GUEST_MEMORY, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
        self._anchor = ctypes.c_char.from_buffer(self.map)
        region = abi.KvmUserspaceMemoryRegion(slot=0, flags=0, guest_phys_addr=0, memory_size=GUEST_MEMORY,
                                              userspace_addr=ctypes.addressof(self._anchor))
        abi.ioctl(vm_fd, abi.KVM_SET_USER_MEMORY_REGION, region)

    def write(self, gpa: int, data: bytes) -> None:
        self.map[gpa:gpa + len(data)] = data

    def close(self) -> None:
        del self._anchor
        self.map.close()


class RunBound:
    """A per-thread timer that ends a KVM_RUN that would wait forever."""

    def __init__(self) -> None:
        self.thread_id = threading.get_ident()
        self._old_mask = signal.pthread_sigmask(signal.SIG_BLOCK, {BOUND_SIGNAL})
        event = _SigEvent(sigev_signo=BOUND_SIGNAL, sigev_notify=_SIGEV_THREAD_ID,
                          sigev_notify_thread_id=threading.get_native_id())
        self._timer = ctypes.c_void_p()
        if _libc.timer_create(_CLOCK_MONOTONIC, ctypes.byref(event), ctypes.byref(self._timer)) != 0:
            err = ctypes.get_errno()
            signal.pthread_sigmask(signal.SIG_SETMASK, self._old_mask)
            raise OSError(err, "timer_create for bounding KVM_RUN failed")

    def kvm_mask(self) -> _KvmSignalMask:
        """The mask KVM installs during KVM_RUN: this thread's mask with the bound signal open."""
        bits = 0
        for sig in signal.pthread_sigmask(signal.SIG_BLOCK, set()):
            if sig != BOUND_SIGNAL:
                bits |= 1 << (int(sig) - 1)
        return _KvmSignalMask(len=8, sigset=bits)

    def run(self, vcpu_fd: int, head: abi.KvmRunHead, timeout_ns: int = RUN_TIMEOUT_NS) -> StubExit:
        assert threading.get_ident() == self.thread_id, "KVM_RUN must be bounded from the thread that armed it"
        arm = _ITimerSpec(0, 0, timeout_ns // 1_000_000_000, timeout_ns % 1_000_000_000)
        _libc.timer_settime(self._timer, 0, ctypes.byref(arm), None)
        error = ""
        try:
            abi.ioctl(vcpu_fd, abi.KVM_RUN)
        except OSError as exc:
            error = exc.strerror or str(exc)
            timed_out = exc.errno == 4  # EINTR: the bound fired
        else:
            timed_out = False
        _libc.timer_settime(self._timer, 0, ctypes.byref(_ITimerSpec()), None)
        if signal.sigtimedwait({BOUND_SIGNAL}, 0) is not None:
            timed_out = True
        reason = head.exit_reason
        finished = not error and reason == abi.KVM_EXIT_IO and head.io_port == STUB_PORT
        return StubExit(finished, timed_out, reason, "" if timed_out else error)

    def close(self) -> None:
        _libc.timer_delete(self._timer)
        while signal.sigtimedwait({BOUND_SIGNAL}, 0) is not None:
            pass
        signal.pthread_sigmask(signal.SIG_SETMASK, self._old_mask)


class StubSender:
    """One xAPIC-mode vCPU prepared to run the ICR-writing stub."""

    def __init__(self, vcpu_fd: int, mmap_size: int, memory: GuestMemory, bound: RunBound) -> None:
        self.fd = vcpu_fd
        self.memory = memory
        self.bound = bound
        self.run_map = mmap.mmap(vcpu_fd, mmap_size, mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE)
        self.head = abi.KvmRunHead.from_buffer(self.run_map)
        abi.ioctl(vcpu_fd, abi.KVM_SET_SIGNAL_MASK, bound.kvm_mask())
        self.sregs = abi.KvmSregs()
        abi.ioctl(vcpu_fd, abi.KVM_GET_SREGS, self.sregs)
        flat_sregs(self.sregs)
        self.prepare()

    def prepare(self) -> None:
        """Flat mode, runnable, NMIs masked: also after an INIT to itself reset the vCPU."""
        abi.ioctl(self.fd, abi.KVM_SET_SREGS, self.sregs)
        abi.ioctl(self.fd, abi.KVM_SET_MP_STATE, abi.KvmMpState(abi.KVM_MP_STATE_RUNNABLE))
        events = abi.KvmVcpuEvents()
        abi.ioctl(self.fd, abi.KVM_GET_VCPU_EVENTS, events)
        events.flags = 0
        events.nmi.masked = 1
        abi.ioctl(self.fd, abi.KVM_SET_VCPU_EVENTS, events)

    def send(self, icr_high: int, icr_low: int) -> StubExit:
        self.memory.write(STUB_GPA, stub_code(icr_high, icr_low))
        regs = abi.KvmRegs(rip=STUB_GPA, rflags=0x2, rsp=GUEST_MEMORY - 16)
        abi.ioctl(self.fd, abi.KVM_SET_REGS, regs)
        for _ in range(RUN_ATTEMPTS):
            result = self.bound.run(self.fd, self.head)
            if result.finished or not result.timed_out or self.parked():
                return result
        return result

    def parked(self) -> bool:
        """Waiting for a SIPI after taking its own INIT (only the bound can end that run)."""
        mp = abi.KvmMpState()
        abi.ioctl(self.fd, abi.KVM_GET_MP_STATE, mp)
        return mp.mp_state == abi.KVM_MP_STATE_INIT_RECEIVED

    def close(self) -> None:
        del self.head
        self.run_map.close()
