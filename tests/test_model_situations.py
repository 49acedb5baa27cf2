"""Every situation of Linux 6.3's "Honor architectural behavior for aliased 8-bit APIC IDs", before and after.

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
from typing import Any

import pytest

from apicviz.model import evaluate, scenario_from_dict

SEVERITY_KEYS = ("severity", "reasons", "findings")
OLD = ("5.2", "6.1")  # both pre-6.3 ranges: identical whenever no APIC is software-disabled
ALL = ("5.2", "6.1", "upstream")
BEHAVIOUR = {"4.11": "4.11-5.2", "5.2": "4.11-5.2", "5.3": "5.3-6.2", "6.1": "5.3-6.2", "6.2": "5.3-6.2",
             "6.3": "6.3+", "upstream": "6.3+"}


# ----- helpers ----------------------------------------------------------------------------------

def run(kernel: str, vcpus: list[dict], interrupts: list[dict] = (), *, use_32bit_ids: bool = False,
        quirk_disabled: bool = False, vector_hashing: bool = True, map_alloc_fails: bool = False) -> dict[str, Any]:
    raw = {
        "format": "apicviz-scenario",
        "version": 1,
        "kvm": {
            "kernel": kernel,
            "x2apic_api": {"use_32bit_ids": use_32bit_ids, "disable_broadcast_quirk": quirk_disabled},
            "vector_hashing": vector_hashing,
            "map_alloc_fails": map_alloc_fails,
        },
        "vcpus": vcpus,
        "interrupts": list(interrupts),
    }
    ev = evaluate(scenario_from_dict(raw)).to_json()
    assert ev["kernel"] == {"requested": kernel, "behaviour": BEHAVIOUR[kernel]}
    # The routes as FORMAT.md defines them; the severity keys are checked in test_severity.py.
    for r in ev["interrupts"]:
        for key in SEVERITY_KEYS:
            del r[key]
    return ev


def ipi(source: int, dest: int, mode: str = "physical", delivery: str = "fixed", vector: int = 48) -> dict:
    return {"source": source, "dest_mode": mode, "dest": dest, "delivery": delivery, "vector": vector}


def msi(dest: int, mode: str = "physical", delivery: str = "fixed", vector: int = 48) -> dict:
    return {"source": None, "dest_mode": mode, "dest": dest, "delivery": delivery, "vector": vector}


def short(source: int, shorthand: str, delivery: str = "fixed", vector: int = 48) -> dict:
    return {"source": source, "shorthand": shorthand, "delivery": delivery, "vector": vector}


def route(path: str, targets, accepted, slow, hardware, dropped=(), extra=()) -> dict:
    return {"path": path, "targets": list(targets), "accepted": list(accepted), "slow_path_targets": list(slow),
            "hardware_targets": list(hardware), "dropped": list(dropped), "extra": list(extra)}


def optimized(max_apic_id: int, phys: dict[int, int], mode: str, flat: dict[int, int] | None = None,
              cluster: dict[int, dict[int, int]] | None = None) -> dict:
    return {
        "status": "optimized",
        "reason": None,
        "max_apic_id": max_apic_id,
        "phys_map": {str(k): v for k, v in sorted(phys.items())},
        "logical_mode": mode,
        "xapic_flat_map": {str(k): v for k, v in (flat or {}).items()},
        "xapic_cluster_map": {str(c): {str(b): v for b, v in row.items()} for c, row in (cluster or {}).items()},
    }


def assert_no_map(ev: dict) -> None:
    """FORMAT.md: with status "none" only status and a reason in words are present."""
    assert ev["map"]["status"] == "none"
    assert set(ev["map"]) == {"status", "reason"}
    assert isinstance(ev["map"]["reason"], str)
    assert ev["map"]["reason"].strip()


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
