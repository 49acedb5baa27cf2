"""The public KVM vectors, in-process: every case from the real kernel functions must match.

The cases are the repository's copy (tests/data/vectors/kvm-public.jsonl), so a
plain clone checks itself; tests/check_vectors.py runs the same cases through
the CLI, and run-tests also runs ``../shared/tools/check-vectors`` when the
shared copy sits beside the checkout.
"""
from __future__ import annotations

from pathlib import Path

import pytest
from vector_fields import REPO_VECTORS, SHARED_VECTORS, differences, load_cases

from apicviz.model import evaluate, scenario_from_dict

ROOT = Path(__file__).resolve().parents[1]
CASES = load_cases(REPO_VECTORS)
#: How many cases the public set had when it was copied in; fewer means a damaged copy.
PUBLIC_CASES = 319


def test_repository_copy_holds_every_public_case():
    assert len(CASES) == PUBLIC_CASES
    assert len({c["name"] for c in CASES}) == len(CASES)


def test_repository_copy_is_the_shared_one():
    """The shared vectors are truth: a copy that drifted from them must be refreshed."""
    if not SHARED_VECTORS.exists():
        pytest.skip(f"{SHARED_VECTORS} is not beside this checkout (a plain clone): nothing to compare")
    assert REPO_VECTORS.read_bytes() == SHARED_VECTORS.read_bytes(), (
        f"copy {SHARED_VECTORS} to {REPO_VECTORS.relative_to(ROOT)}")


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_public_vector(case: dict) -> None:
    got = evaluate(scenario_from_dict(case["scenario"])).to_json()
    assert differences(case["expected"], got) == []


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
