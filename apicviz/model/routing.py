"""Where one message goes: KVM's fast path, its slow path, and the architecture.

:class:`Router` indexes a scenario once (by x2APIC ID, xAPIC ID, logical
bit) so that routing a message costs its number of matches, not the number
of vCPUs: the destination sweep routes tens of thousands of messages.
:func:`kvm_apic_match_dest` is the plain per-vCPU rule the index must agree
with (tests check that).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING

from .apic_map import MapResult, logical_lookup
from .numbers import fmt_id
from .scenario import APIC_BROADCAST, X2APIC_BROADCAST, Interrupt, KvmConfig, Scenario, Vcpu

if TYPE_CHECKING:
    from .severity import Verdict

LOWEST = "lowest"


@dataclass(slots=True)
class Route:
    """Outcome of one message; vCPUs are indexes in creation order (slots: a sweep makes thousands)."""

    path: str
    targets: list[int]
    accepted: list[int]
    slow_path_targets: list[int]
    hardware_targets: list[int]
    dropped: list[int]
    extra: list[int]
    #: Plain-words account of the fast path decision (for explanations).
    fast_note: str = ""
    #: The fast path's lookup: ("phys"|"logical", slots) it read, for the map view.
    slots: list[tuple[str, int]] = field(default_factory=list)
    #: Delivery mode after the slow path's 0xFF rewrite.
    delivery: str = "fixed"
    #: The destination as KVM sees it (8 bits from an xAPIC-mode sender's ICR).
    dest: int = 0
    #: The sending vCPU's index, None for an MSI / I/O APIC message.
    source: int | None = None
    #: Severity class and per-vCPU findings (:mod:`.severity`), set by the evaluation and the sweep.
    verdict: Verdict | None = None
    #: PV IPIs only (path "pv_ipi"): what kvm_pv_send_ipi did (:mod:`.pv_ipi` result codes).
    pv_ipi_result: str | None = None


def mda_for(target: Vcpu, dest: int, has_source: bool, kvm: KvmConfig) -> int:
    """kvm_apic_mda: an MSI to 0xFF is a broadcast for x2APIC targets unless the quirk is off."""
    if not kvm.disable_broadcast_quirk and not has_source and dest == APIC_BROADCAST and target.x2apic_mode:
        return X2APIC_BROADCAST
    return dest


def kvm_apic_match_dest(target: Vcpu, source: Vcpu | None, irq: Interrupt, dest: int, kvm: KvmConfig) -> bool:
    """KVM's per-vCPU match (section 5.1), the reference the indexed router follows."""
    if irq.shorthand == "self":
        return target is source
    if irq.shorthand == "all":
        return True
    if irq.shorthand == "all-but-self":
        return target is not source
    mda = mda_for(target, dest, source is not None, kvm)
    x2 = target.x2apic_mode
    if mda == (X2APIC_BROADCAST if x2 else APIC_BROADCAST):
        return True
    if not irq.logical:
        if x2 or mda > 0xFF:
            return mda == target.id
        return mda == target.xapic_id
    if x2:
        ldr = target.x2apic_ldr
        return (ldr >> 16) == (mda >> 16) and (ldr & mda & 0xFFFF) != 0
    model = target.dfr_model
    if model == "flat":
        return (target.logical_id & mda) != 0
    if model == "cluster":
        return (target.logical_id >> 4) == (mda >> 4) and (target.logical_id & mda & 0xF) != 0
    return False


def hardware_match(target: Vcpu, source: Vcpu | None, irq: Interrupt, dest: int, kvm: KvmConfig) -> bool:
    """The architectural reference (FORMAT.md): each APIC matches on its own, in its own mode."""
    if irq.shorthand != "none":
        return kvm_apic_match_dest(target, source, irq, dest, kvm)
    if target.x2apic_mode:
        return kvm_apic_match_dest(target, source, irq, dest, kvm)  # same rules, quirk included
    d = dest & 0xFF
    if d == APIC_BROADCAST:
        return True
    if not irq.logical:
        return d == target.xapic_id
    model = target.dfr_model
    if model == "flat":
        return (target.logical_id & d) != 0
    if model == "cluster":
        return (target.logical_id >> 4) == (d >> 4) and (target.logical_id & d & 0xF) != 0
    return False


