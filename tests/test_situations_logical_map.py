"""Every situation of Linux 6.3's "Honor architectural behavior for aliased 8-bit APIC IDs", before and after.

This file: Logical modes, multi-bit flat IDs, software-disabled APICs, x2APIC clusters and odd DFRs.

Each test builds a scenario the way a user writes it (through
``scenario_from_dict``, so the FORMAT.md parsing is exercised too), evaluates
it and compares the evaluation JSON with values worked out by hand from
KVM-BEHAVIOUR.md. vCPUs are named by ``id``; lists are in creation order.
Nothing here was copied from running the model.

Kernels: "5.2" (range 4.11-5.2), "6.1" (range 5.3-6.2) and "upstream"
(range 6.3+), plus the boundary releases where the software-enable rule
changes.
"""
from __future__ import annotations

import pytest
from situation_helpers import ALL, OLD, ipi, msi, optimized, route, run

# ----- mixed logical modes (3.1 step 5, 3.2 step 3.4) -------------------------------------------

@pytest.mark.parametrize("kernel", ALL)
def test_mixed_flat_and_cluster(kernel):
    """A flat and a cluster xAPIC vCPU: the logical map is disabled in every range (3.1 step 5, 3.2 step 3.4);
    logical messages fail the lookup (4.2) and take the slow path.

    Physical messages still use the map. From 6.3 the disable sets
    logical_id_aliased (3.2 step 4).
    """
    vcpus = [{"id": 0, "logical_id": 1}, {"id": 1, "logical_id": "0x12", "dfr": "cluster"}]
    ev = run(kernel, vcpus, [msi(1, "logical"), msi(0x12, "logical"), ipi(0, 1)])
    assert ev["map"] == optimized(255, {0: 0, 1: 1}, "disabled")
    assert ev["apicv_inhibits"] == (["logical_id_aliased"] if kernel == "upstream" else [])
    assert ev["interrupts"] == [
        route("slow", [0], [0], [0], [0]),  # v1 is cluster 1; dest 0x01 is cluster 0
        route("slow", [1], [1], [1], [1]),  # flat 0x01 & 0x12 == 0
        route("fast", [1], [1], [1], [1]),
    ]


@pytest.mark.parametrize("kernel", ALL)
def test_mixed_xapic_flat_and_x2apic(kernel):
    """An x2APIC vCPU next to a flat xAPIC vCPU with a logical ID: mixed modes disable the logical map
    (3.1 step 5, 3.2 step 3.4), so logical messages take the slow path (4.2).
    """
    vcpus = [{"id": 0, "apic": "x2apic"}, {"id": 1, "logical_id": 2}]
    ev = run(kernel, vcpus, [msi(2, "logical"), msi(1, "logical")])
    assert ev["map"] == optimized(255, {0: 0, 1: 1}, "disabled")
    assert ev["apicv_inhibits"] == (["logical_id_aliased"] if kernel == "upstream" else [])
    assert ev["interrupts"] == [
        route("slow", [1], [1], [1], [1]),  # x2APIC LDR 0x1 has no bit 1
        route("slow", [0], [0], [0], [0]),
    ]


@pytest.mark.parametrize("kernel", ALL)
def test_x2apic_logical_reaches_xapic_vcpu_in_phys_map(kernel):
    """8.8: an xAPIC vCPU with logical ID 0 adds no mode, yet an x2APIC logical lookup reads phys_map.

    Logical 0x3 (x2APIC cluster 0, bits 0-1) reaches phys_map[1], the xAPIC
    vCPU 1, which neither the slow path nor the hardware would pick.
    """
    vcpus = [{"id": 0, "apic": "x2apic"}, {"id": 1}]
    ev = run(kernel, vcpus, [msi(3, "logical")])
    assert ev["map"] == optimized(255, {0: 0, 1: 1}, "x2apic")
    assert ev["apicv_inhibits"] == []
    assert ev["interrupts"] == [route("fast", [0, 1], [0, 1], [0], [0], extra=[1])]


@pytest.mark.parametrize(("kernel", "mode", "path"), [("5.2", "disabled", "slow"), ("6.1", "x2apic", "fast"),
                                              ("upstream", "x2apic", "fast")])
