"""vCPU status codes (apicviz.model.vcpu_status) on hand-made VMs, in eval --json, eval and the report.

The expected codes were worked out from KVM-BEHAVIOUR.md section 3 (which
vCPU ends up in which slot), not by running the model first.
"""
from __future__ import annotations

from apicviz.model import evaluate, scenario_from_dict
from apicviz.model.report import bug_report
from apicviz.model.text_report import eval_text


def statuses(kernel: str, vcpus: list[dict], **kvm) -> dict[int, list[dict]]:
    raw = {"format": "apicviz-scenario", "version": 1, "kvm": {"kernel": kernel, **kvm}, "vcpus": vcpus}
    data = evaluate(scenario_from_dict(raw)).to_json()["vcpu_status"]
    assert [d["id"] for d in data] == [v["id"] for v in vcpus]  # every vCPU, creation order
    return {d["id"]: d["status"] for d in data}


def codes(items: list[dict]) -> list[str]:
    return [s["code"] for s in items]


def test_aliased_xapic_id_before_6_3():
    """6.1: vCPU 1 rewrote its xAPIC ID to 0; phys_map[0] keeps vCPU 0, so vCPU 1 is in no slot."""
    st = statuses("6.1", [{"id": 0}, {"id": 1, "xapic_id": 0}])
    assert st[0] == [{"code": "physical_alias", "apic_id": 0, "vcpus": [0, 1]}]
    assert st[1] == [{"code": "physical_alias", "apic_id": 0, "vcpus": [0, 1]},
                     {"code": "physical_slot_lost", "apic_id": 0, "winner": 0},
                     {"code": "unreachable"},
                     {"code": "xapic_id_modified", "xapic_id": 0, "expected": 1}]


def test_aliased_xapic_id_upstream_has_no_map():
    st = statuses("upstream", [{"id": 0}, {"id": 1, "xapic_id": 0}, {"id": 2}])
    assert codes(st[0]) == ["physical_alias", "no_map"]
    assert codes(st[2]) == ["no_map"]


def test_hotplug_only():
    """Section 7: 0x123 (xAPIC ID 0x23) finds phys_map[0x23] taken by 0x23 and is reached only at 0x123."""
    st = statuses("6.1", [{"id": 0, "apic": "x2apic"}, {"id": 0x23}, {"id": 0x123, "xapic_id": 0x23}],
                  x2apic_api={"use_32bit_ids": True})
    assert st[0x123] == [{"code": "physical_alias", "apic_id": 0x23, "vcpus": [0x23, 0x123]},
                         {"code": "physical_slot_lost", "apic_id": 0x23, "winner": 0x23},
                         {"code": "hotplug_only", "apic_id": 0x123}]
    assert codes(st[0]) == []


def test_lost_logical_slot_and_sw_disabled_owner_before_5_3():
    """5.2: flat ID 1 for vCPUs 0 and 1 (software-disabled); the last writer, vCPU 1, owns bit 0."""
    st = statuses("5.2", [{"id": 0, "logical_id": 1}, {"id": 1, "logical_id": 1, "sw_enabled": False}])
    assert {"code": "logical_slot_lost", "logical_id": 1, "cluster": None, "bit": 0, "winner": 1} in st[0]
    assert {"code": "sw_disabled", "in_logical_map": True} in st[1]
    assert "logical_slot_lost" not in codes(st[1])


def test_cluster_slot_lost_names_cluster_and_bit():
    st = statuses("6.1", [{"id": 0, "logical_id": 0x21, "dfr": "cluster"},
                          {"id": 1, "logical_id": 0x21, "dfr": "cluster"}])
    assert {"code": "logical_slot_lost", "logical_id": 0x21, "cluster": 2, "bit": 0, "winner": 1} in st[0]


def test_since_5_3_a_sw_disabled_vcpu_is_not_in_the_logical_map():
    st = statuses("6.1", [{"id": 0, "logical_id": 1}, {"id": 1, "logical_id": 1, "sw_enabled": False}])
    assert {"code": "sw_disabled", "in_logical_map": False} in st[1]
    assert "logical_slot_lost" not in codes(st[0])  # vCPU 1 never entered the table


def test_multi_bit_logical_id_keeps_only_its_lowest_bit():
    st = statuses("6.1", [{"id": 0, "logical_id": 3}, {"id": 1, "logical_id": 4}])
    assert {"code": "logical_partial", "logical_id": 3, "cluster": None, "bit": 0} in st[0]
    # upstream disables the logical map for it instead: no slot, no partial entry
    assert "logical_partial" not in codes(statuses("upstream", [{"id": 0, "logical_id": 3}])[0])


def test_hw_disabled_and_wrapped_ldr():
    st = statuses("5.2", [{"id": 0, "apic": "x2apic"}, {"id": 0x100000, "apic": "x2apic"},
                          {"id": 5, "apic": "disabled"}])
    assert st[5] == [{"code": "hw_disabled"}]
    assert st[0x100000] == [{"code": "ldr_wrapped", "ldr": 1, "apic_id": 0}]
    # vCPU 0 lost its only slot to the wrapped LDR (section 8.14): the fast path cannot reach it at all
    assert st[0] == [{"code": "physical_slot_lost", "apic_id": 0, "winner": 0x100000}, {"code": "unreachable"}]


def test_readable_eval_and_report_show_the_status():
    raw = {"format": "apicviz-scenario", "version": 1, "kvm": {"kernel": "6.1"},
           "vcpus": [{"id": 0}, {"id": 1, "xapic_id": 0}]}
    ev = evaluate(scenario_from_dict(raw))
    text = eval_text(ev, "x.apicviz.json")
    assert "vCPU status:" in text
    assert "vCPU 0x1: aliased: physical APIC ID 0x0 is shared by vCPUs 0x0, 0x1; lost phys_map[0x0] to vCPU 0x0" \
        in text
    report = bug_report(ev)
    assert "### vCPU status" in report
    assert "`unreachable` 1" in report
    assert "- vCPU 0x1: aliased" in report
