"""A small reference model written from KVM-BEHAVIOUR.md and FORMAT.md alone (``ref_*``).

It shares no code with apicviz.model: the property tests compare the two
evaluations, so a slip in either shows up as a difference.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from model_strategies import CLUSTER, FLAT, U32

from apicviz.model import evaluate
from apicviz.model.scenario import Interrupt, Scenario, Vcpu

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
    # reason and reason_code are the project's own words and codes, not the kernel's
    jmap = {k: v for k, v in ev["map"].items() if k not in ("reason", "reason_code")}
    return {"kernel": ev["kernel"], "map": jmap, "apicv_inhibits": ev["apicv_inhibits"],
            "physical_aliases": ev["aliases"]["physical"],
            "interrupts": [{k: r[k] for k in ROUTE_KEYS} for r in ev["interrupts"]]}
