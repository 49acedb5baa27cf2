"""PV IPIs (``via: "pv_ipi"``, KVM-BEHAVIOUR.md 9.2): every rule of kvm_pv_send_ipi on every range.

One interrupt is one APIC ID (one set bit of the guest's bitmap). KVM serves
it from the optimized map alone: NULL map -> -EOPNOTSUPP ("no_map"), an
APIC ID above max_apic_id -> nothing ("above_max_apic_id"), otherwise
phys_map[APIC ID] if occupied ("delivered", an empty slot is skipped). The
hypercall exists from 4.19 ("unsupported" before). The hardware reference is
a physical IPI from the same sender to that APIC ID.
"""
from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from apicviz.model import ScenarioError, evaluate, scenario_from_dict
from apicviz.model.explain import explain_route
from apicviz.model.pv_ipi import pv_reachable_slots, route_pv_ipi
from apicviz.model.scenario import Interrupt, KvmConfig, Scenario, Vcpu, check_scenario
from apicviz.model.scenario_file import scenario_to_dict, scenario_to_text
from apicviz.model.sweep import KIND_PV_IPI, PV_X2APIC, PV_XAPIC, sweep

#: Two kernels of each range that has the hypercall (4.19 and 5.2 are 4.11-5.2).
SUPPORTED = ("4.19", "5.2", "5.3", "6.1", "6.3", "upstream")
OLD = ("4.19", "5.2", "5.3", "6.1")
BEFORE_4_19 = ("4.11", "4.14", "4.18")


def pv(source: int, dest: int, delivery: str = "fixed", vector: int = 48) -> dict:
    return {"source": source, "dest": dest, "delivery": delivery, "vector": vector, "via": "pv_ipi"}


def run(kernel: str, vcpus: list[dict], irqs: list[dict], **kvm) -> dict:
    x2api = {k: kvm.pop(k) for k in ("use_32bit_ids",) if k in kvm}
    raw = {"kvm": {"kernel": kernel, "x2apic_api": x2api, **kvm}, "vcpus": vcpus, "interrupts": irqs}
    return evaluate(scenario_from_dict(raw)).to_json()


def outcome(r: dict) -> tuple:
    return r["pv_ipi_result"], r["targets"], r["accepted"], r["hardware_targets"], r["dropped"], r["extra"]


# ----- the evaluation's shape (FORMAT.md) ---------------------------------------------------------

def test_pv_ipi_fields_in_the_evaluation():
    ev = run("6.1", [{"id": 0}, {"id": 1}], [pv(0, 1), {"source": 0, "dest": 1}])
    a, b = ev["interrupts"]
    assert a["path"] == "pv_ipi"
    assert a["slow_path_targets"] == []
    assert a["pv_ipi_result"] == "delivered"
    assert a["targets"] == a["accepted"] == a["hardware_targets"] == [1]
    assert "pv_ipi_result" not in b
    assert b["path"] == "fast"


# ----- 9.2 step 1: map NULL ---------------------------------------------------------------------------

ALIASED = [{"id": 0, "logical_id": 1}, {"id": 1, "xapic_id": 0, "logical_id": 2}]


@pytest.mark.parametrize("kernel", ["6.3", "upstream"])
def test_aliased_ids_make_every_pv_ipi_fail_on_6_3(kernel):
    """6.3+ without 32-bit IDs: the alias makes the map NULL, so -EOPNOTSUPP; the ICR IPI reaches both."""
    ev = run(kernel, ALIASED, [pv(0, 0), pv(1, 0, "nmi"), {"source": 0, "dest": 0, "vector": 48}])
    assert ev["map"]["status"] == "none"
    assert outcome(ev["interrupts"][0]) == ("no_map", [], [], [0, 1], [0, 1], [])
    assert outcome(ev["interrupts"][1]) == ("no_map", [], [], [0, 1], [0, 1], [])
    assert ev["interrupts"][2]["targets"] == [0, 1]  # the slow path
    assert ev["interrupts"][0]["severity"] == "kvm_inconsistent"
    assert ev["interrupts"][0]["reasons"] == ["pv_ipi_no_map"]


