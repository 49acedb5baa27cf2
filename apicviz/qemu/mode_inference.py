"""Infer each vCPU's APIC mode from what QMP shows without the migration stream — and say how.

Only ``IA32_APIC_BASE`` tells the mode for sure, and QMP shows it only in
the migration stream. Other readings rule a mode out:

* the CPU model lacks x2APIC (``qom-get <cpu> x2apic`` false, always so
  under QEMU 7.2's TCG): only xAPIC (or hardware-disabled) is possible;
* ``<cpu>/lapic id`` reads the xAPIC ID register in xAPIC mode but the APIC
  ID in x2APIC mode: a value other than the APIC ID means xAPIC, a value
  above 0xff means x2APIC;
* ``info lapic`` prints LDR bits 31:24; an x2APIC LDR there is
  ``APIC ID >> 12`` (0 below 0x1000), so anything else means xAPIC, and a
  value wider than 8 bits (QEMU's own x2APIC since 9.0) means x2APIC.

A vCPU none of these rule on is assumed to be in xAPIC mode, with a warning
naming it. A hardware-disabled APIC is never detected this way.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from ..model.numbers import fmt_id, id_list


class _Reading(Protocol):
    apic_id: int
    xapic_id_reg: int
    x2apic_cpuid: bool | None

    @property
    def dump(self): ...  # a LapicDump with .ldr


@dataclass(frozen=True)
class ModeGuess:
    """The mode chosen for one vCPU, whether the readings prove it, and the reason code."""

    mode: str
    certain: bool
    reason: str  # no_x2apic_cpuid | wide_ldr | wide_id | xapic_id_differs | ldr_set | ambiguous


REASON_TEXT = {
    "no_x2apic_cpuid": "xAPIC: the CPU model has no x2APIC (CPUID), so no other mode is possible",
    "wide_ldr": "x2APIC: the LDR printed by info lapic is wider than 8 bits, which only an x2APIC LDR is",
    "wide_id": "x2APIC: the lapic id reads the APIC ID above 0xff, which no 8-bit xAPIC ID register holds",
    "xapic_id_differs": "xAPIC: the lapic id reads the xAPIC ID register, which differs from the APIC ID "
                        "(in x2APIC mode it would read the APIC ID)",
    "ldr_set": "xAPIC: info lapic shows an LDR an x2APIC vCPU could not have (its bits 31:24 would be APIC ID >> 12)",
    "ambiguous": "assumed xAPIC: the lapic id equals the APIC ID and the LDR reads as an x2APIC vCPU's would, so "
                 "nothing QMP shows without the migration stream tells xAPIC from x2APIC",
}


def infer_mode(reading: _Reading) -> ModeGuess:
    ldr = reading.dump.ldr or 0
    if reading.x2apic_cpuid is False:
        return ModeGuess("xapic", True, "no_x2apic_cpuid")
    if ldr > 0xFF:
        return ModeGuess("x2apic", True, "wide_ldr")
    if reading.xapic_id_reg > 0xFF and reading.xapic_id_reg == reading.apic_id:
        return ModeGuess("x2apic", True, "wide_id")
    if reading.xapic_id_reg != reading.apic_id:
        return ModeGuess("xapic", True, "xapic_id_differs")
    if ldr != (reading.apic_id >> 12) & 0xFF:
        return ModeGuess("xapic", True, "ldr_set")
    return ModeGuess("xapic", False, "ambiguous")


def infer_modes(readings: Sequence[_Reading]) -> list[ModeGuess]:
    return [infer_mode(r) for r in readings]


def summarize_inference(readings: Sequence[_Reading], guesses: Sequence[ModeGuess]) -> tuple[list[str], list[str]]:
    """Note lines (every vCPU's basis, grouped) and one warning per vCPU whose mode is only assumed."""
    groups: dict[str, list[int]] = {}
    for reading, guess in zip(readings, guesses, strict=True):
        groups.setdefault(guess.reason, []).append(reading.apic_id)
    lines = [("Modes inferred, not read (attach without --mode-from-migration; IA32_APIC_BASE is only in the "
             "migration stream; a hardware-disabled APIC would not show):")]
    for reason, text in REASON_TEXT.items():
        if reason in groups:
            ids = groups[reason]
            lines.append(f"- vCPU{'s' if len(ids) > 1 else ''} {id_list(ids)}: {text}.")
    warnings = [
        f"vCPU {fmt_id(r.apic_id)}: mode assumed xAPIC: lapic id {fmt_id(r.xapic_id_reg)} equals its APIC ID and "
        f"info lapic shows LDR {fmt_id(r.dump.ldr or 0)}, as in x2APIC mode; run attach --mode-from-migration to know"
        for r, g in zip(readings, guesses, strict=True) if not g.certain
    ]
    return lines, warnings


__all__ = ["REASON_TEXT", "ModeGuess", "infer_mode", "infer_modes", "summarize_inference"]
