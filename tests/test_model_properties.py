"""Property tests of the pure model, each resting on a section of KVM-BEHAVIOUR.md or FORMAT.md.

The fast and the slow path disagree in many places (KVM-BEHAVIOUR.md section
8), so the properties only claim what the spec says. The most important ones:

* the indexed :class:`Router` matches exactly what the per-vCPU rules say
  (``kvm_apic_match_dest`` and ``hardware_match``), because the Router is
  being optimised for speed;
* a small reference implementation written in this file from the spec alone
  (``Ref*``) gives the same evaluation as the model;
* the sweep reports every destination where the answers differ, with the
  same route as routing that destination directly.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis_profiles import scaled

from apicviz.model import evaluate
from apicviz.model.apic_map import recalculate
from apicviz.model.routing import Router, hardware_match, kvm_apic_match_dest
from apicviz.model.scenario import Interrupt, KvmConfig, Scenario, Vcpu, check_scenario
from apicviz.model.sweep import sweep

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


# ----- a reference written from KVM-BEHAVIOUR.md and FORMAT.md only -------------------------------

def ref_behaviour(kernel: str) -> str:
    """Section 1: three ranges; anything newer than known releases behaves as 6.3+."""
    if kernel == "upstream":
        return "6.3+"
    version = tuple(int(p) for p in kernel.split("."))
    return "4.11-5.2" if version < (5, 3) else "5.3-6.2" if version < (6, 3) else "6.3+"


def ref_ldr(v: Vcpu) -> int:
    """Section 2: x2APIC LDR derived from the ID modulo 2^32; xAPIC: the 8-bit logical ID."""
    if v.apic == "x2apic":
        return (((v.id >> 4) << 16) | (1 << (v.id & 15))) % (1 << 32)
    return v.logical_id


def ref_lookup(mode: str, max_apic_id: int, d: int):
    """Section 4.2 -> (table, base, mask) or None."""
    if mode == "x2apic":
        offset = (d >> 16) * 16
        if offset > max_apic_id:
            return ("phys", offset, 0)
        size = min(max_apic_id - offset + 1, 16)
        return ("phys", offset, d & 0xFFFF & ((1 << size) - 1))
    if mode == "flat":
        return ("logical", 0, d & 0xFF)
    if mode == "cluster":
        return ("logical", ((d >> 4) & 0xF) * 4, d & 0xF)
    if mode == "sw_disabled":
        return ("logical", 0, 0)
    return None


def low_bit(mask: int) -> int:
    return (mask & -mask).bit_length() - 1


@dataclass
class RefMap:
    ok: bool
    max_apic_id: int
    phys: dict[int, int] = field(default_factory=dict)
    logical: dict[int, int] = field(default_factory=dict)  # shared flat/cluster table: slot -> vCPU index
    mode: str = "none"
    inhibits: list[str] = field(default_factory=list)


def ref_recalculate(sc: Scenario) -> RefMap:
    behaviour = ref_behaviour(sc.kvm.kernel)
    present = [(i, v) for i, v in enumerate(sc.vcpus) if v.apic != "disabled"]
    max_id = max([255] + [v.id for _, v in present])
    new = behaviour == "6.3+"
    if sc.kvm.map_alloc_fails or 536 + 8 * (max_id + 1) > 2**31 - 1:
        return RefMap(False, max_id, inhibits=["logical_id_aliased", "physical_id_aliased"] if new else [])
    m = RefMap(True, max_id)
    if not new:
        flags: set[str] = set()
        for i, v in present:
            x2 = v.apic == "x2apic"
            if x2 or v.id > 0xFF:
                m.phys[v.id] = i
            if not x2 and v.xapic_id not in m.phys:
                m.phys[v.xapic_id] = i
            if behaviour == "5.3-6.2" and not v.sw_enabled:
                continue
            if x2:
                flags.add("x2apic")
            elif v.logical_id:
                flags.add("flat" if v.dfr == FLAT else "cluster")
            if len(flags) != 1:
                continue
            table, base, mask = ref_lookup(next(iter(flags)), max_id, ref_ldr(v) if (x2 or v.logical_id) else 0)
            if mask:
                (m.phys if table == "phys" else m.logical)[base + low_bit(mask)] = i
        m.mode = "none" if not flags else next(iter(flags)) if len(flags) == 1 else "disabled"
        return m
    mode = "sw_disabled"
    modified = False
    for i, v in present:
        x2 = v.apic == "x2apic"
        if not x2 and v.xapic_id != v.id % 256:
            modified = True
        if sc.kvm.use_32bit_ids:
            if x2 or v.id > 0xFF:
                m.phys[v.id] = i
            if not x2 and v.xapic_id not in m.phys:
                m.phys[v.xapic_id] = i
        else:
            pid = v.id if x2 else v.xapic_id
            if pid in m.phys:
                inhibits = ["logical_id_aliased", "physical_id_aliased"]
                return RefMap(False, max_id, inhibits=(["apic_id_modified"] if modified else []) + inhibits)
            m.phys[pid] = i
        if mode == "disabled" or not v.sw_enabled or ref_ldr(v) == 0:
            continue
        vmode = "x2apic" if x2 else "flat" if v.dfr == FLAT else "cluster"
        if mode == "sw_disabled":
            mode = vmode
        elif mode != vmode:
            mode = "disabled"
            continue
        if x2:
            continue
        _, base, mask = ref_lookup(mode, max_id, v.logical_id)
        if not mask:
            continue
        slot = base + low_bit(mask)
        if mask.bit_count() > 1 or slot in m.logical:
            mode = "disabled"
        else:
            m.logical[slot] = i
    m.mode = mode
    m.inhibits = (["apic_id_modified"] if modified else []) + (["logical_id_aliased"] if mode == "disabled" else [])
    return m


def ref_kvm_match(v: Vcpu, i: int, src: int | None, irq: Interrupt, dest: int, quirk_disabled: bool) -> bool:
    """Section 5.1."""
    if irq.shorthand == "self":
        return i == src
    if irq.shorthand == "all":
        return True
    if irq.shorthand == "all-but-self":
        return i != src
    x2 = v.apic == "x2apic"
    mda = U32 if (not quirk_disabled and src is None and dest == 0xFF and x2) else dest
    if mda == (U32 if x2 else 0xFF):
        return True
    if irq.dest_mode == "physical":
        return mda == v.id if (x2 or mda > 0xFF) else mda == v.xapic_id
    if x2:
        ldr = ref_ldr(v)
        return ldr >> 16 == mda >> 16 and ldr & mda & 0xFFFF != 0
    if v.dfr == FLAT:
        return v.logical_id & mda != 0
    if v.dfr == CLUSTER:
        return v.logical_id >> 4 == mda >> 4 and v.logical_id & mda & 0xF != 0
    return False


def ref_hardware_match(v: Vcpu, i: int, src: int | None, irq: Interrupt, dest: int, quirk_disabled: bool) -> bool:
    """FORMAT.md "The architectural reference": each APIC on its own, xAPIC APICs see dest & 0xFF."""
    if irq.shorthand != "none":
        return ref_kvm_match(v, i, src, irq, dest, quirk_disabled)
    if v.apic == "x2apic":
        if dest == U32 or (src is None and dest == 0xFF and not quirk_disabled):
            return True
        if irq.dest_mode == "physical":
            return dest == v.id
        ldr = ref_ldr(v)
        return dest >> 16 == ldr >> 16 and ldr & dest & 0xFFFF != 0
    d = dest & 0xFF
    if d == 0xFF:
        return True
    if irq.dest_mode == "physical":
        return d == v.xapic_id
    if v.dfr == FLAT:
        return v.logical_id & d != 0
    if v.dfr == CLUSTER:
        return v.logical_id >> 4 == d >> 4 and v.logical_id & d & 0xF != 0
    return False


def ref_route(sc: Scenario, m: RefMap, irq: Interrupt) -> dict:
    vcpus = sc.vcpus
    kvm = sc.kvm
    src = None if irq.source is None else next(i for i, v in enumerate(vcpus) if v.id == irq.source)
    dest = irq.dest or 0
    if src is not None and vcpus[src].apic != "x2apic":
        dest &= 0xFF
    present = [(i, v) for i, v in enumerate(vcpus) if v.apic != "disabled"]
    # Slow path (section 5).
    slow_delivery = irq.delivery
    if irq.dest_mode == "physical" and dest == 0xFF and slow_delivery == "lowest":
        slow_delivery = "fixed"
    found = [i for i, v in present if ref_kvm_match(v, i, src, irq, dest, kvm.disable_broadcast_quirk)]
    if slow_delivery != "lowest":
        slow = found
    else:
        cands = [i for i in found if vcpus[i].sw_enabled]
        if not cands:
            slow = []
        elif kvm.vector_hashing:
            slow = [cands[irq.vector % len(cands)]]
        else:
            best = cands[0]
            for c in cands[1:]:
                if vcpus[c].arb_prio < vcpus[best].arb_prio:
                    best = c
            slow = [best]
    # Fast path (section 4).
    fast = None
    if irq.shorthand == "self":
        fast = [src]
    elif irq.shorthand == "none" and m.ok:
        if kvm.disable_broadcast_quirk:
            bcast = dest == U32 or (dest == 0xFF and m.mode != "x2apic")
        else:
            x2_sender = src is not None and vcpus[src].apic == "x2apic"
            bcast = dest == (U32 if x2_sender else 0xFF)
        if bcast:
            fast = None
        elif irq.dest_mode == "physical":
            fast = [] if dest > m.max_apic_id or dest not in m.phys else [m.phys[dest]]
        else:
            found_lk = ref_lookup(m.mode, m.max_apic_id, dest)
            if found_lk is not None:
                table, base, mask = found_lk
                tab = m.phys if table == "phys" else m.logical
                bits = [b for b in range(16) if mask >> b & 1]
                if irq.delivery != "lowest":
                    fast = sorted({tab[base + b] for b in bits if base + b in tab})
                elif not kvm.vector_hashing:
                    best = None
                    for b in bits:
                        h = tab.get(base + b)
                        if h is not None and (best is None or vcpus[h].arb_prio < vcpus[best].arb_prio):
                            best = h
                    fast = [] if best is None else [best]
                else:
                    h = tab.get(base + bits[irq.vector % len(bits)]) if bits else None
                    fast = [] if h is None else [h]
    if fast is None:
        path, targets, delivery = "slow", slow, slow_delivery
    else:
        path, targets, delivery = "fast", fast, irq.delivery
    accepted = [t for t in targets if delivery not in ("fixed", "lowest") or vcpus[t].sw_enabled]
    if delivery == "smi" and not kvm.smm:
        accepted = []  # section 6: without CONFIG_KVM_SMM no APIC accepts an SMI
    hardware = [i for i, v in present if ref_hardware_match(v, i, src, irq, dest, kvm.disable_broadcast_quirk)]
    if irq.delivery == "lowest":
        hardware = [i for i in hardware if vcpus[i].sw_enabled]
        dropped = hardware if not targets else []
    else:
        dropped = [h for h in hardware if h not in targets]
    extra = [t for t in targets if t not in hardware]
    ids = [v.id for v in vcpus]
    return {"path": path, **{k: [ids[i] for i in val] for k, val in (
        ("targets", targets), ("accepted", accepted), ("slow_path_targets", slow),
        ("hardware_targets", hardware), ("dropped", dropped), ("extra", extra))}}


def ref_evaluation(sc: Scenario) -> dict:
    m = ref_recalculate(sc)
    ids = [v.id for v in sc.vcpus]
    if m.ok:
        jmap = {
            "status": "optimized",
            "max_apic_id": m.max_apic_id,
            "phys_map": {str(k): ids[i] for k, i in sorted(m.phys.items())},
            "logical_mode": m.mode,
            "xapic_flat_map": {str(b): ids[m.logical[b]] for b in range(8) if b in m.logical}
            if m.mode == "flat" else {},
            "xapic_cluster_map": {
                str(c): {str(b): ids[m.logical[4 * c + b]] for b in range(4) if 4 * c + b in m.logical}
                for c in range(16) if any(4 * c + b in m.logical for b in range(4))
            } if m.mode == "cluster" else {},
        }
    else:
        jmap = {"status": "none"}
    aliases: dict[int, list[int]] = {}
    for v in sc.vcpus:
        if v.apic != "disabled":
            aliases.setdefault(v.id if v.apic == "x2apic" else v.xapic_id, []).append(v.id)
    return {
        "kernel": {"requested": sc.kvm.kernel, "behaviour": ref_behaviour(sc.kvm.kernel)},
        "map": jmap,
        "apicv_inhibits": sorted(m.inhibits),
        "physical_aliases": {str(k): v for k, v in sorted(aliases.items()) if len(v) > 1},
        "interrupts": [ref_route(sc, m, irq) for irq in sc.interrupts],
    }


#: The route keys the reference computes (FORMAT.md); severity has its own tests (test_severity.py).
ROUTE_KEYS = ("path", "targets", "accepted", "slow_path_targets", "hardware_targets", "dropped", "extra")


def model_evaluation(sc: Scenario) -> dict:
    ev = evaluate(sc).to_json()
    jmap = {k: v for k, v in ev["map"].items() if k != "reason"}
    return {"kernel": ev["kernel"], "map": jmap, "apicv_inhibits": ev["apicv_inhibits"],
            "physical_aliases": ev["aliases"]["physical"],
            "interrupts": [{k: r[k] for k in ROUTE_KEYS} for r in ev["interrupts"]]}


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


# ----- the sweep --------------------------------------------------------------------------------

ROUTE_FIELDS = ("path", "targets", "accepted", "slow_path_targets", "hardware_targets", "dropped", "extra")


def route_key(r) -> tuple:
    return tuple(tuple(getattr(r, f)) if f != "path" else r.path for f in ROUTE_FIELDS)


def disagrees(r) -> bool:
    return bool(r.dropped or r.extra or r.targets != r.slow_path_targets)


def sweep_senders(ev) -> dict[str, int | None]:
    """The sweep's senders (sweep.py docstring): an MSI and one IPI per APIC mode present.

    Any vCPU of a mode must do; this picks the *last* one, not the first the
    sweep uses, so that a sender-dependent result would show up.
    """
    vcpus = ev.scenario.vcpus
    senders: dict[str, int | None] = {"msi": None}
    for i, v in enumerate(vcpus):
        if v.apic == "xapic":
            senders["ipi-xapic"] = i
        elif v.apic == "x2apic":
            senders["ipi-x2apic"] = i
    return senders


def sends_32_bits(sender: str, sc: Scenario) -> bool:
    """KVM-BEHAVIOUR.md 9.1: an x2APIC ICR has 32 destination bits, an MSI only with use_32bit_ids."""
    return sender == "ipi-x2apic" or (sender == "msi" and sc.kvm.use_32bit_ids)


def physical_probe(ev, extra: list[int]) -> set[int]:
    """Physical destinations worth trying: 0..0x17f, around every ID and map slot, the top, class members."""
    vcpus = ev.scenario.vcpus
    present = [v for v in vcpus if v.apic != "disabled"]
    top = max([0xFF] + [v.id for v in present])
    dests = set(range(0x180)) | {0x1FF, 0x200, 0x2FF, top, top - 1, U32}
    anchors = {v.id for v in vcpus} | ({v.id & 0xFFFFF for v in vcpus})
    if ev.result.map is not None:
        anchors |= set(ev.result.map.phys_map)
    for a in anchors:
        dests.update({a - 1, a, a + 1, a + 0x100, a - 0x100, a + 0x200})
    residues = {v.xapic_id for v in present} | {0xFF, 0}
    for r in residues:
        for hi in (0x100, 0x200, 0x300, (top & ~0xFF), (top & ~0xFF) - 0x100, (top & ~0xFF) + 0x100):
            dests.add(hi + r)
    dests.update(extra)
    return {d for d in dests if 0 <= d <= U32}


def logical_probe(ev) -> set[int]:
    """Every 8-bit logical destination, and each x2APIC cluster's single bits and all-bits."""
    vcpus = ev.scenario.vcpus
    clusters = {ref_ldr(v) >> 16 for v in vcpus if v.apic == "x2apic"}
    amap = ev.result.map
    if amap is not None and amap.logical_mode == "x2apic":
        clusters |= {k >> 4 for k in amap.phys_map}
    dests = set(range(0x100)) | {U32}
    for c in clusters:
        dests.update(((c << 16) | (1 << b)) for b in range(16))
        dests.add((c << 16) | 0xFFFF)
    return {d for d in dests if d <= U32}  # slots at 2^20 and above belong to no 32-bit cluster