@pytest.mark.parametrize("kernel", SUPPORTED)
def test_failed_allocation_means_no_map_in_every_range(kernel):
    ev = run(kernel, [{"id": 0}, {"id": 1}], [pv(0, 1)], map_alloc_fails=True)
    assert outcome(ev["interrupts"][0]) == ("no_map", [], [], [1], [1], [])


# ----- 9.2 step 2: min above max_apic_id ---------------------------------------------------------------

@pytest.mark.parametrize("kernel", SUPPORTED)
def test_apic_id_above_max_apic_id_delivers_nothing(kernel):
    """max_apic_id is 0x123; APIC ID 0x124 and 0x200 are skipped. xAPIC vCPU 0 sees the low byte 0x00 of
    0x200 on hardware (no 8-bit truncation in KVM: by design), so it is dropped there."""
    vcpus = [{"id": 0}, {"id": 0x123, "apic": "x2apic"}]
    ev = run(kernel, vcpus, [pv(0x123, 0x124), pv(0, 0x200)])
    assert ev["map"]["max_apic_id"] == 0x123
    assert outcome(ev["interrupts"][0]) == ("above_max_apic_id", [], [], [], [], [])
    assert outcome(ev["interrupts"][1]) == ("above_max_apic_id", [], [], [0], [0], [])
    assert ev["interrupts"][1]["reasons"] == ["no_8bit_truncation"]


# ----- 9.2 step 3: the phys_map slot -------------------------------------------------------------------

@pytest.mark.parametrize("kernel", SUPPORTED)
def test_empty_slot_is_skipped_silently(kernel):
    """APIC ID 5 is below max_apic_id but nobody holds it: "delivered" to nobody, which hardware agrees with."""
    ev = run(kernel, [{"id": 0}, {"id": 1}], [pv(0, 5)])
    assert outcome(ev["interrupts"][0]) == ("delivered", [], [], [], [], [])
    assert ev["interrupts"][0]["severity"] == "agree"


@pytest.mark.parametrize("kernel", OLD)
def test_first_writer_keeps_the_slot_before_6_3(kernel):
    """Before 6.3 the first vCPU created keeps phys_map[0]: a PV IPI to APIC ID 0 reaches it alone, and vCPU 1,
    which hardware (and an ICR IPI's slow path) would reach, is dropped without any error."""
    ev = run(kernel, ALIASED, [pv(0, 0), pv(0, 1)])
    assert ev["map"]["phys_map"] == {"0": 0}
    assert outcome(ev["interrupts"][0]) == ("delivered", [0], [0], [0, 1], [1], [])
    assert ev["interrupts"][0]["severity"] == "kvm_inconsistent"
    assert ev["interrupts"][0]["reasons"] == ["fast_path_differs"]
    assert outcome(ev["interrupts"][1]) == ("delivered", [], [], [], [], [])  # nobody has APIC ID 1


def test_first_writer_with_32bit_ids_on_6_3():
    """6.3+ with 32-bit IDs keeps the old physical step (3.2 step 3.2): the same first-writer slot."""
    ev = run("upstream", ALIASED, [pv(0, 0)], use_32bit_ids=True)
    assert outcome(ev["interrupts"][0]) == ("delivered", [0], [0], [0, 1], [1], [])


HOTPLUG = [{"id": 0, "apic": "x2apic"}, {"id": 0x23}, {"id": 0x123, "xapic_id": 0x23}]


