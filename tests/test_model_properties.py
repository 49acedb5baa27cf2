"""Property tests of the pure model, each resting on a section of KVM-BEHAVIOUR.md or FORMAT.md.

The fast and the slow path disagree in many places (KVM-BEHAVIOUR.md section
8), so the properties only claim what the spec says. The most important ones:

* the indexed :class:`Router` matches exactly what the per-vCPU rules say
  (``kvm_apic_match_dest`` and ``hardware_match``), because the Router is
  being optimised for speed;
* a small reference implementation written from the spec alone
  (tests/model_reference.py) gives the same evaluation as the model.

The sweep's properties are in tests/test_sweep_properties.py, the strategies
in tests/model_strategies.py.
"""
from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st
from model_reference import model_evaluation, ref_behaviour, ref_evaluation, ref_hardware_match, ref_kvm_match
from model_strategies import SAME_RANGE, SETTINGS, interrupts_for, present_ids, scenarios, with_kvm

from apicviz.model import evaluate
from apicviz.model.apic_map import recalculate
from apicviz.model.routing import Router, hardware_match, kvm_apic_match_dest

# ----- properties -------------------------------------------------------------------------------

@st.composite
def scenario_and_messages(draw):
    sc = draw(scenarios())
    return sc, draw(interrupts_for(sc.vcpus, max_size=12, use_32bit_ids=sc.kvm.use_32bit_ids))


@SETTINGS
@given(scenario_and_messages())
def test_model_equals_reference_written_from_the_spec(case):
    """Sections 3-6 and FORMAT.md's hardware reference, re-implemented here: the whole evaluation agrees,
    map, inhibits, aliases and every route (the scenario's interrupts plus a dozen more messages).
    """
    sc, messages = case
    assert model_evaluation(sc) == ref_evaluation(sc)
    more = sc.copy()
    more.interrupts = messages
    assert model_evaluation(more)["interrupts"] == ref_evaluation(more)["interrupts"]


@SETTINGS
@given(scenario_and_messages())
def test_indexed_router_matches_per_vcpu_rules(case):
    """Section 5.1 and FORMAT.md hardware: Router.matches (indexed) == checking every present vCPU.

    Compared with both routing.kvm_apic_match_dest / routing.hardware_match
    and this file's reference, including x2APIC and xAPIC senders, MSIs,
    broadcasts with and without the quirk, and every shorthand.
    """
    sc, messages = case
    router = Router(sc, recalculate(sc))
    vcpus = sc.vcpus
    kvm = sc.kvm
    index = {v.id: i for i, v in enumerate(vcpus)}
    for irq in messages:
        src = None if irq.source is None else index[irq.source]
        source = None if src is None else vcpus[src]
        dest = irq.dest or 0
        if source is not None and source.apic != "x2apic":
            dest &= 0xFF
        present = [(i, v) for i, v in enumerate(vcpus) if v.apic != "disabled"]
        want_kvm = [i for i, v in present if kvm_apic_match_dest(v, source, irq, dest, kvm)]
        want_hw = [i for i, v in present if hardware_match(v, source, irq, dest, kvm)]
        assert router.matches(irq, dest, src) == want_kvm
        assert router.matches(irq, dest, src, hardware=True) == want_hw
        q = kvm.disable_broadcast_quirk
        assert want_kvm == [i for i, v in present if ref_kvm_match(v, i, src, irq, dest, q)]
        assert want_hw == [i for i, v in present if ref_hardware_match(v, i, src, irq, dest, q)]


@SETTINGS
@given(scenarios())
def test_slow_path_and_hardware_do_not_depend_on_the_map(sc):
    """Section 5: the slow path checks every vCPU with kvm_apic_match_dest in every range, so neither the
    map (map_alloc_fails on/off), the kernel range nor use_32bit_ids changes slow_path_targets; the
    hardware reference (FORMAT.md) depends on no KVM setting but the broadcast quirk.
    """
    base = evaluate(sc).to_json()["interrupts"]
    for changes in ({"map_alloc_fails": not sc.kvm.map_alloc_fails}, {"use_32bit_ids": not sc.kvm.use_32bit_ids},
                    {"kernel": "5.2"}, {"kernel": "6.1"}, {"kernel": "upstream"}):
        other = evaluate(with_kvm(sc, **changes)).to_json()["interrupts"]
        assert [r["slow_path_targets"] for r in other] == [r["slow_path_targets"] for r in base]
        assert [r["hardware_targets"] for r in other] == [r["hardware_targets"] for r in base]
    other = evaluate(with_kvm(sc, vector_hashing=not sc.kvm.vector_hashing)).to_json()["interrupts"]
    assert [r["hardware_targets"] for r in other] == [r["hardware_targets"] for r in base]


