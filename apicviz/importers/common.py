"""What every importer shares: the result type, per-vCPU option lists, title and notes.

Importers turn foreign dumps into a :class:`~apicviz.model.Scenario`. They
never print and never write files; they return the scenario together with the
warnings a user should read, and raise :class:`ScenarioError` (naming the file
and the line or byte) for anything they cannot turn into a valid scenario.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from ..model.errors import ScenarioError, quote
from ..model.numbers import fmt_id, parse_int
from ..model.scenario import APIC_MODES, MAX_VCPU_ID, MAX_VCPUS, Scenario, check_scenario, scenario_warnings

#: More warnings than this are summarised in the notes and on the terminal.
MAX_LISTED_WARNINGS = 100


@dataclass
class ImportResult:
    """A validated scenario plus the warnings the import produced (in input order)."""

    scenario: Scenario
    warnings: list[str] = field(default_factory=list)


def parse_id_list(text: str, option: str = "--ids") -> list[int]:
    """``"0,1,0x123"`` -> ``[0, 1, 0x123]``; every item goes through :func:`parse_int`."""
    items = text.split(",")
    if len(items) > MAX_VCPUS:
        raise ScenarioError(option, f"{len(items)} IDs; at most {MAX_VCPUS} vCPUs")
    return [parse_int(item, f"{option}[{n}]", 0, MAX_VCPU_ID) for n, item in enumerate(items)]


def parse_mode_list(text: str, option: str = "--mode") -> list[str]:
    """``"xapic"`` or ``"xapic,x2apic,disabled"``; names are matched case-insensitively."""
    items = [item.strip().lower() for item in text.split(",")]
    if len(items) > MAX_VCPUS:
        raise ScenarioError(option, f"{len(items)} modes; at most {MAX_VCPUS} vCPUs")
    for n, item in enumerate(items):
        if item not in APIC_MODES:
            raise ScenarioError(f"{option}[{n}]", f"{quote(item)} is not a mode; use one of {', '.join(APIC_MODES)}")
    return items


def check_ids(ids: list[int], count: int, what: str) -> list[int]:
    """One ID per vCPU, each in range, no repeats; ``what`` names the input ("3 pages")."""
    if len(ids) != count:
        few = "too few" if len(ids) < count else "too many"
        raise ScenarioError("--ids", f"{len(ids)} IDs for {count} vCPUs ({what}): {few}; give one ID per vCPU")
    seen: dict[int, int] = {}
    for n, vcpu_id in enumerate(ids):
        if isinstance(vcpu_id, bool) or not isinstance(vcpu_id, int):
            raise ScenarioError(f"--ids[{n}]", f"expected an integer, got {type(vcpu_id).__name__}")
        parse_int(vcpu_id, f"--ids[{n}]", 0, MAX_VCPU_ID)
        if vcpu_id in seen:
            raise ScenarioError(
                f"--ids[{n}]", f"{fmt_id(vcpu_id)} is already --ids[{seen[vcpu_id]}]; vCPU IDs are unique"
            )
        seen[vcpu_id] = n
    return list(ids)


def spread(values: list[str] | list[int], count: int, option: str, what: str) -> list:
    """One value for every vCPU, or one per vCPU: the two forms a per-vCPU option accepts."""
    if len(values) == 1:
        return list(values) * count
    if len(values) != count:
        raise ScenarioError(
            option, f"{len(values)} values for {count} vCPUs ({what}); give one for all or one per vCPU"
        )
    return list(values)


def check_vcpu_count(count: int, where: str) -> None:
    if count > MAX_VCPUS:
        raise ScenarioError(where, f"{count} vCPUs; at most {MAX_VCPUS} (KVM_MAX_VCPUS)")


def limit_warnings(warnings: list[str], limit: int = MAX_LISTED_WARNINGS) -> list[str]:
    """The first ``limit`` warnings and a line saying how many were left out."""
    if len(warnings) <= limit:
        return list(warnings)
    return [*warnings[:limit], f"… and {len(warnings) - limit} more warnings"]


def finish(scenario: Scenario, warnings: list[str], command: str, source_name: str) -> ImportResult:
    """Title, notes and the final checks every importer ends with.

    The scenario is checked here so that an importer bug shows up as a
    ScenarioError at import time, never as a file that later fails to load.
    """
    count = len(scenario.vcpus)
    scenario.title = f"Imported from {source_name} ({count} vCPU{'' if count == 1 else 's'})"
    check_scenario(scenario)
    warnings = warnings + scenario_warnings(scenario)
    notes = [f"Imported with `apicviz import {command}` from {source_name}."]
    if warnings:
        notes.append("Warnings:")
        notes.extend(f"- {w}" for w in limit_warnings(warnings))
    scenario.notes = "\n".join(notes)
    return ImportResult(scenario=scenario, warnings=warnings)
