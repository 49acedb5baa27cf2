"""Hypothesis strategies for scenarios and messages, shared by the model property tests.

The pools lean on the IDs where KVM's rules change (0xff, 0x100, 16383, 2^20,
the largest allocatable map); tests/test_model_properties.py checks that they
keep reaching those corners.
"""
from __future__ import annotations

from dataclasses import replace

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis_profiles import scaled

from apicviz.model.scenario import Interrupt, KvmConfig, Scenario, Vcpu, check_scenario

FLAT = 0xFFFFFFFF
CLUSTER = 0x0FFFFFFF
U32 = 0xFFFFFFFF

SETTINGS = settings(max_examples=scaled(300), deadline=None, suppress_health_check=[HealthCheck.too_slow])
KERNELS = ("4.11", "4.19", "5.2", "5.3", "5.15", "6.1", "6.2", "6.3", "6.6", "upstream")
SAME_RANGE = {"4.11-5.2": ("4.11", "4.19", "5.2"), "5.3-6.2": ("5.3", "5.15", "6.1", "6.2"),
              "6.3+": ("6.3", "6.6", "upstream", "9.0")}

# ----- strategies -------------------------------------------------------------------------------

ID_POOL = [0, 1, 2, 3, 4, 5, 7, 8, 0xF, 0x10, 0x11, 0x1F, 0x20, 0x23, 0x7F, 0xFE, 0xFF, 0x100, 0x101, 0x10F,
           0x110, 0x111, 0x123, 0x1FF, 0x200, 0x223, 0x3FF]
LARGE_IDS = [16383, 16384, 0xFFFFF, 0x100000, 0x100001, 0x100023, 0x123456, 268_435_387, 268_435_388, 0xFFFFFFFE]
LOGICAL_POOL = [0, 0, 1, 2, 3, 4, 8, 0x10, 0x80, 0x11, 0x12, 0x13, 0x21, 0x30, 0xF1, 0xFF]
DFR_POOL = [FLAT, FLAT, CLUSTER, CLUSTER, 0, 0x12345678, 0xFFFFFFFE]


# Strategies are built once at import: building them inside draws costs more than the tests themselves.
_KIND = st.integers(0, 9)
_POOL_ID = st.sampled_from(ID_POOL)
_SMALL_ID = st.integers(0, 0x300)
_LARGE_ID = st.sampled_from(LARGE_IDS)
_APIC = st.sampled_from(["xapic", "xapic", "x2apic", "x2apic", "disabled"])
_SW = st.sampled_from([True, True, True, False])
_XAPIC_KIND = st.integers(0, 2)
_XAPIC_POOL = st.sampled_from([0, 1, 2, 3, 0x23, 0xFE, 0xFF])
_U8 = st.integers(0, 0xFF)
_U32 = st.integers(0, U32)
_LOGICAL = st.one_of(st.sampled_from(LOGICAL_POOL), _U8)
_DFR = st.sampled_from(DFR_POOL)
_ARB = st.one_of(st.integers(0, 3), st.just(0x7FFFFFFF))
_COUNT = st.integers(1, 8)
_MIX = st.integers(0, 3)
_DEST_MODE = st.sampled_from(["physical", "logical"])
_SHORTHAND = st.sampled_from(["none"] * 5 + ["self", "all", "all-but-self"])
_DELIVERY = st.sampled_from(["fixed", "fixed", "lowest", "lowest", "lowest", "smi", "nmi", "init", "sipi"])
_VECTOR = st.one_of(st.sampled_from([0, 1, 2, 3, 32, 33, 48, 255]), _U8)
_KERNEL_FLAGS = st.tuples(st.booleans(), st.booleans(), st.booleans(), st.integers(0, 7))
_PICK = st.integers(0, 1 << 16)
_MASK16 = st.one_of(st.just(0xFFFF), st.integers(1, 0xFFFF))
_SMALL_DESTS = (0, 1, 2, 3, 4, 7, 8, 0x10, 0x11, 0x12, 0x13, 0x23, 0x30, 0xF0, 0xFE, 0xFF)
_BIG_DESTS = (U32, 0x100, 0x123, 0x1FF, 0x100011, 0x10001)


def _draw_id(draw) -> int:
    kind = draw(_KIND)
    if kind < 6:
        return draw(_POOL_ID)
    if kind < 9:
        return draw(_SMALL_ID)
    return draw(_LARGE_ID)