@SETTINGS
@given(scenarios())
def test_route_invariants(sc):
    """Per-interrupt invariants from FORMAT.md and KVM-BEHAVIOUR.md:

    * no map (status "none") -> every message but "self" takes the slow path (4.1 step 3);
    * a slow-path route delivers exactly slow_path_targets (section 5);
    * "self" is always fast, "all"/"all-but-self" always slow (8.7);
    * a physical fast-path route has at most one target (4.1 step 5);
    * accepted is the software-enabled targets for fixed/lowest, nobody for an SMI without SMM, all targets
      otherwise (section 6);
    * dropped / extra follow their FORMAT.md definitions;
    * every list names present vCPUs, in creation order, without repeats.
    """
    ev = evaluate(sc).to_json()
    order = {v.id: n for n, v in enumerate(sc.vcpus)}
    enabled = {v.id for v in sc.vcpus if v.sw_enabled}
    present = present_ids(sc)
    for irq, r in zip(sc.interrupts, ev["interrupts"], strict=True):
        targets, hardware = r["targets"], r["hardware_targets"]
        for key in ("targets", "accepted", "slow_path_targets", "hardware_targets", "dropped", "extra"):
            assert set(r[key]) <= present
            assert [order[i] for i in r[key]] == sorted({order[i] for i in r[key]})
        if irq.shorthand == "self":
            assert r["path"] == "fast"
            assert targets == [irq.source]
        elif irq.shorthand != "none" or ev["map"]["status"] == "none":
            assert r["path"] == "slow"
        if r["path"] == "slow":
            assert targets == r["slow_path_targets"]
        if r["path"] == "fast" and irq.dest_mode == "physical" and irq.shorthand == "none":
            assert len(targets) <= 1
        if irq.delivery in ("fixed", "lowest"):
            assert r["accepted"] == [t for t in targets if t in enabled]
        elif irq.delivery == "smi" and not sc.kvm.smm:
            assert r["accepted"] == []
        else:
            assert r["accepted"] == targets
        if irq.delivery == "lowest":
            assert set(hardware) <= enabled
            assert r["dropped"] == (hardware if not targets else [])
            assert len(r["slow_path_targets"]) <= 1 or (irq.dest_mode == "physical" and irq.dest == 0xFF)
        else:
            assert r["dropped"] == [h for h in hardware if h not in targets]
        assert r["extra"] == [t for t in targets if t not in hardware]


@SETTINGS
@given(scenarios(kernels=("4.11", "4.19", "5.2", "5.3", "5.15", "6.1", "6.2")))
def test_use_32bit_ids_changes_nothing_before_6_3(sc):
    """8.17 (and 3.1 step 4.1): before 6.3 use_32bit_ids plays no part in the map or in routing."""
    a = evaluate(with_kvm(sc, use_32bit_ids=False)).to_json()
    b = evaluate(with_kvm(sc, use_32bit_ids=True)).to_json()
    assert a == b


@SETTINGS
@given(scenarios())
def test_behaviour_depends_only_on_the_range(sc):
    """Section 1: every kernel inside a range behaves identically (only kernel.requested differs)."""
    behaviour = ref_behaviour(sc.kvm.kernel)
    first = None
    for kernel in SAME_RANGE[behaviour]:
        ev = evaluate(with_kvm(sc, kernel=kernel)).to_json()
        assert ev["kernel"] == {"requested": kernel, "behaviour": behaviour}
        ev.pop("kernel")
        if first is None:
            first = ev
        assert ev == first