def test_sw_disabled_flat_vcpu_next_to_x2apic(kernel, mode, path):
    """4.11-5.2 counts a software-disabled flat vCPU's mode (mixed -> disabled); 5.3+ ignores it (3.1 step 4.2).

    Either way logical 0x3 reaches both vCPUs, the disabled one discarding it
    (section 6); only the path differs.
    """
    vcpus = [{"id": 0, "apic": "x2apic"}, {"id": 1, "logical_id": 2, "sw_enabled": False}]
    ev = run(kernel, vcpus, [msi(3, "logical")])
    assert ev["map"] == optimized(255, {0: 0, 1: 1}, mode)
    assert ev["interrupts"] == [route(path, [0, 1], [0], [0, 1], [0, 1])]


@pytest.mark.parametrize("kernel", ALL)
def test_cluster_id_with_empty_low_nibble(kernel):
    """8.13: cluster ID 0x30 sets cluster mode but occupies no slot; 0x11 lands in cluster 1 bit 0."""
    vcpus = [{"id": 0, "logical_id": "0x30", "dfr": "cluster"}, {"id": 1, "logical_id": "0x11", "dfr": "cluster"}]
    ev = run(kernel, vcpus, [msi(0x3F, "logical"), msi(0x11, "logical")])
    assert ev["map"] == optimized(255, {0: 0, 1: 1}, "cluster", cluster={1: {0: 1}})
    assert ev["apicv_inhibits"] == []
    assert ev["interrupts"] == [
        route("fast", [], [], [], []),
        route("fast", [1], [1], [1], [1]),
    ]


@pytest.mark.parametrize("kernel", ALL)
def test_cluster_id_with_empty_low_nibble_still_mixes_modes(kernel):
    """8.13: the maskless cluster ID still counts as cluster mode, so a flat vCPU makes the mode disabled."""
    vcpus = [{"id": 0, "logical_id": "0x30", "dfr": "cluster"}, {"id": 1, "logical_id": 1}]
    ev = run(kernel, vcpus)
    assert ev["map"] == optimized(255, {0: 0, 1: 1}, "disabled")
    assert ev["apicv_inhibits"] == (["logical_id_aliased"] if kernel == "upstream" else [])


# ----- multi-bit and aliased flat logical IDs (8.11, 3.2 step 3.4; section 7 example D) ----------

TWO_BITS = [{"id": 0, "logical_id": 3}, {"id": 1, "logical_id": 2}, {"id": 2, "logical_id": 4}]


@pytest.mark.parametrize("kernel", OLD)
def test_flat_id_with_two_bits_old_kernels(kernel):
    """Before 6.3 a multi-bit logical ID lands only on its lowest bit (8.11): 0x03 -> bit 0.

    Logical 0x02 then reaches vCPU 1 only on the fast path; the slow path and
    the hardware also pick vCPU 0 (0x03 & 0x02 != 0).
    """
    ev = run(kernel, TWO_BITS, [msi(2, "logical"), msi(1, "logical"), msi(7, "logical")])
    assert ev["map"] == optimized(255, {0: 0, 1: 1, 2: 2}, "flat", flat={0: 0, 1: 1, 2: 2})
    assert ev["aliases"]["logical"] == {"2": [0, 1]}
    assert ev["interrupts"] == [
        route("fast", [1], [1], [0, 1], [0, 1], dropped=[0]),
        route("fast", [0], [0], [0], [0]),
        route("fast", [0, 1, 2], [0, 1, 2], [0, 1, 2], [0, 1, 2]),
    ]


def test_flat_id_with_two_bits_upstream():
    """6.3+: a mask with more than one bit disables the logical map and sets logical_id_aliased."""
    ev = run("upstream", TWO_BITS, [msi(2, "logical"), msi(1, "logical"), msi(7, "logical")])
    assert ev["map"] == optimized(255, {0: 0, 1: 1, 2: 2}, "disabled")
    assert ev["apicv_inhibits"] == ["logical_id_aliased"]
    assert ev["interrupts"] == [
        route("slow", [0, 1], [0, 1], [0, 1], [0, 1]),
        route("slow", [0], [0], [0], [0]),
        route("slow", [0, 1, 2], [0, 1, 2], [0, 1, 2], [0, 1, 2]),
    ]


