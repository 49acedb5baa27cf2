"""Helpers for the situation tests (tests/test_situations_*.py): scenarios the way a user writes them.

``run`` builds a scenario through ``scenario_from_dict`` (so FORMAT.md parsing
is exercised) and returns the evaluation JSON; ``route`` and ``optimized``
spell out the expected values, worked out by hand from KVM-BEHAVIOUR.md.
"""
from __future__ import annotations

from typing import Any

from apicviz.model import evaluate, scenario_from_dict

SEVERITY_KEYS = ("severity", "reasons", "findings")
OLD = ("5.2", "6.1")  # both pre-6.3 ranges: identical whenever no APIC is software-disabled
ALL = ("5.2", "6.1", "upstream")
BEHAVIOUR = {"4.11": "4.11-5.2", "5.2": "4.11-5.2", "5.3": "5.3-6.2", "6.1": "5.3-6.2", "6.2": "5.3-6.2",
             "6.3": "6.3+", "upstream": "6.3+"}


# ----- helpers ----------------------------------------------------------------------------------

def run(kernel: str, vcpus: list[dict], interrupts: list[dict] = (), *, use_32bit_ids: bool = False,
        quirk_disabled: bool = False, vector_hashing: bool = True, map_alloc_fails: bool = False) -> dict[str, Any]:
    raw = {
        "format": "apicviz-scenario",
        "version": 1,
        "kvm": {
            "kernel": kernel,
            "x2apic_api": {"use_32bit_ids": use_32bit_ids, "disable_broadcast_quirk": quirk_disabled},
            "vector_hashing": vector_hashing,
            "map_alloc_fails": map_alloc_fails,
        },
        "vcpus": vcpus,
        "interrupts": list(interrupts),
    }
    ev = evaluate(scenario_from_dict(raw)).to_json()
    assert ev["kernel"] == {"requested": kernel, "behaviour": BEHAVIOUR[kernel]}
    # The routes as FORMAT.md defines them; the severity keys are checked in test_severity.py.
    for r in ev["interrupts"]:
        for key in SEVERITY_KEYS:
            del r[key]
    return ev


def ipi(source: int, dest: int, mode: str = "physical", delivery: str = "fixed", vector: int = 48) -> dict:
    return {"source": source, "dest_mode": mode, "dest": dest, "delivery": delivery, "vector": vector}


def msi(dest: int, mode: str = "physical", delivery: str = "fixed", vector: int = 48) -> dict:
    return {"source": None, "dest_mode": mode, "dest": dest, "delivery": delivery, "vector": vector}


def short(source: int, shorthand: str, delivery: str = "fixed", vector: int = 48) -> dict:
    return {"source": source, "shorthand": shorthand, "delivery": delivery, "vector": vector}


def route(path: str, targets, accepted, slow, hardware, dropped=(), extra=()) -> dict:
    return {"path": path, "targets": list(targets), "accepted": list(accepted), "slow_path_targets": list(slow),
            "hardware_targets": list(hardware), "dropped": list(dropped), "extra": list(extra)}


def optimized(max_apic_id: int, phys: dict[int, int], mode: str, flat: dict[int, int] | None = None,
              cluster: dict[int, dict[int, int]] | None = None) -> dict:
    return {
        "status": "optimized",
        "reason": None,
        "reason_code": None,
        "max_apic_id": max_apic_id,
        "phys_map": {str(k): v for k, v in sorted(phys.items())},
        "logical_mode": mode,
        "xapic_flat_map": {str(k): v for k, v in (flat or {}).items()},
        "xapic_cluster_map": {str(c): {str(b): v for b, v in row.items()} for c, row in (cluster or {}).items()},
    }


def assert_no_map(ev: dict) -> None:
    """FORMAT.md: with status "none" only status and a reason in words are present."""
    assert ev["map"]["status"] == "none"
    assert set(ev["map"]) == {"status", "reason", "reason_code"}
    assert ev["map"]["reason_code"] in ("aliased_physical_id", "alloc_forced", "alloc_too_large")
    assert isinstance(ev["map"]["reason"], str)
    assert ev["map"]["reason"].strip()