def check_sweep(sc: Scenario, extra_dests: list[int], limit_to_top: bool) -> None:
    ev = evaluate(sc)
    result = sweep(ev)
    router = ev.router
    senders = sweep_senders(ev)
    present = [v for v in sc.vcpus if v.apic != "disabled"]
    if not present:
        assert result.rows == []
        return
    top = max([0xFF] + [v.id for v in present])
    explicit: dict[tuple[str, int, str], object] = {}
    classes: dict[tuple[int, str], object] = {}
    fixed = {"physical": Interrupt(dest_mode="physical"), "logical": Interrupt(dest_mode="logical")}
    for row in result.rows:
        assert disagrees(row.route), f"row without a disagreement: {row.dest_mode} {row.dest:#x}"
        for s in row.senders:  # FORMAT.md: a message that no guest or device can send is never reported
            assert row.dest <= 0xFF or sends_32_bits(s, sc), f"{s} cannot send {row.dest_mode} {row.dest:#x}"
        assert 0 <= row.dest <= U32, f"not a 32-bit destination: {row.dest:#x}"
        for s in row.senders:
            assert s in senders
            if row.count == 1 and row.residue is None:
                key = (row.dest_mode, row.dest, s)
                if key in explicit:  # a repeat is reported by test_sweep_lists_each_destination_once
                    assert route_key(explicit[key].route) == route_key(row.route)
                explicit[key] = row
            else:
                assert row.dest_mode == "physical"
                assert row.dest > 0xFF
                assert row.dest & 0xFF == row.residue
                assert s != "ipi-xapic"  # 8-bit senders cannot reach a destination above 0xff
                assert (row.residue, s) not in classes
                classes[(row.residue, s)] = row
            # Each row's route is the direct route of its destination from that sender.
            direct = router.route_dest(fixed[row.dest_mode], row.dest, senders[s])
            assert route_key(direct) == route_key(row.route), f"{row.dest_mode} {row.dest:#x} from {s}"
    probes = {"physical": physical_probe(ev, extra_dests), "logical": logical_probe(ev)}
    for mode, dests in probes.items():
        for dest in sorted(dests):
            if limit_to_top and mode == "physical" and top < dest < U32:
                continue
            if not limit_to_top and not (mode == "physical" and top < dest < U32):
                continue
            for s, src in senders.items():
                if dest > 0xFF and not sends_32_bits(s, sc):
                    continue  # the xAPIC ICR, and an MSI without 32-bit IDs, have 8 bits (FORMAT.md, 9.1)
                r = router.route_dest(fixed[mode], dest, src)
                if not disagrees(r):
                    continue
                row = explicit.get((mode, dest, s))
                if row is None and mode == "physical" and 0xFF < dest < U32:
                    row = classes.get((dest & 0xFF, s))
                assert row is not None, f"sweep misses {mode} {dest:#x} from {s}: {route_key(r)}"
                assert route_key(row.route) == route_key(r), f"{mode} {dest:#x} from {s} differs from its row"