@pytest.mark.parametrize(("kernel", "use_32bit_ids"), [(k, False) for k in OLD] + [("6.3", True), ("upstream", True)])
def test_hotplug_hack_slot(kernel, use_32bit_ids):
    """xAPIC-mode vCPU 0x123 sits at phys_map[0x123] (hotplug hack) and loses 0x23 to vCPU 0x23: a PV IPI to
    0x123 reaches it — hardware would also reach vCPU 0x23 (it sees 0x23; by design) — and one to 0x23 misses
    vCPU 0x123 (the map's fault). The xAPIC-mode sender names 0x123: PV IPIs carry 32-bit APIC IDs."""
    ev = run(kernel, HOTPLUG, [pv(0x23, 0x123), pv(0, 0x23)], use_32bit_ids=use_32bit_ids)
    assert ev["map"]["phys_map"] == {"0": 0, "35": 0x23, "291": 0x123}
    a, b = ev["interrupts"]
    assert outcome(a) == ("delivered", [0x123], [0x123], [0x23, 0x123], [0x23], [])
    assert a["reasons"] == ["no_8bit_truncation"]
    assert outcome(b) == ("delivered", [0x23], [0x23], [0x23, 0x123], [0x123], [])
    assert b["severity"] == "kvm_inconsistent"


def test_hotplug_without_32bit_ids_on_6_3_is_no_map():
    ev = run("upstream", HOTPLUG, [pv(0x23, 0x123), pv(0, 0x23)])
    assert [r["pv_ipi_result"] for r in ev["interrupts"]] == ["no_map", "no_map"]
    assert [r["targets"] for r in ev["interrupts"]] == [[], []]


# ----- kernels before 4.19 -----------------------------------------------------------------------------

@pytest.mark.parametrize("kernel", BEFORE_4_19)
def test_no_hypercall_before_4_19(kernel):
    ev = run(kernel, [{"id": 0}, {"id": 1}], [pv(0, 1), pv(1, 0, "nmi")])
    assert [outcome(r) for r in ev["interrupts"]] == [("unsupported", [], [], [1], [1], []),
                                                       ("unsupported", [], [], [0], [0], [])]
    assert ev["interrupts"][0]["reasons"] == ["pv_ipi_unsupported"]
    assert ev["map"]["status"] == "optimized"  # the map is there; the hypercall is not


# ----- acceptance ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("kernel", SUPPORTED)
def test_software_disabled_target_discards_fixed_but_takes_nmi(kernel):
    ev = run(kernel, [{"id": 0}, {"id": 1, "sw_enabled": False}], [pv(0, 1), pv(0, 1, "nmi")])
    assert outcome(ev["interrupts"][0]) == ("delivered", [1], [], [1], [], [])
    assert outcome(ev["interrupts"][1]) == ("delivered", [1], [1], [1], [], [])


# ----- the model against a reference written from 9.2 ----------------------------------------------------

_IDS = st.sampled_from([0, 1, 2, 3, 0x23, 0xFE, 0xFF, 0x100, 0x123, 0x200, 0x1000])


@st.composite
def pv_cases(draw):
    kernel = draw(st.sampled_from(BEFORE_4_19[:1] + SUPPORTED))
    ids = draw(st.lists(_IDS, min_size=1, max_size=6, unique=True))
    vcpus = [Vcpu(i, apic=draw(st.sampled_from(["xapic", "xapic", "x2apic", "disabled"])),
                  xapic_id=draw(st.sampled_from([i & 0xFF, 0, 0x23])), sw_enabled=draw(st.booleans()))
             for i in ids]
    present = [v for v in vcpus if v.present]
    if not present:
        vcpus[0].apic = "xapic"
        present = [vcpus[0]]
    dests = [0, 1, 2, 0x23, 0xFE, 0xFF, 0x100, 0x123, 0x124, 0x1000, 0x1001] + [v.id for v in vcpus]
    irqs = [Interrupt(source=draw(st.sampled_from(present)).id, dest=draw(st.sampled_from(dests)),
                      delivery=draw(st.sampled_from(["fixed", "nmi"])), via="pv_ipi") for _ in range(4)]
    kvm = KvmConfig(kernel=kernel, use_32bit_ids=draw(st.booleans()), map_alloc_fails=draw(st.integers(0, 9)) == 0)
    sc = Scenario(kvm=kvm, vcpus=vcpus, interrupts=irqs)
    check_scenario(sc)
    return sc


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(pv_cases())
def test_pv_ipi_follows_section_9_2(sc):
    """Every PV IPI, from the evaluation's own map JSON and section 9.2 alone."""
    ev = evaluate(sc).to_json()
    m = ev["map"]
    enabled = {v.id for v in sc.vcpus if v.sw_enabled}
    old = tuple(int(p) for p in sc.kvm.kernel.split(".")) < (4, 19) if sc.kvm.kernel != "upstream" else False
    for irq, r in zip(sc.interrupts, ev["interrupts"], strict=True):
        if old:
            want, targets = "unsupported", []
        elif m["status"] == "none":
            want, targets = "no_map", []
        elif irq.dest > m["max_apic_id"]:
            want, targets = "above_max_apic_id", []
        else:
            want = "delivered"
            holder = m["phys_map"].get(str(irq.dest))
            targets = [] if holder is None else [holder]
        assert (r["path"], r["pv_ipi_result"], r["targets"], r["slow_path_targets"]) == ("pv_ipi", want, targets, [])
        assert r["accepted"] == [t for t in targets if irq.delivery == "nmi" or t in enabled]
        # hardware: a physical IPI to that APIC ID, each APIC in its own mode (xAPIC sees the low byte)
        low = irq.dest & 0xFF
        hw = [v.id for v in sc.vcpus if v.present and (
            (v.apic == "x2apic" and irq.dest in (v.id, 0xFFFFFFFF))
            or (v.apic == "xapic" and low in (v.xapic_id, 0xFF)))]
        assert r["hardware_targets"] == hw
        assert r["dropped"] == [h for h in hw if h not in targets]
        assert r["extra"] == [t for t in targets if t not in hw]


