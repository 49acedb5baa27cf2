"""``kvm.smm`` (FORMAT.md "kvm", KVM-BEHAVIOUR.md section 6): without CONFIG_KVM_SMM no APIC accepts an SMI.

The SMI still reaches the same targets (the routing code does not look at
SMM); only acceptance changes. Kernels before 6.2 always had SMM, so
``false`` with such a kernel is an error naming the rule.
"""
from __future__ import annotations

import json

import pytest

from apicviz.model import ScenarioError, evaluate, load_scenario, save_scenario, scenario_from_dict
from apicviz.model.compare import compare, parse_kvm_overrides
from apicviz.model.explain import explain_route
from apicviz.model.scenario import KvmConfig, Scenario, check_scenario
from apicviz.model.scenario_file import scenario_to_dict

VCPUS = [{"id": 0, "logical_id": 1}, {"id": 1, "logical_id": 2, "sw_enabled": False},
         {"id": 2, "apic": "x2apic"}]
IRQS = [
    {"source": 0, "dest": 1, "delivery": "smi"},  # physical SMI to a software-disabled APIC
    {"source": None, "dest_mode": "logical", "dest": 3, "delivery": "smi"},
    {"source": 2, "shorthand": "all", "delivery": "smi"},
    {"source": 0, "dest": 0, "delivery": "nmi"},
    {"source": 0, "dest": 0, "delivery": "fixed", "vector": 48},
    {"source": 0, "dest": 1, "delivery": "init"},
]


def doc(kernel: str, smm: bool | None) -> dict:
    kvm: dict = {"kernel": kernel}
    if smm is not None:
        kvm["smm"] = smm
    return {"kvm": kvm, "vcpus": VCPUS, "interrupts": IRQS}


def test_default_is_true():
    sc = scenario_from_dict({"vcpus": [{"id": 0}]})
    assert sc.kvm.smm is True
    assert KvmConfig().smm is True


@pytest.mark.parametrize("kernel", ["6.2", "6.3", "6.6", "upstream", "7.4"])
def test_without_smm_the_smi_reaches_its_targets_and_nobody_accepts_it(kernel):
    """Section 6: the same targets as with SMM, ``accepted`` empty for every SMI; other modes unchanged."""
    with_smm = evaluate(scenario_from_dict(doc(kernel, True))).to_json()["interrupts"]
    without = evaluate(scenario_from_dict(doc(kernel, False))).to_json()["interrupts"]
    for n, (a, b) in enumerate(zip(with_smm, without, strict=True)):
        assert {k: v for k, v in a.items() if k != "accepted"} == {k: v for k, v in b.items() if k != "accepted"}
        if IRQS[n]["delivery"] == "smi":
            assert a["targets"], n
            assert a["accepted"] == a["targets"], n  # SMM on: every target accepts an SMI
            assert b["accepted"] == [], n
        else:
            assert b["accepted"] == a["accepted"], n
    assert with_smm[0]["targets"] == [1]  # a software-disabled APIC still accepts an SMI with SMM
    assert without[4]["accepted"] == [0]


@pytest.mark.parametrize("kernel", ["4.11", "4.19", "5.2", "5.3", "5.15", "6.1"])
def test_false_before_6_2_is_an_error_naming_the_rule(kernel):
    with pytest.raises(ScenarioError) as info:
        scenario_from_dict(doc(kernel, False))
    assert info.value.field == "kvm.smm"
    assert "6.2" in str(info.value)
    assert kernel in str(info.value)
    assert scenario_from_dict(doc(kernel, True)).kvm.smm  # true is always fine


def test_rule_holds_for_edits_too():
    """check_scenario (what the GUI runs on a copy before every edit) applies the same rule."""
    sc = Scenario(kvm=KvmConfig(kernel="6.2", smm=False))
    check_scenario(sc)
    sc.kvm.kernel = "6.1"
    with pytest.raises(ScenarioError, match=r"kvm\.smm"):
        check_scenario(sc)


@pytest.mark.parametrize("bad", [0, 1, "false", None, []])
def test_non_boolean_is_refused(bad):
    with pytest.raises(ScenarioError) as info:
        scenario_from_dict({"kvm": {"kernel": "6.3", "smm": bad}, "vcpus": [{"id": 0}]})
    assert info.value.field == "kvm.smm"
    assert "true or false" in str(info.value)


@pytest.mark.parametrize("smm", [True, False])
def test_save_and_load_round_trip(tmp_path, smm):
    sc = scenario_from_dict(doc("6.3", smm))
    path = tmp_path / "s.apicviz.json"
    save_scenario(sc, path)
    assert json.loads(path.read_text())["kvm"]["smm"] is smm  # written like the other KVM settings
    assert load_scenario(path) == sc


def test_explanation_names_the_missing_smm():
    ev = evaluate(scenario_from_dict(doc("upstream", False)))
    text = " ".join(explain_route(ev, 0, brief=True))
    assert "CONFIG_KVM_SMM" in text
    assert "no APIC accepts it" in text
    assert "Software-disabled" not in text  # vCPU 1 is software-disabled, but that is not why it refuses the SMI
    with_smm = " ".join(explain_route(evaluate(scenario_from_dict(doc("upstream", True))), 0, brief=True))
    assert "CONFIG_KVM_SMM" not in with_smm


def test_compare_and_diff_settings():
    sc = scenario_from_dict(doc("6.3", None))
    kvm_b = parse_kvm_overrides(sc.kvm, None, ["smm=false"])
    assert kvm_b.smm is False
    comp = compare(sc, sc.kvm, kvm_b)
    assert [ch.index for ch in comp.routes] == [0, 1, 2]  # the three SMIs: accepted changes
    assert "no SMM" in comp.label_b
    with pytest.raises(ScenarioError, match=r"kvm\.smm"):
        parse_kvm_overrides(sc.kvm, "6.1", ["smm=false"])


def test_file_form_names_the_key():
    assert "smm" in scenario_to_dict(scenario_from_dict(doc("6.3", False)))["kvm"]
