"""Severity classes (KVM-BEHAVIOUR.md section 10) on hand-made cases of each kind, and their invariants.

Every expected class and reason below was worked out by hand from the
routing rules (which vCPUs the fast path, the slow path and hardware
pick), not by running the model first.
"""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from hypothesis import given
from model_strategies import scenarios_with_messages
from test_model_properties import SETTINGS, scenarios

from apicviz.model import evaluate, scenario_from_dict
from apicviz.model.scenario import Scenario
from apicviz.model.severity import (
    AGREE,
    DIFFERS_FROM_HARDWARE,
    KVM_BY_DESIGN,
    KVM_INCONSISTENT,
    Finding,
    Verdict,
)
from apicviz.model.sweep import sweep

APICVIZ = Path(sys.executable).with_name("apicviz")


def route_json(kernel: str, vcpus: list[dict], irq: dict, **kvm) -> dict:
    """The evaluation JSON of the one interrupt ``irq``."""
    raw = {"format": "apicviz-scenario", "version": 1,
           "kvm": {"kernel": kernel, "x2apic_api": {"use_32bit_ids": kvm.get("use_32bit_ids", False),
                                                    "disable_broadcast_quirk": kvm.get("quirk_disabled", False)}},
           "vcpus": vcpus, "interrupts": [irq]}
    return evaluate(scenario_from_dict(raw)).to_json()["interrupts"][0]


def findings(r: dict) -> list[tuple[int, str, str, str]]:
    return [(f["vcpu"], f["kind"], f["severity"], f["reason"]) for f in r["findings"]]


def ipi(source: int, dest: int, mode: str = "physical", delivery: str = "fixed") -> dict:
    return {"source": source, "dest_mode": mode, "dest": dest, "delivery": delivery, "vector": 48}


def msi(dest: int, mode: str = "physical") -> dict:
    return {"source": None, "dest_mode": mode, "dest": dest, "vector": 48}


# ----- red: the optimized map disagrees with the slow path ------------------------------------

def test_aliased_xapic_id_before_6_3_is_kvm_inconsistent():
    """6.1, vCPU 1 rewrote its xAPIC ID to 0: phys_map[0] keeps vCPU 0; slow path and hardware pick both."""
    r = route_json("6.1", [{"id": 0}, {"id": 1, "xapic_id": 0}], ipi(0, 0))
    assert (r["targets"], r["slow_path_targets"], r["hardware_targets"]) == ([0], [0, 1], [0, 1])
    assert r["severity"] == KVM_INCONSISTENT
    assert r["reasons"] == ["fast_path_differs"]
    assert findings(r) == [(1, "dropped", KVM_INCONSISTENT, "fast_path_differs")]


def test_hotplug_slot_loser_is_kvm_inconsistent():
    """Section 7 "hotplug hack" on 6.1: an IPI to 0x23 reaches phys_map[0x23] only; 0x123 (xAPIC ID 0x23) lost."""
    vcpus = [{"id": 0, "apic": "x2apic"}, {"id": 0x23}, {"id": 0x123, "xapic_id": 0x23}]
    r = route_json("6.1", vcpus, ipi(0, 0x23), use_32bit_ids=True)
    assert (r["targets"], r["slow_path_targets"]) == ([0x23], [0x23, 0x123])
    assert findings(r) == [(0x123, "dropped", KVM_INCONSISTENT, "fast_path_differs")]


def test_extra_delivery_from_a_wrapped_slot_is_kvm_inconsistent():
    """5.2: an x2APIC vCPU 0x100000 (LDR wraps to 0x1) overwrites phys_map[0]; a physical IPI to 0 reaches it."""
    vcpus = [{"id": 0, "apic": "x2apic"}, {"id": 0x100000, "apic": "x2apic"}]
    r = route_json("5.2", vcpus, ipi(0, 0))
    assert (r["targets"], r["slow_path_targets"], r["hardware_targets"]) == ([0x100000], [0], [0])
    assert sorted(findings(r)) == [(0, "dropped", KVM_INCONSISTENT, "fast_path_differs"),
                                   (0x100000, "extra", KVM_INCONSISTENT, "fast_path_differs")]


def test_lowest_priority_hashing_into_a_hole_is_kvm_inconsistent():
    """Section 7: flat IDs 1, 2 (sw-disabled), 4 on 6.1; lowest to 0x03 vector 33 picks the empty bit 1."""
    vcpus = [{"id": 0, "logical_id": 1}, {"id": 1, "logical_id": 2, "sw_enabled": False}, {"id": 2, "logical_id": 4}]
    irq = {"source": 0, "dest_mode": "logical", "dest": 3, "delivery": "lowest", "vector": 33}
    r = route_json("6.1", vcpus, irq)
    assert (r["targets"], r["slow_path_targets"], r["dropped"]) == ([], [0], [0])
    assert r["severity"] == KVM_INCONSISTENT
    assert findings(r) == [(0, "dropped", KVM_INCONSISTENT, "fast_path_differs")]


