"""The public KVM vectors, in-process: every case from the real kernel functions must match.

``../shared/tools/check-vectors`` runs the same cases through the CLI (run-tests
does both); this copy points at the failing case by name inside pytest.
"""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from apicviz.model import evaluate, scenario_from_dict

ROOT = Path(__file__).resolve().parents[1]
VECTORS = ROOT.parent / "shared" / "vectors" / "kvm-public.jsonl"
MAP_KEYS = ("max_apic_id", "phys_map", "logical_mode", "xapic_flat_map", "xapic_cluster_map")
IRQ_KEYS = ("path", "targets", "accepted", "slow_path_targets")


def _cases() -> list[dict]:
    if not VECTORS.exists():
        return []
    return [json.loads(line) for line in VECTORS.read_text().splitlines() if line.strip()]


def kvm_fields(ev: dict) -> dict:
    """The kernel-decided part of an evaluation (as check-vectors compares it)."""
    m = ev["map"]
    out = {"behaviour": ev["kernel"]["behaviour"], "status": m["status"],
           "inhibits": sorted(ev["apicv_inhibits"])}
    if m["status"] == "optimized":
        out.update({k: m[k] for k in MAP_KEYS})
    out["interrupts"] = [{k: irq[k] for k in IRQ_KEYS} for irq in ev["interrupts"]]
    return out


CASES = _cases()


@pytest.mark.skipif(not CASES, reason="shared/vectors not beside this checkout")
@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_public_vector(case: dict) -> None:
    got = evaluate(scenario_from_dict(case["scenario"])).to_json()
    assert kvm_fields(got) == kvm_fields(case["expected"])


def test_examples_evaluate() -> None:
    """Every shipped example loads, evaluates and teaches something visible (a drop or no map)."""
    from apicviz.model import load_scenario

    examples = sorted((ROOT / "apicviz" / "resources" / "examples").glob("*.apicviz.json"))
    assert len(examples) >= 8
    for path in examples:
        scenario = load_scenario(path)
        assert scenario.title, path.name
        assert scenario.notes, path.name
        ev = evaluate(scenario)
        assert ev.result.status == "none" or any(r.dropped or r.path == "slow" for r in ev.routes), path.name