def _bits(mask: int):
    while mask:
        low = mask & -mask
        yield low.bit_length() - 1
        mask ^= low


def _sorted_union(groups: list[list[int]]) -> list[int]:
    if not groups:
        return []
    if len(groups) == 1:
        return groups[0]
    return sorted(set().union(*groups))


class Router:
    """Routes messages for one scenario and its recalculated map."""

    #: The per-vCPU lookup tables: they depend on the vCPUs only, never on the kernel or the map.
    INDEX_FIELDS = ("index_of", "present", "x2_present", "xapic_present", "x2_by_id", "xapic_by_id",
                    "xapic_by_xid", "flat_by_bit", "cluster_by_slot", "x2_by_cluster_bit")

    def __init__(self, scenario: Scenario, result: MapResult, same_vcpus_as: Router | None = None) -> None:
        """``same_vcpus_as``: a router over the very same vCPU list (another kernel), whose tables are shared."""
        self.scenario = scenario
        self.kvm = scenario.kvm
        self.result = result
        self.map = result.map
        self.vcpus = scenario.vcpus
        if same_vcpus_as is not None and same_vcpus_as.vcpus is scenario.vcpus:
            for name in self.INDEX_FIELDS:  # read-only after construction, so sharing is safe
                setattr(self, name, getattr(same_vcpus_as, name))
            return
        self.index_of: dict[int, int] = {}
        self.present: list[int] = []
        self.x2_present: list[int] = []
        self.xapic_present: list[int] = []
        self.x2_by_id: dict[int, int] = {}
        self.xapic_by_id: dict[int, int] = {}  # xAPIC-mode vCPUs by x2APIC ID (slow-path hotplug match)
        self.xapic_by_xid: dict[int, list[int]] = {}
        self.flat_by_bit: dict[int, list[int]] = {}
        self.cluster_by_slot: dict[tuple[int, int], list[int]] = {}
        self.x2_by_cluster_bit: dict[tuple[int, int], list[int]] = {}
        self._build_index()

    def _build_index(self) -> None:
        """One pass over the vCPUs (properties inlined: this runs on every edit of a 4096-vCPU VM)."""
        index_of, present = self.index_of, self.present
        x2_present, xapic_present = self.x2_present, self.xapic_present
        x2_by_id, xapic_by_id, xapic_by_xid = self.x2_by_id, self.xapic_by_id, self.xapic_by_xid
        x2_by_cluster_bit = self.x2_by_cluster_bit
        for idx, v in enumerate(self.vcpus):
            vid = v.id
            index_of[vid] = idx
            apic = v.apic
            if apic == "disabled":
                continue
            present.append(idx)
            if apic == "x2apic":
                x2_present.append(idx)
                x2_by_id[vid] = idx
                # The x2APIC LDR (Vcpu.x2apic_ldr) sets exactly one bit, vid & 0xf, in cluster (vid >> 4) mod 2^16.
                key = ((vid >> 4) & 0xFFFF, vid & 0xF)
                members = x2_by_cluster_bit.get(key)
                if members is None:
                    x2_by_cluster_bit[key] = [idx]
                else:
                    members.append(idx)
                continue
            xapic_present.append(idx)
            xapic_by_id[vid] = idx
            xid = v.xapic_id
            same = xapic_by_xid.get(xid)
            if same is None:
                xapic_by_xid[xid] = [idx]
            else:
                same.append(idx)
            logical_id = v.logical_id
            if not logical_id:
                continue
            model = v.dfr_model
            if model == "flat":
                for bit in _bits(logical_id):
                    self.flat_by_bit.setdefault(bit, []).append(idx)
            elif model == "cluster":
                for bit in _bits(logical_id & 0xF):
                    self.cluster_by_slot.setdefault((logical_id >> 4, bit), []).append(idx)

    @cached_property
    def xapic_mode_set(self) -> frozenset[int]:
        """Present xAPIC-mode vCPUs as a set, built on first use: the severity reasons split findings by it."""
        return frozenset(self.xapic_present)

    # ----- matching (indexed) -------------------------------------------------

    def _x2_matches(self, logical: bool, mda: int) -> list[int]:
        if mda == X2APIC_BROADCAST:
            return self.x2_present
        if not logical:
            idx = self.x2_by_id.get(mda)
            return [] if idx is None else [idx]
        cluster = mda >> 16
        groups = [self.x2_by_cluster_bit[(cluster, b)] for b in _bits(mda & 0xFFFF)
                  if (cluster, b) in self.x2_by_cluster_bit]
        return _sorted_union(groups)

    def _xapic_matches(self, logical: bool, mda: int, hardware: bool) -> list[int]:
        if hardware:
            mda &= 0xFF
        if mda == APIC_BROADCAST:
            return self.xapic_present
        if not logical:
            if mda > 0xFF:
                idx = self.xapic_by_id.get(mda)
                return [] if idx is None else [idx]
            return self.xapic_by_xid.get(mda, [])
        groups = [self.flat_by_bit[b] for b in _bits(mda & 0xFF) if b in self.flat_by_bit]
        if mda >> 4 <= 0xF:
            cluster = mda >> 4
            groups += [self.cluster_by_slot[(cluster, b)] for b in _bits(mda & 0xF)
                       if (cluster, b) in self.cluster_by_slot]
        return _sorted_union(groups)

    def _physical_matches(self, dest: int, x2_mda: int, hardware: bool) -> list[int]:
        """:meth:`matches` for a physical destination that is no x2APIC broadcast, in one step.

        The sweep asks this tens of thousands of times: at most one x2APIC-mode
        vCPU has the ID, and the xAPIC-mode ones come from one table lookup.
        """
        x2 = self.x2_by_id.get(x2_mda)
        d = dest & 0xFF if hardware else dest
        if d == APIC_BROADCAST:
            xapic = self.xapic_present
        elif d > 0xFF:
            one = self.xapic_by_id.get(d)
            xapic = [] if one is None else [one]
        else:
            xapic = self.xapic_by_xid.get(d) or []
        if x2 is None:
            return xapic  # a table's own list, as the other lookups return: callers copy before keeping
        if not xapic:
            return [x2]
        return sorted([x2, *xapic])

    def matches(self, irq: Interrupt, dest: int, source: int | None, hardware: bool = False) -> list[int]:
        """Present vCPUs that match, in creation order (slow path or architecture)."""
        if irq.shorthand == "self":
            return [source] if source is not None else []
        if irq.shorthand == "all":
            return self.present
        if irq.shorthand == "all-but-self":
            return [i for i in self.present if i != source]
        logical = irq.logical
        x2_mda = dest
        if source is None and dest == APIC_BROADCAST and not self.kvm.disable_broadcast_quirk:
            x2_mda = X2APIC_BROADCAST
        if not logical and x2_mda != X2APIC_BROADCAST:
            return self._physical_matches(dest, x2_mda, hardware)
        a = self._x2_matches(logical, x2_mda) if self.x2_present else []
        b = self._xapic_matches(logical, dest, hardware) if self.xapic_present else []
        if not a:
            return b
        if not b:
            return a
        return sorted(a + b)

    # ----- the three answers --------------------------------------------------

    def _arbitrate(self, candidates: list[int], vector: int) -> list[int]:
        """Slow-path lowest priority among software-enabled candidates (section 5, step 2)."""
        if not candidates:
            return []
        if self.kvm.vector_hashing:
            return [candidates[vector % len(candidates)]]
        best = candidates[0]
        for idx in candidates[1:]:
            if self.vcpus[idx].arb_prio < self.vcpus[best].arb_prio:
                best = idx
        return [best]

    def slow_path(self, irq: Interrupt, dest: int, source: int | None) -> tuple[list[int], str]:
        delivery = irq.delivery
        if not irq.logical and dest == APIC_BROADCAST and delivery == LOWEST:
            delivery = "fixed"
        found = self.matches(irq, dest, source)
        if delivery != LOWEST:
            return found, delivery
        vcpus = self.vcpus
        return self._arbitrate([i for i in found if vcpus[i].sw_enabled], irq.vector), delivery

    def is_broadcast(self, dest: int, source: int | None) -> bool:
        """kvm_apic_is_broadcast_dest (section 4.1 step 4)."""
        amap = self.map
        if self.kvm.disable_broadcast_quirk:
            return dest == X2APIC_BROADCAST or (
                dest == APIC_BROADCAST and (amap is None or amap.logical_mode != "x2apic")
            )
        x2_sender = source is not None and self.vcpus[source].x2apic_mode
        return dest == (X2APIC_BROADCAST if x2_sender else APIC_BROADCAST)

    def fast_path(self, irq: Interrupt, dest: int, source: int | None,
                  notes: bool = True) -> tuple[list[int], str, list] | None:
        """kvm_irq_delivery_to_apic_fast: (targets, note, slots read) or None when it declines.

        ``notes=False`` leaves the note empty for the common lookups: the sweep
        explains a row by routing it again, and the text costs more than the lookup.
        """
        if irq.shorthand == "self":
            return [source], "the fast path delivers a self IPI to the sender directly", []  # type: ignore[list-item]
        if irq.shorthand != "none":
            return None
        amap = self.map
        if amap is None:
            return None
        if self.is_broadcast(dest, source):
            return None
        if not irq.logical:
            if dest > amap.max_apic_id:
                return [], (f"destination {fmt_id(dest)} is above max_apic_id {fmt_id(amap.max_apic_id)}: dropped"
                            if notes else ""), []
            holder = amap.phys_map.get(dest)
            if holder is None:
                return [], f"phys_map[{fmt_id(dest)}] is empty: delivered to nobody" if notes else "", [("phys", dest)]
            return [holder], (f"phys_map[{fmt_id(dest)}] holds {self.vcpus[holder].label()}"
                              if notes else ""), [("phys", dest)]
        found = logical_lookup(amap.logical_mode, amap.max_apic_id, dest)
        if found is None:
            return None
        table, base, mask = found
        slots = amap.phys_map if table == "phys" else None
        logical = amap.logical_slots

        def slot(bit: int) -> int | None:
            return slots.get(base + bit) if slots is not None else logical[base + bit]

        read = [(table, base + b) for b in _bits(mask)]
        mode = amap.logical_mode
        if mode == "sw_disabled":
            return [], "no software-enabled APIC has a logical ID (mode sw_disabled): handled and dropped", []
        if irq.delivery != LOWEST:
            out = sorted(h for h in (slot(b) for b in _bits(mask)) if h is not None)
            if not notes:
                return out, "", read
            if not mask:
                return [], f"{mode} lookup of {fmt_id(dest)} selects no slot: delivered to nobody", read
            return out, f"{mode} lookup of {fmt_id(dest)} reads {len(read)} slot(s)", read
        if not self.kvm.vector_hashing:
            best = None
            for b in _bits(mask):
                h = slot(b)
                if h is None:
                    continue
                if best is None or self.vcpus[h].arb_prio < self.vcpus[best].arb_prio:
                    best = h
            if best is None:
                return [], f"{mode} lookup of {fmt_id(dest)} finds no occupied slot", read
            return [best], f"lowest priority: smallest arb_prio among {len(read)} slot(s)", read
        if not mask:
            return [], f"{mode} lookup of {fmt_id(dest)} selects no slot: delivered to nobody", read
        bits = list(_bits(mask))
        k = irq.vector % len(bits)
        chosen = bits[k]
        holder = slot(chosen)
        where = [(table, base + chosen)]
        if holder is None:
            return [], (f"vector hashing: vector {irq.vector} mod {len(bits)} set bits = {k} picks bit {chosen}, "
                        f"an empty slot: dropped (\"Disabled LAPIC found\")"), where
        return [holder], (f"vector hashing: vector {irq.vector} mod {len(bits)} set bits = {k} picks bit {chosen} "
                          f"({self.vcpus[holder].label()})"), where

    def route(self, irq: Interrupt) -> Route:
        """All answers for one message (FORMAT.md "interrupts" of an evaluation)."""
        source = self.index_of.get(irq.source) if irq.source is not None else None
        dest = irq.dest or 0
        if source is not None and not self.vcpus[source].x2apic_mode:
            dest &= 0xFF  # the xAPIC ICR has an 8-bit destination field
        return self.route_dest(irq, dest, source)

    def route_if_disagreeing(self, irq: Interrupt, dest: int, source: int | None) -> Route | None:
        """The full route when KVM, its slow path and hardware disagree, else None (for the sweep).

        Fixed delivery only, and without the fast path's note (a row is explained by routing it
        again). Cheaper than :meth:`route_dest` because most
        destinations agree: it compares target lists before building a Route.
        For an 8-bit destination the architecture matches exactly as the slow
        path does (xAPIC APICs see the same 8 bits), so hardware is not
        recomputed there.
        """
        assert irq.delivery == "fixed", "the sweep routes fixed messages"
        slow = self.matches(irq, dest, source)
        fast = self.fast_path(irq, dest, source, notes=False)
        wide = dest > 0xFF and bool(self.xapic_present)
        if fast is not None and fast[0] != slow:
            hardware = self.matches(irq, dest, source, hardware=True) if wide else slow
            return self._assemble(irq, dest, source, slow, "fixed", fast, hardware, sweep=True)
        if wide:
            hardware = self.matches(irq, dest, source, hardware=True)
            if hardware != slow:
                return self._assemble(irq, dest, source, slow, "fixed", fast, hardware, sweep=True)
        return None

    def route_dest(self, irq: Interrupt, dest: int, source: int | None) -> Route:
        slow, slow_delivery = self.slow_path(irq, dest, source)
        fast = self.fast_path(irq, dest, source)
        hardware = self.matches(irq, dest, source, hardware=True)
        return self._assemble(irq, dest, source, slow, slow_delivery, fast, hardware)

    def _assemble(self, irq: Interrupt, dest: int, source: int | None, slow: list[int], slow_delivery: str,
                  fast: tuple[list[int], str, list] | None, hardware: list[int], sweep: bool = False) -> Route:
        """The Route from the three answers (``hardware`` = matching APICs, before lowest-priority eligibility).

        ``sweep`` routes skip the decline text, which the sweep does not report.
        """
        if fast is not None:
            targets, note, slots = fast
            path, delivery = "fast", irq.delivery
        else:
            targets, path, delivery, slots = slow, "slow", slow_delivery, []
            note = "" if sweep else self._decline_reason(irq, dest, source)
        vcpus = self.vcpus
        if delivery in ("fixed", LOWEST):
            accepted = [i for i in targets if vcpus[i].sw_enabled]
        elif delivery == "smi" and not self.kvm.smm:
            accepted = []  # built without CONFIG_KVM_SMM: the SMI reaches its targets, no APIC takes it
        else:
            accepted = list(targets)
        if irq.delivery == LOWEST:
            hardware = [i for i in hardware if vcpus[i].sw_enabled]
            dropped = list(hardware) if not targets else []
        else:
            tset = set(targets)
            dropped = [i for i in hardware if i not in tset]
        hset = set(hardware)
        extra = [i for i in targets if i not in hset]
        return Route(path, list(targets), accepted, list(slow), list(hardware), dropped, extra, note, slots, delivery,
                     dest, source)

    def _decline_reason(self, irq: Interrupt, dest: int, source: int | None) -> str:
        if irq.shorthand != "none":
            return f'shorthand "{irq.shorthand}" always takes the slow path'
        if self.map is None:
            return "KVM has no optimized map (" + (self.result.reason or "NULL") + ")"
        if self.is_broadcast(dest, source):
            return f"{fmt_id(dest)} is a broadcast here, which the fast path leaves to the slow path"
        return (f"logical mode is {self.map.logical_mode}: the map cannot resolve logical destinations "
                f"({self.result.logical_reason or 'no usable logical table'})")
