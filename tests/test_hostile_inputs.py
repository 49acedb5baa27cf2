"""Hostile inputs up to the size limits are refused (or accepted) cheaply, with a short message.

Each case runs in a fresh process whose peak RSS (VmHWM) is checked against
300 MB; the subprocess timeout is only a hang guard — the measured times are
in ``benchmarks/bench_hostile.py``.
"""
from __future__ import annotations

import json
import subprocess
import sys

import pytest
from hostile_inputs import CASES, largest_valid_scenario, run_case

from apicviz.model.errors import MAX_FIELD, MAX_MESSAGE

PEAK_MB = 300
EVAL_PEAK_MB = 1024
MESSAGE_CHARS = MAX_FIELD + MAX_MESSAGE + 40


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_hostile_input_is_handled_in_bounded_memory(case, tmp_path) -> None:
    result = run_case(case, tmp_path / "case")
    assert result["peak_mb"] <= PEAK_MB, f"{case.name}: peak {result['peak_mb']:.0f} MB"
    if case.accepted:
        assert result["error"] is None
    else:
        assert result["error"], f"{case.name} was accepted"
        assert len(result["error"]) <= MESSAGE_CHARS
        assert "\n" not in result["error"]


EVAL_CHILD = r"""
import os, sys
from apicviz.cli import main
real = sys.stdout
sys.stdout = open(os.devnull, "w")
status = main(["eval", "--json", sys.argv[1]])
peak_kb = next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmHWM:"))
real.write(f"{status} {peak_kb / 1024}\n")
"""


@pytest.mark.parametrize("delivery", ["lowest", "fixed"])
def test_largest_valid_scenario_evaluates_within_a_gigabyte(delivery, tmp_path) -> None:
    """4096 vCPUs and the interrupt limit, each interrupt a logical broadcast: eval --json stays bounded."""
    path = tmp_path / "largest.apicviz.json"
    path.write_text(json.dumps(largest_valid_scenario(delivery)))
    out = subprocess.run([sys.executable, "-c", EVAL_CHILD, str(path)], capture_output=True, text=True,
                         timeout=120, check=True)
    status, peak = out.stdout.split()
    assert status == "0"
    assert float(peak) <= EVAL_PEAK_MB


def test_one_interrupt_over_the_limit_is_refused_naming_the_limit() -> None:
    from apicviz.model import ScenarioError, scenario_from_dict
    from apicviz.model.scenario import MAX_INTERRUPTS

    data = largest_valid_scenario()
    data["interrupts"].append(data["interrupts"][0])
    with pytest.raises(ScenarioError, match=f"at most {MAX_INTERRUPTS} .the interrupt limit per scenario"):
        scenario_from_dict(data)