@pytest.mark.parametrize("kernel", OLD)
def test_same_flat_id_last_writer_wins_old_kernels(kernel):
    """8.11: of two vCPUs with flat ID 0x01 the last one created owns bit 0."""
    ev = run(kernel, [{"id": 0, "logical_id": 1}, {"id": 1, "logical_id": 1}], [msi(1, "logical")])
    assert ev["map"] == optimized(255, {0: 0, 1: 1}, "flat", flat={0: 1})
    assert ev["aliases"]["logical"] == {"1": [0, 1]}
    assert ev["interrupts"] == [route("fast", [1], [1], [0, 1], [0, 1], dropped=[0])]


def test_same_flat_id_upstream_disables_logical_map():
    """6.3+: a logical slot that is already taken disables the logical map (3.2 step 3.4)."""
    ev = run("upstream", [{"id": 0, "logical_id": 1}, {"id": 1, "logical_id": 1}], [msi(1, "logical")])
    assert ev["map"] == optimized(255, {0: 0, 1: 1}, "disabled")
    assert ev["apicv_inhibits"] == ["logical_id_aliased"]
    assert ev["interrupts"] == [route("slow", [0, 1], [0, 1], [0, 1], [0, 1])]


# ----- software-disabled APICs in the logical map (section 1 boundaries, 8.9, 8.10) --------------

SW_ALIAS = [{"id": 0, "logical_id": 1}, {"id": 1, "logical_id": 1, "sw_enabled": False}]


@pytest.mark.parametrize("kernel", ["4.11", "5.2"])
def test_sw_disabled_vcpu_owns_logical_slot_before_5_3(kernel):
    """8.9: the software-disabled vCPU 1 is written last into flat bit 0 and receives (and discards) fixed messages.

    An NMI is accepted by it (section 6).
    """
    ev = run(kernel, SW_ALIAS, [msi(1, "logical"), msi(1, "logical", "nmi")])
    assert ev["map"] == optimized(255, {0: 0, 1: 1}, "flat", flat={0: 1})
    assert ev["interrupts"] == [
        route("fast", [1], [], [0, 1], [0, 1], dropped=[0]),
        route("fast", [1], [1], [0, 1], [0, 1], dropped=[0]),
    ]


@pytest.mark.parametrize("kernel", ["5.3", "6.1", "6.2", "6.3", "upstream"])
def test_sw_disabled_vcpu_left_out_of_logical_map_from_5_3(kernel):
    """From 5.3 the software-disabled vCPU is skipped: vCPU 0 owns bit 0, and 6.3+ sees no logical alias.

    The hardware reference still lists vCPU 1 (it matches; it would discard a
    fixed message, but accept an NMI), so it is dropped.
    """
    ev = run(kernel, SW_ALIAS, [msi(1, "logical"), msi(1, "logical", "nmi")])
    assert ev["map"] == optimized(255, {0: 0, 1: 1}, "flat", flat={0: 0})
    assert ev["apicv_inhibits"] == []
    assert ev["aliases"]["logical"] == {"1": [0, 1]}
    assert ev["interrupts"] == [
        route("fast", [0], [0], [0, 1], [0, 1], dropped=[1]),
        route("fast", [0], [0], [0, 1], [0, 1], dropped=[1]),
    ]


ALL_SW_DISABLED = [{"id": 0, "logical_id": 1, "sw_enabled": False}, {"id": 1, "logical_id": 2, "sw_enabled": False}]
ALL_SW_IRQS = [msi(3, "logical", "nmi"), msi(3, "logical"), msi(1, "physical", "nmi")]


@pytest.mark.parametrize("kernel", ["4.11", "5.2"])
def test_all_sw_disabled_4_11(kernel):
    """8.9: with every APIC software-disabled the mode is still flat; logical NMIs go through the fast path."""
    ev = run(kernel, ALL_SW_DISABLED, ALL_SW_IRQS)
    assert ev["map"] == optimized(255, {0: 0, 1: 1}, "flat", flat={0: 0, 1: 1})
    assert ev["interrupts"] == [
        route("fast", [0, 1], [0, 1], [0, 1], [0, 1]),
        route("fast", [0, 1], [], [0, 1], [0, 1]),
        route("fast", [1], [1], [1], [1]),
    ]


@pytest.mark.parametrize("kernel", ["5.3", "6.1", "6.2"])
def test_all_sw_disabled_5_3(kernel):
    """8.10: 5.3-6.2 — no APIC contributes a mode, logical_mode "none": logical messages take the slow path."""
    ev = run(kernel, ALL_SW_DISABLED, ALL_SW_IRQS)
    assert ev["map"] == optimized(255, {0: 0, 1: 1}, "none")
    assert ev["interrupts"] == [
        route("slow", [0, 1], [0, 1], [0, 1], [0, 1]),
        route("slow", [0, 1], [], [0, 1], [0, 1]),
        route("fast", [1], [1], [1], [1]),
    ]