# ----- scenario rules (FORMAT.md "via") ------------------------------------------------------------------

@pytest.mark.parametrize(("irq", "field", "fragment"), [
    ({"dest": 0, "via": "pv_ipi"}, "interrupts[0].via", "needs a source vCPU"),
    ({"source": 0, "dest": 1, "dest_mode": "logical", "via": "pv_ipi"}, "interrupts[0].dest_mode", "use \"physical\""),
    ({"source": 0, "shorthand": "all-but-self", "via": "pv_ipi"}, "interrupts[0].shorthand", "use \"none\""),
    ({"source": 0, "dest": 1, "delivery": "lowest", "via": "pv_ipi"}, "interrupts[0].delivery", "fixed, nmi"),
    ({"source": 0, "dest": 1, "delivery": "init", "via": "pv_ipi"}, "interrupts[0].delivery", "fixed, nmi"),
    ({"source": 0, "via": "pv_ipi"}, "interrupts[0].dest", "required"),
    ({"source": 0, "dest": 1, "via": "hypercall"}, "interrupts[0].via", "use one of icr, pv_ipi"),
    ({"source": 0, "dest": 1, "via": True}, "interrupts[0].via", "use one of icr, pv_ipi"),
])
def test_via_rules(irq, field, fragment):
    with pytest.raises(ScenarioError) as info:
        scenario_from_dict({"vcpus": [{"id": 0}, {"id": 1}], "interrupts": [irq]})
    assert info.value.field == field
    assert fragment in str(info.value)


def test_pv_ipi_names_32_bit_apic_ids_from_an_xapic_sender():
    """The 8-bit ICR rule does not apply: the guest passes min and a bitmap, not an ICR destination."""
    sc = scenario_from_dict({"vcpus": [{"id": 0}, {"id": 0x1000, "apic": "x2apic"}],
                             "interrupts": [pv(0, 0x1000), pv(0, 0xFFFFFFFF)]})
    assert [i.dest for i in sc.interrupts] == [0x1000, 0xFFFFFFFF]
    with pytest.raises(ScenarioError, match="8-bit ICR"):
        scenario_from_dict({"vcpus": [{"id": 0}], "interrupts": [{"source": 0, "dest": 0x1000, "via": "icr"}]})


