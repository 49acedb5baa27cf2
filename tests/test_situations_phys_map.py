"""Every situation of Linux 6.3's "Honor architectural behavior for aliased 8-bit APIC IDs", before and after.

This file: Aliased xAPIC IDs, the 0x123/0x23 hotplug wrap, map allocation failure and APICv inhibits.

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

import tracemalloc

import pytest
from situation_helpers import ALL, OLD, assert_no_map, ipi, msi, optimized, route, run, short

# ----- aliased xAPIC IDs (section 3.1 step 4.1, 3.2 step 3.3; section 7 example A) ---------------

ALIASED = [
    {"id": 0, "apic": "xapic", "logical_id": 1},
    {"id": 1, "apic": "xapic", "xapic_id": 0, "logical_id": 2},
]
ALIASED_IRQS = [ipi(0, 0), ipi(0, 1), msi(0), ipi(0, 2, "logical")]


@pytest.mark.parametrize("kernel", OLD)
@pytest.mark.parametrize("use_32bit_ids", [False, True])
def test_aliased_xapic_ids_old_kernels(kernel, use_32bit_ids):
    """Before 6.3 the first vCPU keeps phys_map[0]; the second (ID <= 0xff) is in no physical slot.

    Section 3.1 step 4.1: an xAPIC vCPU is written at its xAPIC ID only if the
    slot is empty; use_32bit_ids plays no part (8.17). The fast path then sends
    physical 0 to vCPU 0 only, while the slow path (5.1) matches both, so vCPU 1
    is dropped; physical 1 is handled by the fast path and reaches nobody.
    """
    ev = run(kernel, ALIASED, ALIASED_IRQS, use_32bit_ids=use_32bit_ids)
    assert ev["map"] == optimized(255, {0: 0}, "flat", flat={0: 0, 1: 1})
    assert ev["apicv_inhibits"] == []
    assert ev["aliases"] == {"physical": {"0": [0, 1]}, "logical": {}}
    assert ev["interrupts"] == [
        route("fast", [0], [0], [0, 1], [0, 1], dropped=[1]),
        route("fast", [], [], [], []),
        route("fast", [0], [0], [0, 1], [0, 1], dropped=[1]),
        route("fast", [1], [1], [1], [1]),
    ]


def test_aliased_xapic_ids_upstream_disables_map():
    """6.3+ without 32-bit IDs: the aliased physical ID makes the whole map NULL (3.2 step 3.3).

    vCPU 1's xAPIC ID 0 differs from its vCPU ID, so apic_id_modified is set
    before the collision; all messages take the slow path, which matches both.
    """
    ev = run("upstream", ALIASED, ALIASED_IRQS)
    assert_no_map(ev)
    assert ev["apicv_inhibits"] == ["apic_id_modified", "logical_id_aliased", "physical_id_aliased"]
    assert ev["aliases"]["physical"] == {"0": [0, 1]}
    assert ev["interrupts"] == [
        route("slow", [0, 1], [0, 1], [0, 1], [0, 1]),
        route("slow", [], [], [], []),
        route("slow", [0, 1], [0, 1], [0, 1], [0, 1]),
        route("slow", [1], [1], [1], [1]),
    ]


def test_aliased_xapic_ids_upstream_with_32bit_ids_keeps_hotplug_hack():
    """6.3+ with use_32bit_ids runs the old physical step (3.2 step 3.2): first writer wins, map stays.

    The logical part is still strict, but the two flat IDs 1 and 2 do not
    collide; only apic_id_modified is set (vCPU 1's xAPIC ID was rewritten).
    """
    ev = run("upstream", ALIASED, ALIASED_IRQS, use_32bit_ids=True)
    assert ev["map"] == optimized(255, {0: 0}, "flat", flat={0: 0, 1: 1})
    assert ev["apicv_inhibits"] == ["apic_id_modified"]
    assert ev["interrupts"][0] == route("fast", [0], [0], [0, 1], [0, 1], dropped=[1])
    assert ev["interrupts"][1] == route("fast", [], [], [], [])


# ----- vCPU 0x123 in xAPIC mode next to vCPU 0x23 (section 7 example B) --------------------------

HOTPLUG = [
    {"id": 0, "apic": "x2apic"},
    {"id": "0x23", "apic": "xapic"},
    {"id": "0x123", "apic": "xapic", "xapic_id": "0x23"},
]
HOTPLUG_IRQS = [ipi(0, 0x123), ipi(0, 0x23), msi(0x123), msi(0x23), ipi(0x23, 0x23)]
#: Without 32-bit IDs no MSI can name 0x123 (9.1): the same messages less msi(0x123).
HOTPLUG_IRQS_8BIT = HOTPLUG_IRQS[:2] + HOTPLUG_IRQS[3:]
# Fast path with the hotplug hack: 0x123 reaches only vCPU 0x123, 0x23 only vCPU 0x23. The slow path
# lets vCPU 0x123 answer to 0x123 (its x2APIC ID, mda > 0xff) and to 0x23 (its xAPIC ID); hardware
# xAPIC APICs see only the low 8 bits, so both xAPIC vCPUs take either message.
HACK_ROUTES = [
    route("fast", [0x123], [0x123], [0x123], [0x23, 0x123], dropped=[0x23]),
    route("fast", [0x23], [0x23], [0x23, 0x123], [0x23, 0x123], dropped=[0x123]),
    route("fast", [0x123], [0x123], [0x123], [0x23, 0x123], dropped=[0x23]),
    route("fast", [0x23], [0x23], [0x23, 0x123], [0x23, 0x123], dropped=[0x123]),
    route("fast", [0x23], [0x23], [0x23, 0x123], [0x23, 0x123], dropped=[0x123]),
]


@pytest.mark.parametrize("kernel", OLD)
@pytest.mark.parametrize("use_32bit_ids", [False, True])
def test_hotplug_0x123_old_kernels(kernel, use_32bit_ids):
    """Before 6.3 the hotplug hack is always on (3.1 step 4.1): vCPU 0x123 sits at phys_map[0x123].

    max_apic_id is the largest x2APIC ID (291); vCPU 0x123 finds phys_map[0x23]
    taken by vCPU 0x23. The x2APIC vCPU 0 makes the logical mode x2apic; the
    xAPIC vCPUs have logical ID 0 and add no flag.
    """
    irqs = HOTPLUG_IRQS if use_32bit_ids else HOTPLUG_IRQS_8BIT
    ev = run(kernel, HOTPLUG, irqs, use_32bit_ids=use_32bit_ids)
    assert ev["map"] == optimized(0x123, {0: 0, 0x23: 0x23, 0x123: 0x123}, "x2apic")
    assert ev["apicv_inhibits"] == []
    assert ev["aliases"] == {"physical": {"35": [0x23, 0x123]}, "logical": {}}
    assert ev["interrupts"] == (HACK_ROUTES if use_32bit_ids else HACK_ROUTES[:2] + HACK_ROUTES[3:])


def test_hotplug_0x123_upstream_32bit_ids():
    """6.3+ with use_32bit_ids applies the hotplug hack exactly as before (3.2 step 3.2).

    No inhibit: 0x123 truncated to 8 bits is 0x23, its xAPIC ID, so the ID is
    not "modified" (3.2 step 3.1).
    """
    ev = run("upstream", HOTPLUG, HOTPLUG_IRQS, use_32bit_ids=True)
    assert ev["map"] == optimized(0x123, {0: 0, 0x23: 0x23, 0x123: 0x123}, "x2apic")
    assert ev["apicv_inhibits"] == []
    assert ev["interrupts"] == HACK_ROUTES


def test_hotplug_0x123_upstream_8bit_ids():
    """6.3+ without 32-bit IDs: vCPU 0x123's one physical ID is its xAPIC ID 0x23, taken -> map NULL.

    Inhibits: physical and logical aliasing, but not apic_id_modified (0x123
    & 0xff == 0x23). The slow path still honours the x2APIC ID of an xAPIC-mode
    vCPU above 0xff (5.1, "in every range and regardless of use_32bit_ids").
    """
    ev = run("upstream", HOTPLUG, HOTPLUG_IRQS_8BIT)
    assert_no_map(ev)
    assert ev["apicv_inhibits"] == ["logical_id_aliased", "physical_id_aliased"]
    both = route("slow", [0x23, 0x123], [0x23, 0x123], [0x23, 0x123], [0x23, 0x123])
    only_hack = route("slow", [0x123], [0x123], [0x123], [0x23, 0x123], dropped=[0x23])
    assert ev["interrupts"] == [only_hack, both, both, both]


@pytest.mark.parametrize(("kernel", "use_32bit_ids"), [("6.1", False), ("upstream", True)])
def test_hotplug_creation_order_decides_who_owns_the_xapic_slot(kernel, use_32bit_ids):
    """Creation order matters (FORMAT.md "vcpus"): created first, vCPU 0x123 takes phys_map[0x23] too.

    Then vCPU 0x23 finds its slot taken and is in no physical slot, so an IPI
    to 0x23 reaches vCPU 0x123 only (3.1 step 4.1).
    """
    vcpus = [HOTPLUG[0], HOTPLUG[2], HOTPLUG[1]]
    ev = run(kernel, vcpus, [ipi(0, 0x23), ipi(0, 0x123)], use_32bit_ids=use_32bit_ids)
    assert ev["map"] == optimized(0x123, {0: 0, 0x23: 0x123, 0x123: 0x123}, "x2apic")
    assert ev["interrupts"] == [
        route("fast", [0x123], [0x123], [0x123, 0x23], [0x123, 0x23], dropped=[0x23]),
        route("fast", [0x123], [0x123], [0x123], [0x123, 0x23], dropped=[0x23]),
    ]


def test_hotplug_creation_order_upstream_8bit_ids():
    """6.3+ without 32-bit IDs (3.2 step 3.3): whichever order, the second vCPU with physical ID 0x23 discards
    the map; the slow path (5.1) then delivers 0x23 to both xAPIC vCPUs.
    """
    vcpus = [HOTPLUG[0], HOTPLUG[2], HOTPLUG[1]]
    ev = run("upstream", vcpus, [ipi(0, 0x23)])
    assert_no_map(ev)
    assert ev["apicv_inhibits"] == ["logical_id_aliased", "physical_id_aliased"]
    assert ev["interrupts"] == [route("slow", [0x123, 0x23], [0x123, 0x23], [0x123, 0x23], [0x123, 0x23])]


@pytest.mark.parametrize("kernel", OLD)
def test_x2apic_vcpu_overwrites_xapic_alias_old_kernels(kernel):
    """Before 6.3 an x2APIC vCPU writes phys_map[id] unconditionally, evicting an xAPIC alias (3.1 step 4.1).

    vCPU 5 set its xAPIC ID to 0x23 and is created first; x2APIC vCPU 0x23
    overwrites the slot, so vCPU 5 is in no slot and is dropped by the fast path.
    """
    vcpus = [{"id": 5, "xapic_id": "0x23"}, {"id": "0x23", "apic": "x2apic"}]
    ev = run(kernel, vcpus, [msi(0x23)])
    assert ev["map"] == optimized(255, {0x23: 0x23}, "x2apic")
    assert ev["aliases"]["physical"] == {"35": [5, 0x23]}
    assert ev["interrupts"] == [route("fast", [0x23], [0x23], [5, 0x23], [5, 0x23], dropped=[5])]


def test_x2apic_vs_xapic_alias_upstream():
    """6.3+ (3.2 step 3.3): an x2APIC ID equal to another vCPU's xAPIC ID is an alias too, so the map is NULL;
    vCPU 5's rewritten xAPIC ID was seen before the collision, so apic_id_modified is set (3.2 step 3.1).
    """
    vcpus = [{"id": 5, "xapic_id": "0x23"}, {"id": "0x23", "apic": "x2apic"}]
    ev = run("upstream", vcpus, [msi(0x23)])
    assert_no_map(ev)
    assert ev["apicv_inhibits"] == ["apic_id_modified", "logical_id_aliased", "physical_id_aliased"]
    assert ev["interrupts"] == [route("slow", [5, 0x23], [5, 0x23], [5, 0x23], [5, 0x23])]


# ----- map allocation failure (sections 3.1 step 1, 3.2 step 1, 3.4) ----------------------------

FAIL_VCPUS = [{"id": 0}, {"id": 1, "xapic_id": 7}]
FAIL_IRQS = [ipi(0, 7), msi(0), short(1, "self")]
FAIL_ROUTES = [
    route("slow", [1], [1], [1], [1]),
    route("slow", [0], [0], [0], [0]),
    route("fast", [1], [1], [1], [1]),  # self is delivered before the map is even looked at (4.1 step 1)
]


@pytest.mark.parametrize("kernel", ALL)
def test_forced_allocation_failure(kernel):
    """kvzalloc returning NULL leaves no map; only 6.3+ sets inhibits, and never apic_id_modified.

    Section 3.2 step 1: no vCPU is examined, so vCPU 1's rewritten xAPIC ID
    does not count.
    """
    ev = run(kernel, FAIL_VCPUS, FAIL_IRQS, map_alloc_fails=True)
    assert_no_map(ev)
    expected = ["logical_id_aliased", "physical_id_aliased"] if kernel == "upstream" else []
    assert ev["apicv_inhibits"] == expected
    assert ev["interrupts"] == FAIL_ROUTES


@pytest.mark.parametrize("kernel", ALL)
def test_huge_id_fails_allocation_without_allocating(kernel):
    """max_apic_id 268,435,388 needs 536 + 8 * 268,435,389 = 2^31 bytes > INT_MAX: the map is NULL (3.4).

    The model must compute this, not try: evaluating allocates nothing per ID (its time is in
    benchmarks/bench_model.py). (32-bit IDs let the MSI name vCPU ``big``, 9.1; they change nothing
    when the allocation fails.)
    """
    big = 268_435_388
    vcpus = [{"id": 0}, {"id": big, "apic": "x2apic"}]
    tracemalloc.start()
    try:
        ev = run(kernel, vcpus, [msi(big), ipi(big, 0)], use_32bit_ids=True)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 20 * 1024 * 1024
    assert_no_map(ev)
    expected = ["logical_id_aliased", "physical_id_aliased"] if kernel == "upstream" else []
    assert ev["apicv_inhibits"] == expected
    assert len(ev["warnings"]) == 1
    assert "KVM_MAX_VCPU_IDS" in ev["warnings"][0]
    assert ev["interrupts"] == [route("slow", [big], [big], [big], [big]), route("slow", [0], [0], [0], [0])]


@pytest.mark.parametrize("kernel", OLD)
def test_largest_allocatable_map_old_kernels(kernel):
    """max_apic_id 268,435,387 needs 2^31 - 8 bytes: it fits, the map is optimized (3.4).

    ID 0x0FFFFFBB is >= 2^20, so its x2APIC LDR wraps to cluster 0xFFFB, bit
    11; before 6.3 the logical step writes the vCPU into phys_map[0xFFFBB]
    (3.1 step 4.4, 8.14). 32-bit IDs, needed for the MSI to name ``big`` (9.1), change nothing here (8.17).
    The map is described, not allocated: benchmarks/bench_model.py times it.
    """
    big = 268_435_387  # 0x0FFFFFBB
    ev = run(kernel, [{"id": 0}, {"id": big, "apic": "x2apic"}], [msi(big), ipi(big, 0)], use_32bit_ids=True)
    assert ev["map"] == optimized(big, {0: 0, 0xFFFBB: big, big: big}, "x2apic")
    assert ev["interrupts"] == [route("fast", [big], [big], [big], [big]), route("fast", [0], [0], [0], [0])]


def test_largest_allocatable_map_upstream():
    """6.3+ writes nothing for x2APIC vCPUs in the logical step (3.2 step 3.4): no wrapped entry.

    With 32-bit IDs (so that the MSI can name ``big``, 9.1) the physical step is 3.2 step 3.2; the two vCPUs
    have distinct IDs at or below 0xff or in x2APIC mode, so the slots are the same as without.
    """
    big = 268_435_387
    ev = run("upstream", [{"id": 0}, {"id": big, "apic": "x2apic"}], [msi(big)], use_32bit_ids=True)
    assert ev["map"] == optimized(big, {0: 0, big: big}, "x2apic")
    assert ev["apicv_inhibits"] == []
    assert ev["interrupts"] == [route("fast", [big], [big], [big], [big])]


@pytest.mark.parametrize("kernel", ALL)
def test_maximum_vcpu_id_fails_allocation(kernel):
    """ID 0xFFFFFFFE (the largest allowed) needs a 32 GiB map: allocation fails (3.4); the MSI to it still
    arrives through the slow path, which matches the x2APIC ID (5.1). (An MSI names it only with 32-bit IDs.)
    """
    vcpus = [{"id": 0}, {"id": "0xFFFFFFFE", "apic": "x2apic"}]
    ev = run(kernel, vcpus, [msi(0xFFFFFFFE)], use_32bit_ids=True)
    assert_no_map(ev)
    assert ev["interrupts"] == [route("slow", [0xFFFFFFFE], [0xFFFFFFFE], [0xFFFFFFFE], [0xFFFFFFFE])]


@pytest.mark.parametrize("kernel", ALL)
def test_hardware_disabled_vcpu_does_not_size_the_map(kernel):
    """max_apic_id counts present vCPUs only (3.1 step 1); a disabled APIC is in no loop (section 2)."""
    vcpus = [{"id": 0}, {"id": "0xFFFFFFFE", "apic": "disabled"}]
    ev = run(kernel, vcpus, [msi(0xFFFFFFFE)], use_32bit_ids=True)
    assert ev["map"]["status"] == "optimized"
    assert ev["map"]["max_apic_id"] == 255
    # 0xFFFFFFFE > max_apic_id: the fast path drops it (8.1); nobody present has that ID anyway.
    assert ev["interrupts"] == [route("fast", [], [], [], [])]


# ----- APICv inhibits (3.2 step 4, section 7 "Order matters", 8.16) ------------------------------

def test_inhibit_order_alias_before_modified_id():
    """vCPU 256 (xAPIC ID 0) collides with vCPU 0 before vCPU 2 (xAPIC ID 7) is examined: no apic_id_modified."""
    ev = run("upstream", [{"id": 0}, {"id": 256}, {"id": 2, "xapic_id": 7}])
    assert_no_map(ev)
    assert ev["apicv_inhibits"] == ["logical_id_aliased", "physical_id_aliased"]


def test_inhibit_order_modified_id_before_alias():
    """Created first, vCPU 2 sets id_modified before the collision: all three inhibits."""
    ev = run("upstream", [{"id": 2, "xapic_id": 7}, {"id": 0}, {"id": 256}])
    assert_no_map(ev)
    assert ev["apicv_inhibits"] == ["apic_id_modified", "logical_id_aliased", "physical_id_aliased"]


@pytest.mark.parametrize("kernel", OLD)
def test_old_kernels_set_no_inhibits(kernel):
    """3.1 step 6: before 6.3 the map recalculation sets no inhibit, whatever the aliasing."""
    ev = run(kernel, [{"id": 2, "xapic_id": 7}, {"id": 0, "logical_id": 3}, {"id": 256, "logical_id": 1}])
    assert ev["map"]["status"] == "optimized"
    assert ev["apicv_inhibits"] == []


def test_modified_id_alone_keeps_the_map():
    """3.2 steps 3.1 and 4: a rewritten but unique xAPIC ID keeps the map and sets only apic_id_modified; no
    vCPU has a logical ID, so the logical mode stays sw_disabled (3.2 step 2).
    """
    ev = run("upstream", [{"id": 0, "xapic_id": 5}, {"id": 1}], [ipi(1, 5)])
    assert ev["map"] == optimized(255, {5: 0, 1: 1}, "sw_disabled")
    assert ev["apicv_inhibits"] == ["apic_id_modified"]
    assert ev["interrupts"] == [route("fast", [0], [0], [0], [0])]


def test_xapic_id_of_x2apic_or_disabled_vcpu_is_ignored():
    """The xAPIC ID check applies to xAPIC-mode vCPUs only; disabled APICs are skipped (section 2, 3.2 step 3.1)
    and are no alias (FORMAT.md "aliases": present vCPUs).
    """
    ev = run("upstream", [{"id": 0, "apic": "x2apic", "xapic_id": 9}, {"id": 1, "apic": "disabled", "xapic_id": 0},
                          {"id": 2}])
    assert ev["map"] == optimized(255, {0: 0, 2: 2}, "x2apic")
    assert ev["apicv_inhibits"] == []
    assert ev["aliases"] == {"physical": {}, "logical": {}}