@pytest.mark.parametrize("kernel", ["6.3", "upstream"])
def test_all_sw_disabled_6_3(kernel):
    """8.10: 6.3+ — mode sw_disabled: logical messages, even NMIs, are handled by the fast path and dropped."""
    ev = run(kernel, ALL_SW_DISABLED, ALL_SW_IRQS)
    assert ev["map"] == optimized(255, {0: 0, 1: 1}, "sw_disabled")
    assert ev["apicv_inhibits"] == []
    assert ev["interrupts"] == [
        route("fast", [], [], [0, 1], [0, 1], dropped=[0, 1]),
        route("fast", [], [], [0, 1], [0, 1], dropped=[0, 1]),
        route("fast", [1], [1], [1], [1]),
    ]


@pytest.mark.parametrize(("kernel", "mode", "path"), [("6.1", "none", "slow"), ("upstream", "sw_disabled", "fast")])
def test_no_logical_ids_at_all(kernel, mode, path):
    """Logical ID 0 everywhere: no flag, mode "none" and the slow path before 6.3 (3.1 step 5, 4.2); from 6.3
    an LDR of 0 is skipped, the mode stays "sw_disabled" and the fast path handles and drops (3.2, 4.2).
    """
    ev = run(kernel, [{"id": 0}, {"id": 1}], [msi(1, "logical")])
    assert ev["map"] == optimized(255, {0: 0, 1: 1}, mode)
    assert ev["interrupts"] == [route(path, [], [], [], [])]


# ----- x2APIC logical clusters: clamp and LDR wrap (4.2, 8.14; section 7 example) ---------------

CLAMP = [{"id": i, "apic": "x2apic"} for i in (0, 1, 2, 3, 16, 17, 272, 273)]


@pytest.mark.parametrize("kernel", ALL)
def test_x2apic_cluster_clamp(kernel):
    """The last cluster exposes only slots up to max_apic_id (4.2): cluster 17 has 273 - 272 + 1 = 2 slots.

    * (17 << 16) | 0xFFFF -> mask 0x3 -> vCPUs 272, 273.
    * cluster 18: offset 288 > 273 -> handled, nobody.
    * cluster 1, all bits -> phys_map[16..31] -> vCPUs 16, 17.
    * lowest (17 << 16) | 0x7, vector 2: the clamped mask has n = 2 bits, 2 mod 2
      = 0 -> bit 0 -> vCPU 272 (unclamped, n = 3 would pick the empty bit 2).
    * (17 << 16) | 0x4: clamped to 0 -> nobody.
    """
    irqs = [ipi(0, (17 << 16) | 0xFFFF, "logical"), ipi(0, (18 << 16) | 1, "logical"),
            ipi(0, (1 << 16) | 0xFFFF, "logical"), ipi(0, (17 << 16) | 7, "logical", "lowest", vector=2),
            ipi(0, (17 << 16) | 4, "logical")]
    ev = run(kernel, CLAMP, irqs)
    assert ev["map"] == optimized(273, {i: i for i in (0, 1, 2, 3, 16, 17, 272, 273)}, "x2apic")
    assert ev["interrupts"] == [
        route("fast", [272, 273], [272, 273], [272, 273], [272, 273]),
        route("fast", [], [], [], []),
        route("fast", [16, 17], [16, 17], [16, 17], [16, 17]),
        route("fast", [272], [272], [272], [272, 273]),
        route("fast", [], [], [], []),
    ]


WRAP = [{"id": 0, "apic": "x2apic"}, {"id": "0x100000", "apic": "x2apic"}]
WRAP_IRQS = [ipi(0, 0), ipi(0, 1, "logical"), ipi(0, 0x100000)]
BIG = 0x100000


