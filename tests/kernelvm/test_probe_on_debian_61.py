"""The seed change shown by the kernels themselves: Debian's real 6.1 inside a throwaway VM.

The public vectors whose accepted vCPUs differ between the 5.3-6.2 and 6.3+
models (aliasing, the hotplug hack, multi-bit logical IDs, ...) are probed on
the real 6.1 kernel. Every interrupt it can express must agree with the model
for 6.1, and must disagree with the model for 6.18 exactly where the two
models differ.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from apicviz.model import evaluate, scenario_from_dict

VECTORS = Path(__file__).resolve().parents[1] / "data" / "vectors" / "kvm-public.jsonl"
HOTPLUG = ("hand-b-hotplug-",)
#: Under TCG every vCPU costs the guest's KVM real time; the big generated VMs
#: add minutes and no situation the small ones lack.
MAX_VCPUS = 64


def _with_kernel(scenario: dict, kernel: str) -> dict:
    copy = json.loads(json.dumps(scenario))
    copy.setdefault("kvm", {})["kernel"] = kernel
    return copy


def _accepted(scenario: dict, kernel: str) -> list[list[int]]:
    ev = evaluate(scenario_from_dict(_with_kernel(scenario, kernel))).to_json()
    return [irq["accepted"] for irq in ev["interrupts"]]


def _cases() -> list[dict]:
    cases = []
    for line in VECTORS.read_text().splitlines():
        case = json.loads(line)
        scenario = case["scenario"]
        if len(scenario["vcpus"]) > MAX_VCPUS:
            continue
        if case["name"].startswith(HOTPLUG) or _accepted(scenario, "6.1") != _accepted(scenario, "6.18"):
            cases.append(case)
    return cases


def test_real_61_agrees_with_the_61_model_and_differs_from_618_where_the_ranges_do(
        debian_61_deb: Path, tmp_path: Path) -> None:
    cases = _cases()
    assert len(cases) >= 20, "the vectors should hold many cases where 6.1 and 6.18 differ"
    files = []
    for n, case in enumerate(cases):
        path = tmp_path / f"{n:03d}-{case['name']}.apicviz.json"
        path.write_text(json.dumps(case["scenario"]))
        files.append(path)
    trace = tmp_path / "ioctl-trace.txt"  # the guest's ioctls: where a hung probe hangs
    proc = subprocess.run([sys.executable, "-m", "apicviz", "probe", "--json", "--timeout", "900",
                           "--kernel-package", str(debian_61_deb), *map(str, files)],
                          check=False, capture_output=True, text=True, timeout=1000,
                          env={**os.environ, "APICVIZ_PROBE_TRACE": str(trace)})
    last_calls = trace.read_text().splitlines()[-12:] if trace.is_file() else ["(no trace)"]
    assert proc.returncode in (0, 1), proc.stderr[:3000] + "\nlast ioctls in the guest:\n" + "\n".join(last_calls)
    assert trace.is_file()  # the guest's trace came back
    assert " KVM_CREATE_VM" in trace.read_text()
    lines = [json.loads(x) for x in proc.stdout.splitlines() if x.strip()]
    assert len(lines) == len(files)
    compared = skipped = differ_from_618 = 0
    for case, line in zip(cases, lines, strict=True):
        assert line["host"]["kernel"] == "6.1", line["host"]
        assert line["host"]["behaviour"] == "5.3-6.2", line["host"]
        if line["skipped"]:
            skipped += len(case["scenario"].get("interrupts", []))
            continue
        upstream = _accepted(case["scenario"], "6.18")
        for n, irq in enumerate(line["interrupts"]):
            if "skipped" in irq:
                skipped += 1
                continue
            compared += 1
            assert irq["host_accepted"] == irq["model_accepted"], (case["name"], n, irq)
            model_61 = irq["model_accepted"]
            if model_61 != upstream[n]:
                differ_from_618 += 1
                assert irq["host_accepted"] != upstream[n], (case["name"], n)
            else:
                assert irq["host_accepted"] == upstream[n], (case["name"], n)
    print(f"\nreal 6.1 kernel: {compared} interrupts compared, {skipped} not expressible, "
          f"{differ_from_618} where 6.1 and the 6.18 model differ")
    assert compared > 0, "the comparison ran on nothing"
    assert differ_from_618 > 0, "no interrupt showed the 6.3 change"


def test_not_a_kernel_is_a_clear_error(tmp_path: Path) -> None:
    scenario = tmp_path / "one.apicviz.json"
    scenario.write_text(json.dumps({"format": "apicviz-scenario", "version": 1, "vcpus": [{"id": 0}]}))
    junk = tmp_path / "vmlinuz-junk"
    junk.write_bytes(b"\0" * 4096)
    proc = subprocess.run([sys.executable, "-m", "apicviz", "probe", "--kernel", str(junk), str(scenario)],
                          check=False, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert "is not an x86 kernel image" in proc.stderr
    assert "Traceback" not in proc.stderr


@pytest.mark.parametrize(("args", "message"), [(["--modules", "/nonexistent"], "--modules needs --kernel")])
def test_modules_without_kernel(tmp_path: Path, args: list[str], message: str) -> None:
    scenario = tmp_path / "one.apicviz.json"
    scenario.write_text(json.dumps({"format": "apicviz-scenario", "version": 1, "vcpus": [{"id": 0}]}))
    proc = subprocess.run([sys.executable, "-m", "apicviz", "probe", *args, str(scenario)],
                          check=False, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert message in proc.stderr
