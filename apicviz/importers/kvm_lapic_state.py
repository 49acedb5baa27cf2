"""Import ``struct kvm_lapic_state`` register pages, as ``KVM_GET_LAPIC`` returns them.

A page is the 1024-byte ``regs`` array: the local APIC's registers at their
MMIO offsets, each a little-endian u32. Several pages are several vCPUs in
creation order. The page does not say which vCPU it belongs to or which mode
the APIC is in (that lives in ``IA32_APIC_BASE``), so both can be given.

What ``KVM_GET_LAPIC`` puts in APIC_ID (``kvm_apic_state_fixup()``, get side):

* xAPIC mode (or hardware-disabled): the register as the guest sees it — the
  8-bit xAPIC ID in bits 31:24, whether or not 32-bit x2APIC IDs are on.
* x2APIC mode, ``KVM_X2APIC_API_USE_32BIT_IDS`` on: the full 32-bit x2APIC ID,
  which KVM fixes to the vCPU ID (``KVM_SET_LAPIC`` refuses any other value).
* x2APIC mode, 32-bit IDs off: the x2APIC ID shifted left by 24 as a u32, so
  only its low 8 bits survive (old userspace expects the xAPIC layout).

In x2APIC mode the LDR is read-only and derived from the x2APIC ID; the page
carries that derived value.
"""
from __future__ import annotations

import struct
from dataclasses import dataclass

from ..model.errors import ScenarioError
from ..model.numbers import U32_MAX, fmt_id, parse_int
from ..model.scenario import Scenario, Vcpu
from .common import ImportResult, check_ids, check_vcpu_count, finish, spread

KVM_APIC_REG_SIZE = 0x400  # bytes in struct kvm_lapic_state

APIC_ID = 0x20
APIC_LVR = 0x30
APIC_LDR = 0xD0
APIC_DFR = 0xE0
APIC_SPIV = 0xF0

SPIV_APIC_ENABLED = 1 << 8
APIC_BASE_EXTD = 1 << 10  # x2APIC enable
APIC_BASE_EN = 1 << 11  # APIC global enable
U64_MAX = 2**64 - 1
KVM_APIC_VERSION = 0x14  # bits 7:0 of the version register KVM reports

COMMAND = "kvm-lapic-state"


@dataclass(frozen=True)
class LapicRegs:
    """The registers of one page that matter for the map, as raw u32 values."""

    apic_id: int
    version: int
    ldr: int
    dfr: int
    spiv: int


def decode_lapic_page(page: bytes) -> LapicRegs:
    """Read the map-relevant registers of one 1024-byte page."""
    if len(page) != KVM_APIC_REG_SIZE:
        raise ScenarioError("", f"a kvm_lapic_state page is {KVM_APIC_REG_SIZE} bytes, got {len(page)}")

    def reg(offset: int) -> int:
        return struct.unpack_from("<I", page, offset)[0]

    return LapicRegs(reg(APIC_ID), reg(APIC_LVR), reg(APIC_LDR), reg(APIC_DFR), reg(APIC_SPIV))


def encode_lapic_page(
    apic_id: int = 0,
    ldr: int = 0,
    dfr: int = 0xFFFFFFFF,
    spiv: int = 0xFF,
    version: int = 0x00050014,
) -> bytes:
    """Build a page with the given registers and zeros elsewhere (for tests and examples).

    The defaults are KVM's reset values (software-disabled, flat DFR, ID 0).
    Pass register values, not IDs: an xAPIC ID 3 is ``apic_id=3 << 24``.
    """
    page = bytearray(KVM_APIC_REG_SIZE)
    for offset, value in ((APIC_ID, apic_id), (APIC_LVR, version), (APIC_LDR, ldr), (APIC_DFR, dfr),
                          (APIC_SPIV, spiv)):
        if not 0 <= value <= U32_MAX:
            raise ValueError(f"register {offset:#x}: {value:#x} does not fit in 32 bits")
        struct.pack_into("<I", page, offset, value)
    return bytes(page)


def apic_mode_from_base(value: int, where: str) -> str:
    """The APIC mode an ``IA32_APIC_BASE`` value selects (EN bit 11, EXTD bit 10)."""
    value = parse_int(value, where, 0, U64_MAX)
    enabled = bool(value & APIC_BASE_EN)
    extd = bool(value & APIC_BASE_EXTD)
    if extd and not enabled:
        raise ScenarioError(
            where,
            f"{value:#x} sets x2APIC enable (EXTD, bit 10) without APIC global enable (EN, bit 11); "
            f"that IA32_APIC_BASE state is invalid",
        )
    if not enabled:
        return "disabled"
    return "x2apic" if extd else "xapic"