@pytest.mark.parametrize("kernel", OLD)
def test_ldr_wrap_old_kernels(kernel):
    """8.14: ID 0x100000 has LDR ((0x10000 << 16) | 1) mod 2^32 = 0x1, so the logical step writes it into phys_map[0].

    A physical IPI to 0 then reaches vCPU 0x100000 instead of vCPU 0; logical
    0x1 matches both LDRs in the slow path and hardware.
    """
    ev = run(kernel, WRAP, WRAP_IRQS)
    assert ev["map"] == optimized(BIG, {0: BIG, BIG: BIG}, "x2apic")
    assert len(ev["warnings"]) == 1
    assert "KVM_MAX_VCPU_IDS" in ev["warnings"][0]
    assert ev["interrupts"] == [
        route("fast", [BIG], [BIG], [0], [0], dropped=[0], extra=[BIG]),
        route("fast", [BIG], [BIG], [0, BIG], [0, BIG], dropped=[0]),
        route("fast", [BIG], [BIG], [BIG], [BIG]),
    ]


def test_ldr_wrap_upstream():
    """8.14: 6.3+ writes nothing for x2APIC vCPUs in the logical step, but the slow path matches the wrapped LDR."""
    ev = run("upstream", WRAP, WRAP_IRQS)
    assert ev["map"] == optimized(BIG, {0: 0, BIG: BIG}, "x2apic")
    assert ev["apicv_inhibits"] == []
    assert ev["interrupts"] == [
        route("fast", [0], [0], [0], [0]),
        route("fast", [0], [0], [0, BIG], [0, BIG], dropped=[BIG]),
        route("fast", [BIG], [BIG], [BIG], [BIG]),
    ]


@pytest.mark.parametrize("kernel", OLD)
def test_ldr_wrap_created_first_is_overwritten(kernel):
    """8.14 and 3.1 step 4.1: created first, vCPU 0x100000 writes its wrapped LDR slot phys_map[0]; x2APIC
    vCPU 0 then writes phys_map[0] unconditionally, so physical 0 reaches vCPU 0 again.
    """
    ev = run(kernel, [WRAP[1], WRAP[0]], [ipi(0, 0)])
    assert ev["map"] == optimized(BIG, {0: 0, BIG: BIG}, "x2apic")
    assert ev["interrupts"] == [route("fast", [0], [0], [0], [0])]


# ----- DFR that is neither flat nor cluster (8.12), cluster bits above 7 (8.15) -----------------

@pytest.mark.parametrize("kernel", ALL)
def test_dfr_neither_flat_nor_cluster(kernel):
    """8.12: the map builder treats DFR 0x12345678 as cluster (vCPU 0 -> cluster 1 bit 0);
    the slow path matches nothing.

    Logical 0x13 reaches both on the fast path, only vCPU 1 on the slow path
    and in hardware (a DFR that is neither matches nothing): vCPU 0 is extra.
    """
    vcpus = [{"id": 0, "logical_id": "0x11", "dfr": "0x12345678"}, {"id": 1, "logical_id": "0x12", "dfr": "cluster"}]
    ev = run(kernel, vcpus, [msi(0x13, "logical"), msi(0x11, "logical")])
    assert ev["map"] == optimized(255, {0: 0, 1: 1}, "cluster", cluster={1: {0: 0, 1: 1}})
    assert ev["apicv_inhibits"] == []
    assert ev["interrupts"] == [
        route("fast", [0, 1], [0, 1], [1], [1], extra=[0]),
        route("fast", [0], [0], [], [], extra=[0]),
    ]


@pytest.mark.parametrize("kernel", ALL)
def test_dfr_neither_counts_as_cluster_next_to_flat(kernel):
    """8.12: a raw DFR of 0 is cluster for the map builder, so next to a flat vCPU the mode is disabled."""
    vcpus = [{"id": 0, "logical_id": 1, "dfr": 0}, {"id": 1, "logical_id": 2}]
    ev = run(kernel, vcpus, [msi(3, "logical")])
    assert ev["map"]["logical_mode"] == "disabled"
    assert ev["interrupts"] == [route("slow", [1], [1], [1], [1])]


@pytest.mark.parametrize("kernel", ALL)
def test_cluster_lookup_ignores_bits_above_7(kernel):
    """8.15: the fast path reads cluster (0x100011 >> 4) & 0xF = 1, bit 0; the slow path compares 0x10001 with 1.

    Hardware xAPIC APICs see only 0x11, so they agree with the fast path. (A 32-bit MSI needs 32-bit IDs, 9.1.)
    """
    ev = run(kernel, [{"id": 0, "logical_id": "0x11", "dfr": "cluster"}], [msi(0x100011, "logical")],
             use_32bit_ids=True)
    assert ev["interrupts"] == [route("fast", [0], [0], [], [0])]