def test_via_round_trip_and_default():
    sc = scenario_from_dict({"vcpus": [{"id": 0}, {"id": 1}], "interrupts": [pv(0, 1), {"source": 0, "dest": 1}]})
    assert [i.via for i in sc.interrupts] == ["pv_ipi", "icr"]
    data = scenario_to_dict(sc)
    assert data["interrupts"][0]["via"] == "pv_ipi"
    assert "via" not in data["interrupts"][1]  # the default stays out of the file
    from apicviz.model import scenario_from_text
    assert scenario_from_text(scenario_to_text(sc)) == sc
    assert "PV IPI from 0x0 to APIC ID 0x1" in sc.interrupts[0].describe()


# ----- explanation in the guest's words, built from fields ------------------------------------------------

@pytest.mark.parametrize("pair", [(0, 1), (5, 9)])
def test_no_map_explanation(pair):
    a, b = pair
    vcpus = [{"id": a, "xapic_id": 3}, {"id": b, "xapic_id": 3}]
    ev = evaluate(scenario_from_dict({"kvm": {"kernel": "upstream"}, "vcpus": vcpus, "interrupts": [pv(a, 3)]}))
    text = " ".join(explain_route(ev, 0))
    assert "returned -EOPNOTSUPP because the map is NULL" in text
    assert f"vCPUs {a:#x} and {b:#x} share APIC ID 0x3" in text
    assert "'failed to send PV IPI' once and this IPI is lost" in text
    assert "no slow path" in text


def test_explanations_of_the_other_results():
    vcpus = [*ALIASED, {"id": 291, "apic": "x2apic"}]
    irqs = [pv(0, 0), pv(0, 5), pv(0, 0x200), pv(0x123, 0x123)]
    ev = evaluate(scenario_from_dict({"kvm": {"kernel": "6.1"}, "vcpus": vcpus, "interrupts": irqs}))
    first = " ".join(explain_route(ev, 0, brief=True))
    assert "returned 1: phys_map[0x0] holds vCPU 0x0" in first
    assert "0x1 also answer(s) to APIC ID 0x0" in first
    assert "reports no error" in first
    empty = " ".join(explain_route(ev, 1, brief=True))
    assert "phys_map[0x5] is empty" in empty
    assert "nobody misses it" in empty
    above = " ".join(explain_route(ev, 2, brief=True))
    assert "above max_apic_id 0x123" in above
    assert "this IPI is lost" in above
    old = evaluate(scenario_from_dict({"kvm": {"kernel": "4.14"}, "vcpus": vcpus, "interrupts": irqs}))
    assert "does not exist on 4.14" in " ".join(explain_route(old, 0, brief=True))


# ----- what the map view marks -----------------------------------------------------------------------------

def test_reachable_slots():
    sc = scenario_from_dict({"kvm": {"kernel": "6.1"}, "vcpus": HOTPLUG})
    ev = evaluate(sc)
    assert pv_reachable_slots(ev.result, "6.1") == [0, 0x23, 0x123]
    assert pv_reachable_slots(ev.result, "4.14") == []
    sc.kvm.kernel = "upstream"
    assert pv_reachable_slots(evaluate(sc).result, "upstream") == []  # map NULL


# ----- the sweep --------------------------------------------------------------------------------------------

def pv_rows(ev) -> list:
    return [r for r in sweep(ev).rows if r.kind == KIND_PV_IPI]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(pv_cases())
def test_sweep_lists_every_disagreeing_pv_ipi(sc):
    """Each physical destination 0..max(0xff, largest ID) (0xff only when an x2APIC vCPU has it) whose PV IPI
    disagrees with hardware is a PV row — alone or in its residue class — with the route of that destination."""
    ev = evaluate(sc)
    router = ev.router
    rows = pv_rows(ev)
    if sc.kvm.kernel in BEFORE_4_19:  # no guest sends a PV IPI there
        assert rows == []
        return
    explicit = {r.dest: r for r in rows if r.count == 1 and r.residue is None}
    classes = {r.residue: r for r in rows if r.residue is not None}
    for r in rows:
        assert r.dest_mode == "physical"
        assert r.route.path == "pv_ipi"
        assert set(r.senders) <= {PV_XAPIC, PV_X2APIC}
        assert r.senders
        assert r.route.dropped or r.route.extra
    present = [v for v in sc.vcpus if v.present]
    top = max([0xFF] + [v.id for v in present])
    probes = set(range(0x100)) | {v.id for v in present} | {v.id + 1 for v in present} | {0x1FF, top}
    x2_ff = any(v.id == 0xFF and v.apic == "x2apic" for v in present)
    source = next(i for i, v in enumerate(sc.vcpus) if v.present)
    for dest in sorted(d for d in probes if d <= top):
        if dest == 0xFF and not x2_ff:
            assert dest not in explicit
            continue
        direct = route_pv_ipi(router, Interrupt(via="pv_ipi"), dest, source)
        if not (direct.dropped or direct.extra):
            continue
        row = explicit.get(dest) or (classes.get(dest & 0xFF) if dest > 0xFF else None)
        assert row is not None, f"sweep misses the PV IPI to {dest:#x}"
        assert (row.route.targets, row.route.hardware_targets, row.route.pv_ipi_result) == \
               (direct.targets, direct.hardware_targets, direct.pv_ipi_result)