@settings(max_examples=scaled(250), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenarios(), st.lists(st.integers(0, 0x1000), max_size=16))
def test_sweep_covers_every_disagreeing_destination(sc, extra):
    """sweep.py's contract: every physical destination 0..max(0xff, largest ID) and broadcast, every 8-bit
    logical destination and each x2APIC cluster's bits, as an MSI and as an IPI from each APIC mode present
    (fixed delivery): each one where KVM and hardware, or the fast and the slow path, disagree is listed —
    alone, or in its residue class mod 0x100 above 0xff — with the route that destination really takes.
    """
    check_sweep(sc, extra, limit_to_top=True)


# The sweep's range is 0..max(0xff, largest ID) plus the broadcasts, as issue 2 defines it; what lies
# above is pinned down by test_destinations_above_the_largest_id (KVM delivers to nobody, hardware's
# 8-bit xAPIC view accepts the low byte), not listed row by row.


def test_sweep_lists_each_destination_once():
    """A destination is one row: a repeat would count its dropped deliveries twice in the summary.

    x2APIC vCPU 0xFFFFF is in cluster 0xFFFF, whose all-bits destination
    (0xFFFF << 16) | 0xFFFF is 0xFFFFFFFF, the x2APIC broadcast. As an MSI it
    reaches every x2APIC vCPU on the slow path but not xAPIC vCPU 0 (mda
    0xFFFFFFFF is not its broadcast and its logical ID is 0), while in hardware
    vCPU 0 sees 0xFF: a disagreement, to be listed once. (An MSI names 0xFFFFFFFF only with 32-bit IDs.)
    """
    sc = Scenario(kvm=KvmConfig(kernel="6.1", use_32bit_ids=True), vcpus=[Vcpu(0), Vcpu(0xFFFFF, apic="x2apic")])
    ev = evaluate(sc)
    seen: dict[tuple[str, int, str], int] = {}
    for row in sweep(ev).rows:
        if row.count == 1 and row.residue is None:
            for s in row.senders:
                seen[(row.dest_mode, row.dest, s)] = seen.get((row.dest_mode, row.dest, s), 0) + 1
    assert seen.get(("logical", U32, "msi")) == 1
    assert [key for key, n in seen.items() if n > 1] == []


