"""KVM's optimized APIC map, rebuilt as ``kvm_recalculate_apic_map()`` builds it.

One implementation for every behaviour range; the two switches of
:class:`~apicviz.model.kernels.Behaviour` select the 5.3 and 6.3 rules
(KVM-BEHAVIOUR.md section 3). ``phys_map`` is a dict of occupied slots so a
vCPU ID near 2^32 costs nothing; the allocation limit of the real map is
computed, not attempted.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from .kernels import Behaviour, behaviour_for
from .numbers import fmt_id
from .scenario import DFR_FLAT, Scenario, Vcpu

#: kvmalloc refuses allocations above INT_MAX; the map is a header plus one
#: pointer per APIC ID slot (section 3.4).
MAP_HEADER_BYTES = 536
KVMALLOC_MAX = 2**31 - 1

# Old-range mode flags (KVM_APIC_MODE_*); 6.3+ uses the names directly.
FLAT, CLUSTER, X2APIC = 1, 2, 4
_FLAG_NAMES = {0: "none", FLAT: "flat", CLUSTER: "cluster", X2APIC: "x2apic"}

# Why the map is NULL (MapResult.reason_code).
ALIASED_PHYSICAL_ID = "aliased_physical_id"  # 6.3+ without 32-bit IDs: two vCPUs want one phys_map slot
ALLOC_FORCED = "alloc_forced"  # map_alloc_fails: kvzalloc returned NULL
ALLOC_TOO_LARGE = "alloc_too_large"  # the map would exceed what kvmalloc allows (section 3.4)

# Why a slot holds a vCPU, for the map view.
SLOT_DIRECT = "direct"  # the vCPU's own physical ID
SLOT_HOTPLUG = "hotplug"  # x2APIC ID of an xAPIC-mode vCPU (the hotplug hack)
SLOT_LOGICAL = "logical"  # overwritten by the x2APIC logical step (LDR wrap)


@dataclass
class Step:
    """One thing the recalculation did, for the step-through view and explanations."""

    vcpu: int  # index in creation order, -1 for the whole map
    action: str  # "phys", "phys-skip", "phys-overwrite", "alias", "logical", "logical-skip", "logical-disable", "alloc"
    text: str
    slot: int | None = None
    table: str = "phys"  # "phys" or "logical"
    #: For a write into phys_map: why the slot holds the vCPU (SLOT_DIRECT, SLOT_HOTPLUG, SLOT_LOGICAL).
    kind: str = ""


@dataclass
class ApicMap:
    """The map KVM installs (only when ``status`` is optimized)."""

    max_apic_id: int
    #: APIC ID slot -> vCPU index (creation order); occupied slots only.
    phys_map: dict[int, int] = field(default_factory=dict)
    #: Why each occupied slot holds its vCPU.
    slot_kind: dict[int, str] = field(default_factory=dict)
    #: The flat and cluster tables share memory: flat bit b is slot b,
    #: cluster c bit i is slot 4*c + i.
    logical_slots: list[int | None] = field(default_factory=lambda: [None] * 64)
    logical_mode: str = "none"

    def flat_map(self) -> dict[int, int]:
        if self.logical_mode != "flat":
            return {}
        return {b: v for b, v in enumerate(self.logical_slots[:8]) if v is not None}

    def cluster_map(self) -> dict[int, dict[int, int]]:
        if self.logical_mode != "cluster":
            return {}
        out: dict[int, dict[int, int]] = {}
        for slot, v in enumerate(self.logical_slots):
            if v is not None:
                out.setdefault(slot // 4, {})[slot % 4] = v
        return out


@dataclass
class MapResult:
    """Outcome of one recalculation."""

    behaviour: Behaviour
    map: ApicMap | None
    reason: str | None
    apicv_inhibits: list[str]
    max_apic_id: int
    #: Why logical messages cannot use the map (mode "disabled"/"none"/"sw_disabled").
    logical_reason: str | None = None
    #: vCPU indexes that wanted a physical slot and did not get it: slot -> [idx].
    phys_losers: dict[int, list[int]] = field(default_factory=dict)
    #: The first aliased pair that made a 6.3+ map NULL: (slot, holder idx, newcomer idx).
    alias_conflict: tuple[int, int, int] | None = None
    #: Why the map is NULL, as a code: ALIASED_PHYSICAL_ID (see alias_conflict), ALLOC_FORCED, ALLOC_TOO_LARGE.
    reason_code: str | None = None
    #: xAPIC vCPUs written into the flat/cluster table: vCPU index -> (slot, mask of its logical ID).
    #: A later writer may have overwritten the slot (before 6.3 the last writer wins).
    logical_entries: dict[int, tuple[int, int]] = field(default_factory=dict)

    @property
    def status(self) -> str:
        return "optimized" if self.map is not None else "none"


def compute_max_apic_id(vcpus: list[Vcpu]) -> int:
    return max((v.id for v in vcpus if v.present), default=0) if vcpus else 0


def map_bytes(max_apic_id: int) -> int:
    return MAP_HEADER_BYTES + 8 * (max_apic_id + 1)


def logical_lookup(mode: str, max_apic_id: int, dest: int) -> tuple[str, int, int] | None:
    """Section 4.2: (table, base, mask) for a logical destination, or None when the map can't say.

    ``table`` is "phys" (x2APIC: slots base+bit of phys_map) or "logical"
    (flat/cluster: slots base+bit of the shared logical table).
    """
    if mode == "x2apic":
        offset = (dest >> 16) * 16
        if offset > max_apic_id:
            return ("phys", offset, 0)
        size = min(max_apic_id - offset + 1, 16)
        return ("phys", offset, dest & 0xFFFF & ((1 << size) - 1))
    if mode == "flat":
        return ("logical", 0, dest & 0xFF)
    if mode == "cluster":
        return ("logical", ((dest >> 4) & 0xF) * 4, dest & 0xF)
    if mode == "sw_disabled":
        return ("logical", 0, 0)
    return None


def lowest_slot(base: int, mask: int) -> int:
    """The slot a logical ID is written to: its lowest set bit (a multi-bit ID occupies only that one)."""
    return base + (mask & -mask).bit_length() - 1


def logical_slot(mode: str, logical_id: int) -> int | None:
    """The one slot of the flat/cluster table that ``logical_id`` selects in ``mode`` (section 4.2).

    None when it selects no slot or several: a cluster-format ID such as 0x21 means bits 0 and 5 to a
    flat table, not one slot.
    """
    if mode not in ("flat", "cluster"):
        return None
    found = logical_lookup(mode, 0, logical_id)
    if found is None:
        return None
    _table, base, mask = found
    if not mask or mask & (mask - 1):
        return None
    return lowest_slot(base, mask)


def _mode_of_flags(flags: int) -> str:
    return _FLAG_NAMES.get(flags, "disabled")


def recalculate(scenario: Scenario, trace: list[Step] | None = None) -> MapResult:
    """Build the map KVM would install for ``scenario`` (kvm_recalculate_apic_map)."""
    behaviour = behaviour_for(scenario.kvm.kernel)
    vcpus = scenario.vcpus
    note: Callable[..., None] | None = trace.append if trace is not None else None
    max_id = 255
    for v in vcpus:
        if v.apic != "disabled" and v.id > max_id:
            max_id = v.id
    if scenario.kvm.map_alloc_fails or map_bytes(max_id) > KVMALLOC_MAX:
        if scenario.kvm.map_alloc_fails:
            reason = "the map allocation failed (forced: kvzalloc returned NULL)"
        else:
            reason = (
                f"the map for max_apic_id {fmt_id(max_id)} would need {map_bytes(max_id):,} bytes, "
                f"more than kvmalloc allows (INT_MAX), so the allocation fails"
            )
        if note:
            note(Step(-1, "alloc", reason))
        inhibits = ["logical_id_aliased", "physical_id_aliased"] if behaviour.honors_aliasing else []
        code = ALLOC_FORCED if scenario.kvm.map_alloc_fails else ALLOC_TOO_LARGE
        return MapResult(behaviour, None, reason + " — every interrupt takes the slow path", inhibits, max_id,
                         reason_code=code)
    if behaviour.honors_aliasing:
        return _recalculate_6_3(scenario, behaviour, max_id, note)
    return _recalculate_old(scenario, behaviour, max_id, note)


@dataclass
class _PhysWriter:
    """The ``phys_map`` writes both kernel ranges share (kvm_recalculate_phys_map).

    Before 6.3, and from 6.3 with ``x2apic_format``, the x2APIC ID slot is
    written last-writer-wins and the xAPIC ID slot first-come; one copy of
    those rules keeps the two ranges from drifting apart.
    """

    vcpus: list[Vcpu]
    amap: ApicMap
    losers: dict[int, list[int]]
    note: Callable[..., None] | None

    def x2apic_id(self, idx: int, v: Vcpu, hotplug_why: str) -> None:
        """Slot ``v.id`` (x2APIC mode, or the hotplug hack for an xAPIC ID above 0xff): last writer wins."""
        phys, vid = self.amap.phys_map, v.id
        old = phys.get(vid)
        replaced = old if old is not None and old != idx else None
        if replaced is not None:
            self.losers.setdefault(vid, []).append(replaced)
        phys[vid] = idx
        self.amap.slot_kind[vid] = SLOT_DIRECT if v.x2apic_mode else SLOT_HOTPLUG
        if self.note:
            what = "its x2APIC ID" if v.x2apic_mode else f"its x2APIC ID ({hotplug_why})"
            extra = f", replacing vCPU {fmt_id(self.vcpus[replaced].id)}" if replaced is not None else ""
            self.note(Step(idx, "phys", f"{v.label()} → phys_map[{fmt_id(vid)}], {what}{extra}", vid,
                           kind=self.amap.slot_kind[vid]))

    def xapic_id(self, idx: int, v: Vcpu) -> None:
        """Slot ``v.xapic_id`` of an xAPIC-mode vCPU: the first vCPU there keeps it."""
        phys, xid = self.amap.phys_map, v.xapic_id
        holder = phys.get(xid)
        if holder is None:
            phys[xid] = idx
            self.amap.slot_kind[xid] = SLOT_DIRECT
            if self.note:
                self.note(Step(idx, "phys", f"{v.label()} → phys_map[{fmt_id(xid)}], its xAPIC ID", xid,
                               kind=SLOT_DIRECT))
        elif holder != idx:
            self.losers.setdefault(xid, []).append(idx)
            if self.note:
                self.note(Step(idx, "phys-skip", f"{v.label()}: phys_map[{fmt_id(xid)}] already holds "
                                                 f"{self.vcpus[holder].label()}; xAPIC ID {fmt_id(xid)} is not "
                                                 f"entered", xid))


def _recalculate_old(scenario: Scenario, behaviour: Behaviour, max_id: int, note) -> MapResult:
    """4.11 to 6.2: hotplug hack always on, last writer wins, flags accumulate."""
    amap = ApicMap(max_apic_id=max_id)
    phys = amap.phys_map
    kinds = amap.slot_kind
    logical = amap.logical_slots
    losers: dict[int, list[int]] = {}
    entries: dict[int, tuple[int, int]] = {}
    flags = 0
    skip_disabled = behaviour.logical_skips_sw_disabled
    logical_reason = None
    write = _PhysWriter(scenario.vcpus, amap, losers, note)
    for idx, v in enumerate(scenario.vcpus):
        if v.apic == "disabled":
            continue
        x2 = v.apic == "x2apic"
        if x2 or v.id > 0xFF:
            write.x2apic_id(idx, v, "hotplug hack: vCPU ID above 0xff")
        if not x2:
            write.xapic_id(idx, v)
        if skip_disabled and not v.sw_enabled:
            if note:
                note(Step(idx, "logical-skip", f"{v.label()} is software-disabled: left out of the logical map"))
            continue
        if x2:
            flags |= X2APIC
            ldr = v.x2apic_ldr
        elif v.logical_id:
            ldr = v.logical_id
            flags |= FLAT if v.dfr == DFR_FLAT else CLUSTER
        else:
            ldr = 0
        mode = _mode_of_flags(flags)
        found = logical_lookup(mode, max_id, ldr) if mode in ("x2apic", "flat", "cluster") else None
        if found is None:
            if note and ldr:
                note(Step(idx, "logical-disable", f"{v.label()}: logical modes are now mixed "
                                                  f"({_flag_list(flags)}); its logical ID is not entered"))
            if flags and mode == "disabled" and logical_reason is None:
                logical_reason = f"mixed logical modes ({_flag_list(flags)}) from {v.label()} on"
            continue
        table, base, mask = found
        if not mask:
            if note and ldr:
                note(Step(idx, "logical-skip", f"{v.label()}: logical ID {fmt_id(ldr)} selects no slot"))
            continue
        slot = lowest_slot(base, mask)
        if table == "phys":
            if slot != v.id:
                old = phys.get(slot)
                if old is not None and old != idx:
                    losers.setdefault(slot, []).append(old)
                phys[slot] = idx
                kinds[slot] = SLOT_LOGICAL
                if note:
                    note(Step(idx, "phys-overwrite", f"{v.label()}: wrapped x2APIC LDR {fmt_id(ldr)} writes it "
                                                     f"into phys_map[{fmt_id(slot)}]", slot, kind=SLOT_LOGICAL))
        else:
            if note:
                old = logical[slot]
                extra = (f", replacing {scenario.vcpus[old].label()} (last writer wins)"
                         if old is not None and old != idx else "")
                bits = f" (only its lowest bit of {fmt_id(mask)})" if mask & (mask - 1) else ""
                note(Step(idx, "logical", f"{v.label()} → {mode} logical slot {_slot_name(mode, slot)}{bits}{extra}",
                          slot, "logical"))
            logical[slot] = idx
            entries[idx] = (slot, mask)
    amap.logical_mode = _mode_of_flags(flags)
    if amap.logical_mode == "none":
        logical_reason = "no APIC contributed a logical mode, so logical messages take the slow path"
    elif amap.logical_mode == "disabled" and logical_reason is None:
        logical_reason = f"mixed logical modes ({_flag_list(flags)})"
    return MapResult(behaviour, amap, None, [], max_id, logical_reason, losers, logical_entries=entries)


def _recalculate_6_3(scenario: Scenario, behaviour: Behaviour, max_id: int, note) -> MapResult:
    """6.3+: aliasing makes the map NULL (without 32-bit IDs), strict logical map, inhibits."""
    amap = ApicMap(max_apic_id=max_id)
    phys = amap.phys_map
    kinds = amap.slot_kind
    logical = amap.logical_slots
    losers: dict[int, list[int]] = {}
    entries: dict[int, tuple[int, int]] = {}
    x2apic_format = scenario.kvm.use_32bit_ids
    mode = "sw_disabled"
    logical_reason: str | None = None
    id_modified = False
    vcpus = scenario.vcpus
    write = _PhysWriter(vcpus, amap, losers, note)
    for idx, v in enumerate(vcpus):
        if v.apic == "disabled":
            continue
        x2 = v.apic == "x2apic"
        vid = v.id
        if not x2 and v.xapic_id != vid & 0xFF:
            id_modified = True
        if x2apic_format:  # the pre-6.3 physical rules, hotplug hack included
            if x2 or vid > 0xFF:
                write.x2apic_id(idx, v, "hotplug hack, 32-bit IDs enabled")
            if not x2:
                write.xapic_id(idx, v)
        else:
            pid = vid if x2 else v.xapic_id
            holder = phys.get(pid)
            if holder is not None:
                other = vcpus[holder]
                reason = (
                    f"aliased APIC ID {fmt_id(pid)}: {other.label()} and {v.label()} — "
                    f"every interrupt takes the slow path"
                )
                if note:
                    note(Step(idx, "alias", f"{v.label()} wants phys_map[{fmt_id(pid)}], which holds "
                                            f"{other.label()}: aliased APIC ID, KVM discards the whole map", pid))
                inhibits = ["logical_id_aliased", "physical_id_aliased"]
                if id_modified:
                    inhibits.insert(0, "apic_id_modified")
                result = MapResult(behaviour, None, reason, inhibits, max_id, reason_code=ALIASED_PHYSICAL_ID)
                result.alias_conflict = (pid, holder, idx)
                return result
            phys[pid] = idx
            kinds[pid] = SLOT_DIRECT
            if note:
                what = "its x2APIC ID" if x2 else "its xAPIC ID"
                note(Step(idx, "phys", f"{v.label()} → phys_map[{fmt_id(pid)}], {what}", pid, kind=SLOT_DIRECT))
        # Logical part.
        if mode == "disabled":
            continue
        if not v.sw_enabled:
            if note:
                note(Step(idx, "logical-skip", f"{v.label()} is software-disabled: left out of the logical map"))
            continue
        if x2:
            vmode = "x2apic"
        elif v.logical_id:
            vmode = "flat" if v.dfr == DFR_FLAT else "cluster"
        else:
            if note:
                note(Step(idx, "logical-skip", f"{v.label()} has logical ID 0: not in the logical map"))
            continue
        if mode == "sw_disabled":
            mode = vmode
        elif mode != vmode:
            logical_reason = f"mixed logical modes: {v.label()} is {vmode} while earlier APICs are {mode}"
            mode = "disabled"
            if note:
                note(Step(idx, "logical-disable", f"{v.label()}: {logical_reason}; logical map disabled"))
            continue
        if x2:
            continue
        _table, base, mask = logical_lookup(mode, max_id, v.logical_id)  # type: ignore[misc]
        if not mask:
            if note:
                note(Step(idx, "logical-skip", f"{v.label()}: logical ID {fmt_id(v.logical_id)} selects no slot"))
            continue
        slot = lowest_slot(base, mask)
        if mask & (mask - 1):
            mode = "disabled"
            logical_reason = f"logical ID {fmt_id(v.logical_id)} of {v.label()} covers more than one bit"
        elif (holder := logical[slot]) is not None:
            mode = "disabled"
            logical_reason = (
                f"logical ID {fmt_id(v.logical_id)} is aliased: {vcpus[holder].label()} "
                f"and {v.label()}"
            )
        else:
            logical[slot] = idx
            entries[idx] = (slot, mask)
            if note:
                note(Step(idx, "logical", f"{v.label()} → {mode} logical slot {_slot_name(mode, slot)}",
                          slot, "logical"))
            continue
        if note:
            note(Step(idx, "logical-disable", f"{logical_reason}; logical map disabled", slot, "logical"))
    amap.logical_mode = mode
    if mode == "sw_disabled":
        logical_reason = "no software-enabled APIC has a logical ID: logical messages are handled and dropped"
    inhibits = []
    if id_modified:
        inhibits.append("apic_id_modified")
    if mode == "disabled":
        inhibits.append("logical_id_aliased")
    return MapResult(behaviour, amap, None, inhibits, max_id, logical_reason, losers, logical_entries=entries)


def _flag_list(flags: int) -> str:
    return ", ".join(name for bit, name in ((FLAT, "flat"), (CLUSTER, "cluster"), (X2APIC, "x2APIC")) if flags & bit)


def _slot_name(mode: str, slot: int) -> str:
    if mode == "flat":
        return f"bit {slot}"
    return f"cluster {slot // 4} bit {slot % 4}"