def test_sweep_pv_rows_on_the_aliased_example():
    vcpus = [Vcpu(0, logical_id=1), Vcpu(1, xapic_id=0, logical_id=2), Vcpu(2, apic="x2apic")]
    for kernel, result, targets in (("6.1", "delivered", [0]), ("upstream", "no_map", [])):
        ev = evaluate(Scenario(kvm=KvmConfig(kernel=kernel), vcpus=vcpus))
        rows = {r.dest: r for r in pv_rows(ev)}
        row = rows[0]
        assert row.senders == (PV_XAPIC, PV_X2APIC)
        assert (row.route.pv_ipi_result, row.route.targets, row.route.dropped) == (result, targets,
                                                                                   [1] if targets else [0, 1])
        assert not row.fast_vs_slow
        assert json.loads(json.dumps(sweep(ev).to_json(ev)))["rows"][0]["kind"] in ("icr", "pv_ipi")
    assert pv_rows(evaluate(Scenario(kvm=KvmConfig(kernel="4.18"), vcpus=vcpus))) == []


@pytest.mark.parametrize("kernel", SUPPORTED)
@pytest.mark.parametrize("apic", ["xapic", "x2apic"])
def test_one_vcpu_vm_has_no_pv_row(kernel, apic):
    assert pv_rows(evaluate(Scenario(kvm=KvmConfig(kernel=kernel), vcpus=[Vcpu(0, apic=apic)]))) == []


def test_every_pv_reason_has_text_name_and_class():
    """Views look reasons up in these tables (chips, cells, hover text): a missing entry would crash them."""
    from apicviz.model import severity

    for reason in (severity.PV_IPI_NO_MAP, severity.PV_IPI_UNSUPPORTED):
        assert severity.REASON_TEXT[reason]
        assert severity.REASON_NAME[reason]
        assert severity.REASON_SEVERITY[reason] in severity.SEVERITY_ORDER


def test_a_pv_sweep_message_is_routed_and_explained_as_a_pv_ipi():
    """A heat-map cell of a PV row explains the PV IPI, not an ICR IPI to the same APIC ID."""
    from apicviz.model.explain import explain_message
    from apicviz.model.sweep import SweepMessage, sweep_message

    vcpus = [Vcpu(0, logical_id=1), Vcpu(1, xapic_id=0, logical_id=2)]
    ev = evaluate(Scenario(kvm=KvmConfig(kernel="upstream"), vcpus=vcpus))
    routed = sweep_message(ev, SweepMessage("physical", 0, PV_XAPIC))
    assert routed is not None
    irq, route = routed
    assert irq.via == "pv_ipi"
    assert (route.path, route.pv_ipi_result, route.dropped) == ("pv_ipi", "no_map", [0, 1])
    assert "-EOPNOTSUPP" in explain_message(ev, irq, route, brief=True)[0].text
    assert sweep_message(ev, SweepMessage("physical", 0, PV_X2APIC)) is None  # no x2APIC vCPU to send it
    dests = sweep(ev).destinations
    assert any(d.senders == (PV_XAPIC,) and d.dest == 0 for d in dests)