def _text_hint(chunk: bytes) -> str | None:
    """Why ``chunk`` is text rather than register pages, or None when it may be pages.

    A real page is mostly zero bytes, so a first kilobyte that decodes as
    text without control characters cannot be one.
    """
    head = chunk[:KVM_APIC_REG_SIZE]
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError as exc:
        if "unexpected end" not in exc.reason:  # only a character cut at the 1 KiB boundary is still text
            return None
        text = head[: exc.start].decode("utf-8")
    if any(ord(c) < 0x20 and c not in "\t\n\r" for c in text) or "\x7f" in text:
        return None
    stripped = text.lstrip().lower()
    if stripped.startswith(("dumping local apic", "(qemu)")):
        return "it looks like QEMU's `info lapic` output: use `apicviz import qemu-info-lapic`"
    if stripped.startswith("{"):
        return "it looks like JSON (a scenario? open it with `apicviz eval`)"
    return "kvm_lapic_state pages are binary (1024 bytes per vCPU, as KVM_GET_LAPIC returns them)"


def split_pages(chunk: bytes, name: str) -> list[tuple[int, bytes]]:
    """``(byte offset, page)`` for each page of one file; refuses empty, text and truncated input."""
    if not chunk:
        raise ScenarioError(name, f"empty file: no kvm_lapic_state page ({KVM_APIC_REG_SIZE} bytes per vCPU)")
    hint = _text_hint(chunk)
    if hint is not None:
        raise ScenarioError(f"{name}: byte 0", f"this is text, not kvm_lapic_state register pages; {hint}")
    full, rest = divmod(len(chunk), KVM_APIC_REG_SIZE)
    if rest:
        raise ScenarioError(
            f"{name}: byte {full * KVM_APIC_REG_SIZE}",
            f"truncated page ({rest} bytes; a kvm_lapic_state page is {KVM_APIC_REG_SIZE} bytes)",
        )
    check_vcpu_count(full, name)
    return [(n * KVM_APIC_REG_SIZE, chunk[n * KVM_APIC_REG_SIZE:(n + 1) * KVM_APIC_REG_SIZE]) for n in range(full)]


def _x2apic_warnings(regs: LapicRegs, vcpu: Vcpu, use_32bit_ids: bool, where: str) -> list[str]:
    """APIC_ID and LDR of an x2APIC-mode page checked against what KVM would report."""
    out = []
    vid = vcpu.id
    if use_32bit_ids:
        if regs.apic_id != vid:
            hint = ""
            if regs.apic_id & 0xFFFFFF == 0 and regs.apic_id >> 24 == vid & 0xFF:
                hint = " (it looks like the 8-bit layout, ID << 24: was KVM_X2APIC_API_USE_32BIT_IDS off?)"
            out.append(
                f"{where}: APIC_ID holds {fmt_id(regs.apic_id)}, but with 32-bit x2APIC IDs an x2APIC-mode "
                f"page holds the x2APIC ID, which KVM fixes to the vCPU ID {fmt_id(vid)} "
                f"(KVM_SET_LAPIC would refuse this page); wrong --ids?{hint}"
            )
    else:
        expected = (vid << 24) & U32_MAX
        if regs.apic_id != expected:
            hint = ""
            if regs.apic_id & 0xFFFFFF:
                hint = " (bits 23:0 are set: was the page saved with 32-bit IDs? then pass --x2apic-32bit-ids)"
            out.append(
                f"{where}: APIC_ID holds {fmt_id(regs.apic_id)}, but without 32-bit x2APIC IDs KVM reports an "
                f"x2APIC-mode vCPU's ID as (vCPU ID << 24) = {fmt_id(expected)} for vCPU {fmt_id(vid)}; "
                f"wrong --ids?{hint}"
            )
    if regs.ldr != vcpu.x2apic_ldr:
        out.append(
            f"{where}: LDR holds {fmt_id(regs.ldr)}, but in x2APIC mode the LDR is read-only and derived from "
            f"the x2APIC ID: {fmt_id(vcpu.x2apic_ldr)} for vCPU {fmt_id(vid)}; the model uses the derived value"
        )
    return out


def _xapic_warnings(regs: LapicRegs, vcpu: Vcpu, where: str, mode_known: bool) -> list[str]:
    """Bits an xAPIC-mode APIC does not have, and IDs that differ from KVM's reset value."""
    out = []
    if regs.apic_id & 0xFFFFFF or regs.ldr & 0xFFFFFF:
        hint = "" if mode_known else "; is this vCPU in x2APIC mode? give its IA32_APIC_BASE with --apic-base"
        out.append(
            f"{where}: APIC_ID {fmt_id(regs.apic_id)} / LDR {fmt_id(regs.ldr)} use bits 23:0, which an "
            f"xAPIC-mode APIC does not have; KVM uses bits 31:24 only (xAPIC ID {fmt_id(vcpu.xapic_id)}, "
            f"logical ID {fmt_id(vcpu.logical_id)}){hint}"
        )
    if vcpu.present and vcpu.xapic_id != vcpu.id & 0xFF:
        out.append(
            f"{where}: xAPIC ID {fmt_id(vcpu.xapic_id)} is not the low byte of the vCPU ID "
            f"({fmt_id(vcpu.id & 0xFF)}): the guest or userspace rewrote APIC_ID, or --ids is wrong"
        )
    if vcpu.present and vcpu.dfr_model == "neither":
        out.append(
            f"{where}: DFR {vcpu.dfr:#010x} is neither flat (0xffffffff) nor cluster (0x0fffffff); "
            f"no logical destination matches this vCPU"
        )
    return out