# ----- amber: documented choices ---------------------------------------------------------------

def test_hotplug_hack_extra_is_by_design():
    """6.1: xAPIC vCPU 0x123 with xAPIC ID 5 sits in phys_map[0x123]; hardware sees only 0x23 and nobody has it."""
    vcpus = [{"id": 0, "apic": "x2apic"}, {"id": 0x123, "xapic_id": 5}]
    r = route_json("6.1", vcpus, ipi(0, 0x123))
    assert (r["targets"], r["slow_path_targets"], r["hardware_targets"]) == ([0x123], [0x123], [])
    assert r["severity"] == KVM_BY_DESIGN
    assert r["reasons"] == ["hotplug_hack"]
    assert findings(r) == [(0x123, "extra", KVM_BY_DESIGN, "hotplug_hack")]


def test_hotplug_hack_only_in_the_slow_path_is_by_design():
    """Upstream without 32-bit IDs: no hotplug slot, so the fast path agrees with hardware; the slow path does not."""
    vcpus = [{"id": 0, "apic": "x2apic"}, {"id": 0x123, "xapic_id": 5}]
    r = route_json("upstream", vcpus, ipi(0, 0x123))
    assert (r["path"], r["targets"], r["slow_path_targets"], r["hardware_targets"]) == ("fast", [], [0x123], [])
    assert (r["dropped"], r["extra"]) == ([], [])
    assert findings(r) == [(0x123, "slow_path_only", KVM_BY_DESIGN, "hotplug_hack")]
    assert r["severity"] == KVM_BY_DESIGN


def test_no_8bit_truncation_is_by_design():
    """Upstream with 32-bit IDs, one xAPIC vCPU: an MSI to 0x100 is above max_apic_id; hardware sees 0x00."""
    r = route_json("upstream", [{"id": 0}], msi(0x100), use_32bit_ids=True)
    assert (r["targets"], r["slow_path_targets"], r["hardware_targets"]) == ([], [], [0])
    assert findings(r) == [(0, "dropped", KVM_BY_DESIGN, "no_8bit_truncation")]


def test_broadcast_quirk_msi_to_all_ones_is_by_design():
    """Section 8.2: the quirk makes 0xffffffff no broadcast for an MSI; the fast path drops what the slow path
    gives every x2APIC vCPU. The xAPIC vCPU misses it for another reason: KVM does not truncate to 0xff."""
    vcpus = [{"id": 0, "apic": "x2apic"}, {"id": 1, "apic": "x2apic"}, {"id": 2}]
    r = route_json("upstream", vcpus, msi(0xFFFFFFFF), use_32bit_ids=True)
    assert (r["path"], r["targets"], r["slow_path_targets"], r["hardware_targets"]) == ("fast", [], [0, 1], [0, 1, 2])
    assert findings(r) == [(0, "dropped", KVM_BY_DESIGN, "broadcast_quirk"),
                           (1, "dropped", KVM_BY_DESIGN, "broadcast_quirk"),
                           (2, "dropped", KVM_BY_DESIGN, "no_8bit_truncation")]
    assert r["reasons"] == ["broadcast_quirk", "no_8bit_truncation"]


def test_broadcast_quirk_x2apic_sender_to_0xff_is_by_design():
    """Section 8.3: an x2APIC sender's IPI to 0xff goes to phys_map[0xff]; xAPIC vCPU 1 treats 0xff as broadcast."""
    r = route_json("6.1", [{"id": 0, "apic": "x2apic"}, {"id": 1}], ipi(0, 0xFF))
    assert (r["targets"], r["slow_path_targets"], r["hardware_targets"]) == ([], [1], [1])
    assert findings(r) == [(1, "dropped", KVM_BY_DESIGN, "broadcast_quirk")]


def test_broadcast_quirk_disabled_with_x2apic_logical_map_is_by_design():
    """Section 7 "broadcast quirk off": MSI physical 0xff is no broadcast for the x2APIC map, but xAPIC vCPU 3's."""
    vcpus = [{"id": 0, "apic": "x2apic"}, {"id": 1, "apic": "x2apic"}, {"id": 255, "apic": "x2apic"}, {"id": 3}]
    r = route_json("upstream", vcpus, msi(0xFF), quirk_disabled=True)
    assert (r["targets"], r["slow_path_targets"]) == ([255], [255, 3])  # creation order
    assert findings(r) == [(3, "dropped", KVM_BY_DESIGN, "broadcast_quirk")]


# ----- orange: anything else -------------------------------------------------------------------