@SETTINGS
@given(scenarios(), st.integers(1, 0x400))
def test_destinations_above_the_largest_id(sc, offset):
    """Physical destinations above max(0xff, largest present ID) (below the x2APIC broadcast): KVM delivers to
    nobody — the fast path drops them as above max_apic_id (4.1 step 5, 8.1), and the slow path (5.1) finds no
    such x2APIC ID and no broadcast — while in hardware exactly the xAPIC-mode APICs whose xAPIC ID is the low
    byte (or whose low byte is 0xff) accept them (FORMAT.md hardware reference).
    """
    ev = evaluate(sc)
    present = [(i, v) for i, v in enumerate(sc.vcpus) if v.apic != "disabled"]
    top = max([0xFF] + [v.id for _, v in present])
    dest = top + offset
    if dest >= U32:
        return
    for delivery in ("fixed", "nmi"):
        irq = Interrupt(dest_mode="physical", delivery=delivery)
        for src in [None, *[i for i, v in present if v.apic == "x2apic"][:1]]:
            r = ev.router.route_dest(irq, dest, src)
            assert r.targets == []
            assert r.slow_path_targets == []
            assert r.path == ("fast" if ev.result.map is not None else "slow")
            low = dest & 0xFF
            assert r.hardware_targets == [i for i, v in present if v.apic == "xapic" and low in (0xFF, v.xapic_id)]
            assert r.dropped == r.hardware_targets


def test_check_sweep_catches_a_missing_row():
    """The coverage checker itself must fail when the sweep leaves a disagreeing destination out."""
    sc = Scenario(kvm=KvmConfig(kernel="6.1"), vcpus=[Vcpu(0, logical_id=1), Vcpu(1, xapic_id=0, logical_id=2)])
    ev = evaluate(sc)
    result = sweep(ev)
    assert any(r.dest_mode == "physical" and r.dest == 0 for r in result.rows)  # 7 example A: vCPU 1 dropped
    import apicviz.model.sweep as sweep_module

    original = sweep_module.sweep

    def lossy(e):
        res = original(e)
        res.rows = [r for r in res.rows if not (r.dest_mode == "physical" and r.dest == 0)]
        return res

    globals()["sweep"] = lossy
    try:
        try:
            check_sweep(sc, [], limit_to_top=True)
        except AssertionError as exc:
            assert "misses physical 0x0" in str(exc)
        else:
            raise AssertionError("check_sweep accepted a sweep without the row for physical 0")
    finally:
        globals()["sweep"] = original


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