def import_lapic_sources(
    sources: list[tuple[str, bytes]],
    ids: list[int] | None,
    apic_bases: list[int] | None,
    x2apic_32bit_ids: bool,
) -> ImportResult:
    """Import the pages of several files, concatenated in order; errors name the file and byte."""
    if not sources:
        raise ScenarioError("", "no input: give at least one file of kvm_lapic_state pages")
    pages: list[tuple[str, int, bytes]] = []
    for name, chunk in sources:
        pages.extend((name, offset, page) for offset, page in split_pages(bytes(chunk), name))
        check_vcpu_count(len(pages), name)
    names = ", ".join(name for name, _ in sources[:3])
    if len(sources) > 3:
        names += f" and {len(sources) - 3} more files"
    what = f"{len(pages)} page{'' if len(pages) == 1 else 's'} in {names}"
    warnings: list[str] = []
    if ids is None:
        ids = list(range(len(pages)))
        if len(pages) > 1:
            warnings.append(
                "no --ids given: the vCPU IDs are taken to be 0, 1, 2, … in page order "
                "(a kvm_lapic_state page does not say which vCPU it belongs to)"
            )
    ids = check_ids(list(ids), len(pages), what)
    if apic_bases is None:
        modes = ["xapic"] * len(pages)
        warnings.append(
            "no --apic-base given: every vCPU is taken to be in xAPIC mode "
            "(the mode lives in IA32_APIC_BASE, not in the register page)"
        )
    else:
        bases = spread(list(apic_bases), len(pages), "--apic-base", what)
        if len(apic_bases) == 1:
            modes = [apic_mode_from_base(bases[0], "--apic-base")] * len(pages)
        else:
            modes = [apic_mode_from_base(b, f"--apic-base[{n}]") for n, b in enumerate(bases)]
    scenario = Scenario()
    scenario.kvm.use_32bit_ids = bool(x2apic_32bit_ids)
    odd_version: list[str] = []
    for (name, offset, page), vid, mode in zip(pages, ids, modes, strict=True):
        regs = decode_lapic_page(page)
        where = f"{name}: byte {offset} (vCPU {fmt_id(vid)})"
        sw_enabled = bool(regs.spiv & SPIV_APIC_ENABLED)
        if mode == "x2apic":
            vcpu = Vcpu(id=vid, apic=mode, sw_enabled=sw_enabled, dfr=regs.dfr)
            warnings.extend(_x2apic_warnings(regs, vcpu, scenario.kvm.use_32bit_ids, where))
        else:
            vcpu = Vcpu(id=vid, apic=mode, sw_enabled=sw_enabled, xapic_id=regs.apic_id >> 24,
                        logical_id=regs.ldr >> 24, dfr=regs.dfr)
            warnings.extend(_xapic_warnings(regs, vcpu, where, apic_bases is not None))
        if regs.version & 0xFF != KVM_APIC_VERSION:
            odd_version.append(f"{name}: byte {offset}")
        scenario.vcpus.append(vcpu)
    if odd_version:
        shown = ", ".join(odd_version[:4]) + (", …" if len(odd_version) > 4 else "")
        warnings.append(
            f"{len(odd_version)} of {len(pages)} pages lack KVM's APIC version {KVM_APIC_VERSION:#x} in bits 7:0 "
            f"of the version register (offset {APIC_LVR:#x}) — {shown}; are these really KVM_GET_LAPIC pages?"
        )
    return finish(scenario, warnings, COMMAND, names)


def import_lapic_state(
    pages: bytes,
    ids: list[int] | None,
    apic_bases: list[int] | None,
    x2apic_32bit_ids: bool,
    source_name: str,
) -> ImportResult:
    """Import the pages of one buffer (one file, or several already concatenated)."""
    return import_lapic_sources([(source_name, pages)], ids, apic_bases, x2apic_32bit_ids)


__all__ = [
    "APIC_DFR", "APIC_ID", "APIC_LDR", "APIC_LVR", "APIC_SPIV", "KVM_APIC_REG_SIZE", "LapicRegs",
    "apic_mode_from_base", "decode_lapic_page", "encode_lapic_page", "import_lapic_sources", "import_lapic_state",
    "split_pages",
]