@SETTINGS
@given(scenarios())
def test_map_shape(sc):
    """Sections 3.1-3.4 on the shape of the map:

    * max_apic_id = max(255, largest present x2APIC ID) (3.1 step 1);
    * every map entry is a present vCPU; from 5.3 logical slots hold only
      software-enabled vCPUs (3.1 step 4.2, 3.2 step 3.4);
    * from 6.3 every present x2APIC vCPU sits at phys_map[id];
    * the map is NULL exactly when the allocation fails (forced or above
      INT_MAX, 3.4) or, in 6.3+ without 32-bit IDs, a physical ID is aliased
      (3.2 step 3.3);
    * 6.3+ inhibits: physical_id_aliased iff NULL; logical_id_aliased iff NULL
      or logical mode disabled (3.2 step 4); none before 6.3 (3.1 step 6);
    * flat/cluster tables are filled only in their own mode (FORMAT.md).
    """
    ev = evaluate(sc).to_json()
    m = ev["map"]
    behaviour = ref_behaviour(sc.kvm.kernel)
    present = [v for v in sc.vcpus if v.apic != "disabled"]
    max_id = max([255] + [v.id for v in present])
    too_big = 536 + 8 * (max_id + 1) > 2**31 - 1
    aliased = bool(ev["aliases"]["physical"])
    should_fail = sc.kvm.map_alloc_fails or too_big or (
        behaviour == "6.3+" and not sc.kvm.use_32bit_ids and aliased)
    assert (m["status"] == "none") == should_fail
    inhibits = set(ev["apicv_inhibits"])
    if behaviour != "6.3+":
        assert inhibits == set()
    else:
        assert ("physical_id_aliased" in inhibits) == (m["status"] == "none")
        assert ("logical_id_aliased" in inhibits) == (m["status"] == "none" or m["logical_mode"] == "disabled")
    if m["status"] == "none":
        return
    assert m["max_apic_id"] == max_id
    ids = {v.id for v in present}
    assert set(m["phys_map"].values()) <= ids
    assert all(int(k) <= max_id for k in m["phys_map"])
    logical_values = set(m["xapic_flat_map"].values())
    for row in m["xapic_cluster_map"].values():
        logical_values.update(row.values())
    xapic_ids = {v.id for v in present if v.apic == "xapic"}
    assert logical_values <= xapic_ids
    if behaviour != "4.11-5.2":
        assert logical_values <= {v.id for v in present if v.sw_enabled}
    if m["logical_mode"] != "flat":
        assert m["xapic_flat_map"] == {}
    if m["logical_mode"] != "cluster":
        assert m["xapic_cluster_map"] == {}
    assert all(0 <= int(b) <= 7 for b in m["xapic_flat_map"])
    assert all(0 <= int(c) <= 15 and all(0 <= int(b) <= 3 for b in row) for c, row in m["xapic_cluster_map"].items())
    if behaviour == "6.3+":
        assert m["logical_mode"] in ("sw_disabled", "flat", "cluster", "x2apic", "disabled")
        for v in present:
            if v.apic == "x2apic":
                assert m["phys_map"][str(v.id)] == v.id
    else:
        assert m["logical_mode"] in ("none", "flat", "cluster", "x2apic", "disabled")


@SETTINGS
@given(scenarios(kernels=("6.3", "upstream")))
def test_6_3_without_32bit_ids_is_one_to_one(sc):
    """3.2 step 3.3: without 32-bit IDs an optimized 6.3+ map implies no physical alias, and phys_map is
    exactly {physical ID: vCPU} for the present vCPUs (no hotplug slots, no LDR-wrap writes).
    """
    sc = with_kvm(sc, use_32bit_ids=False)
    ev = evaluate(sc).to_json()
    if ev["map"]["status"] != "optimized":
        return
    assert ev["aliases"]["physical"] == {}
    expected = {str(v.id if v.apic == "x2apic" else v.xapic_id): v.id for v in sc.vcpus if v.apic != "disabled"}
    assert ev["map"]["phys_map"] == expected


def test_strategies_reach_the_interesting_corners():
    """Guard against a strategy that silently stopped producing the cases the properties are about."""
    seen = set()

    @settings(max_examples=1000, deadline=None, database=None, derandomize=True)
    @given(scenarios())
    def probe(sc):
        ev = evaluate(sc).to_json()
        seen.add(("status", ev["map"]["status"]))
        if ev["map"]["status"] == "optimized":
            seen.add(("mode", ev["map"]["logical_mode"]))
        for r in ev["interrupts"]:
            seen.add(("path", r["path"]))
            if r["dropped"]:
                seen.add("dropped")
            if r["extra"]:
                seen.add("extra")
            if r["targets"] != r["slow_path_targets"]:
                seen.add("fast!=slow")
        if ev["aliases"]["physical"]:
            seen.add("alias")

    probe()
    wanted = {("status", "none"), ("status", "optimized"), ("path", "fast"), ("path", "slow"), "dropped", "extra",
              "fast!=slow", "alias", ("mode", "flat"), ("mode", "cluster"), ("mode", "x2apic"), ("mode", "disabled"),
              ("mode", "none"), ("mode", "sw_disabled")}
    assert wanted <= seen, wanted - seen
