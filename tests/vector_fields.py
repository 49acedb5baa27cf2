"""The public KVM vectors (tests/data/vectors/kvm-public.jsonl): loading them and the fields they fix.

Each line is ``{"name", "scenario", "expected"}``; ``expected`` holds only what
the kernel's own functions decided (FORMAT.md "Evaluation"). Both the pytest
suite (in-process) and ``tests/check_vectors.py`` (through the CLI) compare
exactly these fields, so a plain clone checks itself against the kernel.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

REPO_VECTORS = Path(__file__).resolve().parent / "data" / "vectors" / "kvm-public.jsonl"
#: The copy every engineer shares, beside the checkout (absent in a plain clone).
SHARED_VECTORS = Path(__file__).resolve().parents[2] / "shared" / "vectors" / "kvm-public.jsonl"
#: Map fields the kernel fixes when the map is optimized (a NULL map has none).
MAP_FIELDS = ("max_apic_id", "phys_map", "logical_mode", "xapic_flat_map", "xapic_cluster_map")
#: Per-interrupt fields the kernel fixes.
ROUTE_FIELDS = ("path", "targets", "accepted", "slow_path_targets")


def load_cases(path: Path = REPO_VECTORS) -> list[dict[str, Any]]:
    with path.open(encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def kernel_decided(evaluation: dict[str, Any]) -> dict[str, Any]:
    """``field path -> value`` for the kernel-decided part of one ``eval --json`` object.

    Flat paths (``interrupts[2].targets``) so a mismatch names the field; an
    evaluation that failed is kept as its error, which never equals a result.
    """
    if "error" in evaluation or "map" not in evaluation:
        return {"error": evaluation.get("error", "no map in the evaluation")}
    the_map = evaluation["map"]
    fields: dict[str, Any] = {
        "kernel.behaviour": evaluation["kernel"]["behaviour"],
        "map.status": the_map["status"],
        "apicv_inhibits": sorted(evaluation["apicv_inhibits"]),
    }
    if the_map["status"] == "optimized":
        fields.update({f"map.{key}": the_map[key] for key in MAP_FIELDS})
    for n, route in enumerate(evaluation["interrupts"]):
        fields.update({f"interrupts[{n}].{key}": route[key] for key in ROUTE_FIELDS})
    return fields


def differences(expected: dict[str, Any], got: dict[str, Any]) -> list[str]:
    """One readable line per field that differs, in field order."""
    want, have = kernel_decided(expected), kernel_decided(got)
    return [f"{key}: expected {json.dumps(want.get(key))}, got {json.dumps(have.get(key))}"
            for key in sorted(want.keys() | have.keys()) if want.get(key) != have.get(key)]