@st.composite
def vcpu_lists(draw, max_vcpus: int = 8) -> list[Vcpu]:
    """1-8 vCPUs: IDs near 0, 0xff, 0x100, 0x123, x2APIC cluster edges, and a few huge ones."""
    ids: list[int] = []
    for _ in range(min(draw(_COUNT), max_vcpus)):
        vid = _draw_id(draw)
        if vid not in ids:
            ids.append(vid)
    # A quarter of the VMs are all-x2APIC and a quarter all-xAPIC, so that the logical map is usable
    # (mixed modes disable it) and the x2APIC cluster / flat / cluster lookups get exercised.
    mix = draw(_MIX)
    # Guests program one DFR for all APICs; a third of the VMs do (flat or cluster), the rest are mixed.
    dfr_style = draw(_XAPIC_KIND)
    out = []
    for vid in ids:
        kind = draw(_XAPIC_KIND)
        xapic_id = vid & 0xFF if kind == 0 else draw(_XAPIC_POOL) if kind == 1 else draw(_U8)
        apic = draw(_APIC)
        if mix == 1 and apic == "xapic":
            apic = "x2apic"
        elif mix == 2 and apic == "x2apic":
            apic = "xapic"
        out.append(Vcpu(id=vid, apic=apic, sw_enabled=draw(_SW), xapic_id=xapic_id,
                        logical_id=draw(_LOGICAL), dfr=(draw(_DFR), FLAT, CLUSTER)[dfr_style],
                        arb_prio=draw(_ARB)))
    return out


def _draw_dest(draw, vcpus: list[Vcpu], wide: bool) -> int:
    """Destinations that hit IDs, aliases, broadcasts, logical bits and x2APIC clusters."""
    small = list(_SMALL_DESTS)
    for v in vcpus:
        small += [v.xapic_id, v.logical_id, v.id & 0xFF]
    kind = draw(_KIND)
    if kind < 3 or (kind < 5 and not wide):
        return small[draw(_PICK) % len(small)]
    if kind < 5:
        big = list(_BIG_DESTS)
        for v in vcpus:
            ldr = (((v.id >> 4) << 16) | (1 << (v.id & 0xF))) & U32
            big += [v.id, ldr, (ldr & 0xFFFF0000) | 0xFFFF, v.id + 0x100, v.id + 1]
        big = [d for d in big if d <= U32]
        return big[draw(_PICK) % len(big)]
    if kind == 5 and wide:  # some bits of an existing vCPU's x2APIC cluster (4.2, clamp)
        v = max(vcpus, key=lambda x: x.id) if draw(st.booleans()) else vcpus[draw(_PICK) % len(vcpus)]
        return ((((v.id >> 4) << 16) & U32) & 0xFFFF0000) | draw(_MASK16)
    if kind < 8:
        return draw(_U8)
    if kind == 8:
        return draw(_U32) if wide else draw(_U8)
    return U32 if wide and draw(st.booleans()) else 0xFF


@st.composite
def interrupts_for(draw, vcpus: list[Vcpu], max_size: int = 4, use_32bit_ids: bool = True) -> list[Interrupt]:
    """Messages valid per FORMAT.md: a present sender or none; 8-bit dest from an xAPIC sender, and from an
    MSI unless 32-bit IDs are on (KVM-BEHAVIOUR.md 9.1).
    """
    present = [v for v in vcpus if v.apic != "disabled"]
    out = []
    for _ in range(draw(st.integers(0, max_size))):
        sender = None
        if present and draw(_KIND) < 6:
            sender = present[draw(_PICK) % len(present)]
        shorthand = "none" if sender is None else draw(_SHORTHAND)
        wide = use_32bit_ids if sender is None else sender.apic == "x2apic"
        dest: int | None = _draw_dest(draw, vcpus, wide)
        if shorthand != "none" and draw(st.booleans()):
            dest = None
        out.append(Interrupt(source=None if sender is None else sender.id, dest_mode=draw(_DEST_MODE), dest=dest,
                             shorthand=shorthand, delivery=draw(_DELIVERY), vector=draw(_VECTOR)))
    return out


@st.composite
def scenarios(draw, max_vcpus: int = 8, kernels=KERNELS) -> Scenario:
    vcpus = draw(vcpu_lists(max_vcpus))
    use32, quirk_off, hashing, fail = draw(_KERNEL_FLAGS)
    kernel = draw(st.sampled_from(kernels))
    smm = fail != 6 or kernel in ("4.11", "4.19", "5.2", "5.3", "5.15", "6.1")  # no SMM only from 6.2 (kvm.smm)
    kvm = KvmConfig(kernel=kernel, use_32bit_ids=use32, disable_broadcast_quirk=quirk_off,
                    vector_hashing=hashing, map_alloc_fails=fail == 7, smm=smm)
    sc = Scenario(kvm=kvm, vcpus=vcpus, interrupts=draw(interrupts_for(vcpus, use_32bit_ids=use32)))
    check_scenario(sc)  # the strategy only builds valid scenarios (FORMAT.md rules)
    return sc


def with_kvm(sc: Scenario, **changes) -> Scenario:
    out = sc.copy()
    out.kvm = replace(out.kvm, **changes)
    return out


def present_ids(sc: Scenario) -> set[int]:
    return {v.id for v in sc.vcpus if v.apic != "disabled"}


def scenarios_with_messages(max_size: int = 12) -> st.SearchStrategy[Scenario]:
    """A random VM whose interrupts are replaced by up to ``max_size`` random messages of its own."""
    return scenarios().flatmap(lambda sc: interrupts_for(sc.vcpus, max_size=max_size).map(
        lambda irqs: Scenario(sc.title, sc.notes, sc.kvm, sc.vcpus, irqs)))