def test_lowest_priority_broadcast_turned_fixed_differs_from_hardware():
    """Section 5 step 1: physical lowest to 0xff becomes fixed, so sw-disabled vCPU 1 is targeted; hardware
    would offer it only to the eligible (software-enabled) APIC 0."""
    vcpus = [{"id": 0}, {"id": 1, "sw_enabled": False}]
    r = route_json("6.1", vcpus, ipi(0, 0xFF, delivery="lowest"))
    assert (r["path"], r["targets"], r["hardware_targets"], r["extra"]) == ("slow", [0, 1], [0], [1])
    assert r["severity"] == DIFFERS_FROM_HARDWARE
    assert findings(r) == [(1, "extra", DIFFERS_FROM_HARDWARE, "lowest_broadcast_fixed")]


# ----- agree and ordering ----------------------------------------------------------------------

def test_agreement_has_no_findings():
    r = route_json("6.1", [{"id": 0}, {"id": 1}], ipi(0, 1))
    assert (r["severity"], r["reasons"], r["findings"]) == (AGREE, [], [])


def test_worst_finding_decides_red_over_orange_over_amber():
    amber = Finding(0, "dropped", "hotplug_hack")
    orange = Finding(1, "extra", "lowest_broadcast_fixed")
    red = Finding(2, "dropped", "fast_path_differs")
    assert Verdict((amber,)).severity == KVM_BY_DESIGN
    assert Verdict((amber, orange)).severity == DIFFERS_FROM_HARDWARE
    assert Verdict((orange, red, amber)).severity == KVM_INCONSISTENT
    assert Verdict((amber, red)).reasons == ["fast_path_differs", "hotplug_hack"]
    assert Verdict().severity == AGREE


# ----- readable output -------------------------------------------------------------------------

def test_eval_text_and_json_carry_the_class(tmp_path):
    raw = {"format": "apicviz-scenario", "version": 1, "kvm": {"kernel": "6.1"},
           "vcpus": [{"id": 0, "apic": "x2apic"}, {"id": 0x123, "xapic_id": 5}, {"id": 1, "xapic_id": 0}],
           "interrupts": [ipi(0, 0x123), ipi(0, 0)]}
    path = tmp_path / "s.apicviz.json"
    path.write_text(json.dumps(raw))
    text = subprocess.run([str(APICVIZ), "eval", str(path)], capture_output=True, text=True, timeout=60,
                          check=True).stdout
    first, second = text.split("\n[1]")
    assert "Severity: kvm_by_design (hotplug_hack)" in first
    assert "vCPU 0x123: extra — hotplug hack" in first
    assert "Severity: kvm_inconsistent (fast_path_differs)" in second
    assert "vCPU 0x1: dropped" in second
    line = subprocess.run([str(APICVIZ), "eval", "--json", str(path)], capture_output=True, text=True,
                          timeout=60, check=True).stdout
    data = json.loads(line)
    assert [r["severity"] for r in data["interrupts"]] == [KVM_BY_DESIGN, KVM_INCONSISTENT]
    rows = data["sweep"]["rows"]
    assert rows
    assert all(row["severity"] != AGREE and row["reasons"] for row in rows)
    assert data["sweep"]["severity"] == KVM_INCONSISTENT
    assert sum(data["sweep"]["by_severity"].values()) == len(rows)
    assert "[kvm_inconsistent] physical 0x0" in text


# ----- invariants ------------------------------------------------------------------------------

def _check_verdicts(sc: Scenario) -> None:
    ev = evaluate(sc)
    for n, (irq, r) in enumerate(zip(sc.interrupts, ev.routes, strict=True)):
        verdict = ev.verdict(n)
        kinds = {(f.vcpu, f.kind) for f in verdict.findings}
        # every dropped / extra vCPU is classified, under that kind
        assert {(i, "dropped") for i in r.dropped} | {(i, "extra") for i in r.extra} <= kinds
        if irq.delivery == "lowest":
            assert bool(verdict.findings) == bool(r.dropped or r.extra)
        else:
            agree = r.targets == r.slow_path_targets == r.hardware_targets
            assert bool(verdict.findings) != agree
        for f in verdict.findings:
            if f.severity == KVM_INCONSISTENT or f.reason == "broadcast_quirk":
                assert r.path == "fast"  # only the fast path can disagree with the slow path
            if f.kind == "slow_path_only":
                assert r.path == "fast"
                assert f.vcpu not in r.dropped + r.extra
    for row in sweep(ev).rows:
        assert row.severity != AGREE


@SETTINGS
@given(scenarios())
def test_every_disagreement_gets_a_class(sc):
    _check_verdicts(sc)


@SETTINGS
@given(scenarios_with_messages())
def test_every_disagreement_of_random_messages_gets_a_class(sc):
    _check_verdicts(sc)
