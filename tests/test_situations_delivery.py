"""Every situation of Linux 6.3's "Honor architectural behavior for aliased 8-bit APIC IDs", before and after.

This file: Broadcasts and the broadcast quirk, lowest priority, shorthands.

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
from situation_helpers import ALL, assert_no_map, ipi, msi, optimized, route, run, short

# ----- broadcast and the broadcast quirk (4.1 step 4, 5.1, 8.2-8.4; section 7 example) ----------

BCAST = [
    {"id": 0, "apic": "x2apic"},
    {"id": 1, "apic": "x2apic"},
    {"id": 255, "apic": "x2apic"},
    {"id": 3, "apic": "xapic"},
]


@pytest.mark.parametrize("kernel", ALL)
def test_broadcast_with_quirk(kernel):
    """Quirk enabled (4.1 step 4): broadcast is 0xFF for MSIs and xAPIC senders, 0xFFFFFFFF for x2APIC senders.

    * MSI 0xFF: declined, the slow path turns it into 0xFFFFFFFF for x2APIC
      targets (5.1) and xAPIC vCPU 3 sees its own broadcast: everybody.
    * MSI 0xFFFFFFFF: not a broadcast here, above max_apic_id -> dropped by
      the fast path (8.2), although the slow path reaches every x2APIC vCPU and
      the hardware (vCPU 3 sees 0xFF) reaches everybody.
    * x2APIC IPI to 0xFF: phys_map[255] only; the slow path adds vCPU 3 (8.3).
    * x2APIC IPI to 0xFFFFFFFF: broadcast, slow path: all x2APIC vCPUs; vCPU 3
      compares 0xFFFFFFFF with its x2APIC ID and misses it (hardware: low byte 0xFF).
    * xAPIC IPI to 0xFF: broadcast, slow; x2APIC vCPU 255 matches 0xFF as its ID.

    An MSI names 0xFFFFFFFF only with 32-bit IDs (9.1); with distinct IDs they leave the map as it is.
    """
    irqs = [msi(0xFF), msi(0xFFFFFFFF), ipi(0, 0xFF), ipi(0, 0xFFFFFFFF), ipi(3, 0xFF)]
    ev = run(kernel, BCAST, irqs, use_32bit_ids=True)
    assert ev["map"] == optimized(255, {0: 0, 1: 1, 3: 3, 255: 255}, "x2apic")
    everyone = [0, 1, 255, 3]
    assert ev["interrupts"] == [
        route("slow", everyone, everyone, everyone, everyone),
        route("fast", [], [], [0, 1, 255], everyone, dropped=everyone),
        route("fast", [255], [255], [255, 3], [255, 3], dropped=[3]),
        route("slow", [0, 1, 255], [0, 1, 255], [0, 1, 255], everyone, dropped=[3]),
        route("slow", [255, 3], [255, 3], [255, 3], [255, 3]),
    ]


@pytest.mark.parametrize("kernel", ALL)
def test_broadcast_without_quirk(kernel):
    """Quirk disabled: 0xFF is a broadcast only when the logical mode is not x2APIC (4.1 step 4).

    Here the mode is x2apic, so an MSI to physical 0xFF is phys_map[255] only
    while vCPU 3 (xAPIC) would still take it as a broadcast; logical 0xFF is
    x2APIC cluster 0 bits 0-7 (phys_map[0..7]: vCPUs 0, 1, 3). 0xFFFFFFFF is a
    broadcast: slow path, which vCPU 3 does not match. (32-bit IDs let the MSI name 0xFFFFFFFF, 9.1.)
    """
    irqs = [msi(0xFF), msi(0xFF, "logical"), msi(0xFFFFFFFF), ipi(0, 0xFF)]
    ev = run(kernel, BCAST, irqs, quirk_disabled=True, use_32bit_ids=True)
    assert ev["interrupts"] == [
        route("fast", [255], [255], [255, 3], [255, 3], dropped=[3]),
        route("fast", [0, 1, 3], [0, 1, 3], [0, 1, 3], [0, 1, 3]),
        route("slow", [0, 1, 255], [0, 1, 255], [0, 1, 255], [0, 1, 255, 3], dropped=[3]),
        route("fast", [255], [255], [255, 3], [255, 3], dropped=[3]),
    ]


@pytest.mark.parametrize("kernel", ALL)
@pytest.mark.parametrize("quirk_disabled", [False, True])
def test_broadcast_0xff_in_xapic_vm(kernel, quirk_disabled):
    """4.1 step 4: with a flat logical mode MSI 0xFF is a broadcast with the quirk (no sender) and without it
    (mode is not x2APIC), so the fast path declines and the slow path reaches everybody (5.1).
    """
    vcpus = [{"id": 0, "logical_id": 1}, {"id": 1, "logical_id": 2}]
    ev = run(kernel, vcpus, [msi(0xFF), msi(0xFF, "logical")], quirk_disabled=quirk_disabled)
    assert ev["map"]["logical_mode"] == "flat"
    assert ev["interrupts"] == [route("slow", [0, 1], [0, 1], [0, 1], [0, 1])] * 2


@pytest.mark.parametrize("kernel", ALL)
def test_lowest_priority_physical_0xff_becomes_fixed(kernel):
    """8.4: physical 0xFF with lowest priority (xAPIC sender or MSI) is a broadcast; the slow path makes it fixed.

    Every present vCPU gets it; the software-disabled vCPU 1 discards it. The
    hardware reference for lowest priority is the eligible (software-enabled)
    set, so vCPU 1 counts as extra (FORMAT.md definitions).
    """
    vcpus = [{"id": 0}, {"id": 1, "sw_enabled": False}, {"id": 2}]
    irqs = [ipi(0, 0xFF, delivery="lowest", vector=5), msi(0xFF, delivery="lowest", vector=5)]
    ev = run(kernel, vcpus, irqs)
    assert ev["interrupts"] == [route("slow", [0, 1, 2], [0, 2], [0, 1, 2], [0, 2], extra=[1])] * 2


@pytest.mark.parametrize("kernel", ALL)
def test_lowest_priority_x2apic_broadcast_is_not_rewritten(kernel):
    """Only 0xFF exactly is rewritten (section 5 step 1): lowest to 0xFFFFFFFF arbitrates among enabled x2APICs.

    Candidates [0, 1] (vCPU 2 is software-disabled), vector 3 mod 2 = 1 -> vCPU 1.
    """
    vcpus = [{"id": 0, "apic": "x2apic"}, {"id": 1, "apic": "x2apic"}, {"id": 2, "apic": "x2apic", "sw_enabled": False}]
    ev = run(kernel, vcpus, [ipi(0, 0xFFFFFFFF, delivery="lowest", vector=3)])
    assert ev["interrupts"] == [route("slow", [1], [1], [1], [0, 1])]


@pytest.mark.parametrize("kernel", ALL)
def test_physical_destination_above_max_apic_id_is_dropped(kernel):
    """8.1: 0x101 > max_apic_id (255): handled by the fast path, nobody; the xAPIC vCPU 1 would see 0x01."""
    vcpus = [{"id": 0, "apic": "x2apic"}, {"id": 1}]
    ev = run(kernel, vcpus, [ipi(0, 0x101)])
    assert ev["interrupts"] == [route("fast", [], [], [], [1], dropped=[1])]


# ----- lowest priority (4.3, section 5, 8.5, 8.18; section 7 example) --------------------------

HASH_VCPUS = [
    {"id": 0, "logical_id": 1, "arb_prio": 5},
    {"id": 1, "logical_id": 2, "sw_enabled": False, "arb_prio": 0},
    {"id": 2, "logical_id": 4, "arb_prio": 3},
]
HASH_IRQS = [
    msi(3, "logical", "lowest", vector=33),
    msi(3, "logical", "lowest", vector=32),
    msi(7, "logical", "lowest", vector=2),
]


@pytest.mark.parametrize("kernel", ["5.3", "6.1", "6.2", "6.3", "upstream"])
def test_vector_hashing_lands_on_empty_slot(kernel):
    """From 5.3 the software-disabled vCPU 1 leaves flat bit 1 empty (3.1 step 4.2, 3.2 step 3.4).

    * 0x03 vector 33: n = 2 set bits (occupied or not), 33 mod 2 = 1 -> bit 1,
      empty -> dropped; the slow path hashes over enabled matches only: vCPU 0.
    * vector 32 -> bit 0 -> vCPU 0.
    * 0x07 vector 2: 2 mod 3 = 2 -> bit 2 -> vCPU 2, while the slow path picks
      candidate 2 mod 2 = 0, vCPU 0: both deliver, to different vCPUs (8.18).
    """
    ev = run(kernel, HASH_VCPUS, HASH_IRQS)
    assert ev["map"] == optimized(255, {0: 0, 1: 1, 2: 2}, "flat", flat={0: 0, 2: 2})
    assert ev["interrupts"] == [
        route("fast", [], [], [0], [0], dropped=[0]),
        route("fast", [0], [0], [0], [0]),
        route("fast", [2], [2], [0], [0, 2]),
    ]


@pytest.mark.parametrize("kernel", ["4.11", "5.2"])
def test_vector_hashing_picks_sw_disabled_vcpu_before_5_3(kernel):
    """4.11-5.2: vCPU 1 owns flat bit 1 although software-disabled (8.9), gets the message and discards it.

    Lowest-priority dropped is non-empty only when targets is empty, so
    vCPU 0 is not "dropped"; vCPU 1 is "extra" (not eligible in hardware).
    """
    ev = run(kernel, HASH_VCPUS, HASH_IRQS)
    assert ev["map"] == optimized(255, {0: 0, 1: 1, 2: 2}, "flat", flat={0: 0, 1: 1, 2: 2})
    assert ev["interrupts"] == [
        route("fast", [1], [], [0], [0], extra=[1]),
        route("fast", [0], [0], [0], [0]),
        route("fast", [2], [2], [0], [0, 2]),
    ]


@pytest.mark.parametrize(("kernel", "fast"), [("5.2", 1), ("6.1", 2), ("upstream", 2)])
def test_lowest_priority_without_vector_hashing_uses_arb_prio(kernel, fast):
    """vector_hashing off: smallest arb_prio among occupied slots (4.3) / enabled matches (section 5).

    Before 5.3 the software-disabled vCPU 1 (arb_prio 0) is in the map and
    wins on the fast path; from 5.3 vCPU 2 (arb_prio 3) beats vCPU 0 (5).
    """
    ev = run(kernel, HASH_VCPUS, [msi(7, "logical", "lowest", vector=2)], vector_hashing=False)
    expected = route("fast", [fast], [fast] if fast == 2 else [], [2], [0, 2], extra=[] if fast == 2 else [fast])
    assert ev["interrupts"] == [expected]


@pytest.mark.parametrize("kernel", ALL)
def test_lowest_priority_ties_fast_scans_bits_slow_scans_creation_order(kernel):
    """Ties: the fast path keeps the lowest bit (replaces only on strictly smaller), the slow path the earliest vCPU.

    vCPU 0 owns flat bit 1, vCPU 1 bit 0, both arb_prio 1: fast -> vCPU 1,
    slow -> vCPU 0 (4.3 and section 5 step 2).
    """
    vcpus = [{"id": 0, "logical_id": 2, "arb_prio": 1}, {"id": 1, "logical_id": 1, "arb_prio": 1}]
    ev = run(kernel, vcpus, [msi(3, "logical", "lowest")], vector_hashing=False)
    assert ev["map"]["xapic_flat_map"] == {"0": 1, "1": 0}
    assert ev["interrupts"] == [route("fast", [1], [1], [0], [0, 1])]


@pytest.mark.parametrize("kernel", ALL)
def test_physical_lowest_priority_to_sw_disabled_vcpu(kernel):
    """8.5: the fast path delivers physical lowest priority without arbitration; the slow path picks nobody."""
    ev = run(kernel, [{"id": 0}, {"id": 1, "sw_enabled": False}], [msi(1, delivery="lowest")])
    assert ev["interrupts"] == [route("fast", [1], [], [], [], extra=[1])]


# ----- shorthands (8.6, 8.7) ---------------------------------------------------------------------

@pytest.mark.parametrize("kernel", ALL)
def test_self_ipi_from_sw_disabled_sender(kernel):
    """8.6: self is delivered to the sender by the fast path; a software-disabled APIC discards fixed/lowest.

    slow_path_targets: the sender for fixed, nobody for lowest (not a
    candidate); an NMI is accepted.
    """
    vcpus = [{"id": 0, "sw_enabled": False}, {"id": 1}]
    ev = run(kernel, vcpus, [short(0, "self"), short(0, "self", "lowest"), short(0, "self", "nmi")])
    assert ev["interrupts"] == [
        route("fast", [0], [], [0], [0]),
        route("fast", [0], [], [], [], extra=[0]),
        route("fast", [0], [0], [0], [0]),
    ]


def test_self_ipi_is_fast_even_without_a_map():
    """8.7: self is checked before the map (4.1 step 1), so it is fast even when 6.3+ discarded the map."""
    ev = run("upstream", [{"id": 0}, {"id": 1, "xapic_id": 0}], [short(1, "self")])
    assert_no_map(ev)
    assert ev["interrupts"] == [route("fast", [1], [1], [1], [1])]


@pytest.mark.parametrize("kernel", ALL)
def test_all_and_all_but_self_always_slow(kernel):
    """8.7: all / all-but-self are declined by the fast path even with an optimized map.

    Present vCPUs only (vCPU 2 is hardware-disabled); lowest priority over all
    picks among the enabled candidates [0, 3]: vector 1 mod 2 -> vCPU 3.
    """
    vcpus = [{"id": 0}, {"id": 1, "sw_enabled": False}, {"id": 2, "apic": "disabled"}, {"id": 3, "apic": "x2apic"}]
    irqs = [short(0, "all"), short(0, "all-but-self"), short(0, "all", "lowest", vector=1),
            short(0, "all-but-self", "nmi"), short(3, "all")]
    ev = run(kernel, vcpus, irqs)
    assert ev["map"]["status"] == "optimized"
    assert ev["interrupts"] == [
        route("slow", [0, 1, 3], [0, 3], [0, 1, 3], [0, 1, 3]),
        route("slow", [1, 3], [3], [1, 3], [1, 3]),
        route("slow", [3], [3], [3], [0, 3]),
        route("slow", [1, 3], [1, 3], [1, 3], [1, 3]),
        route("slow", [0, 1, 3], [0, 3], [0, 1, 3], [0, 1, 3]),
    ]
