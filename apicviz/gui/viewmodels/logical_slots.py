"""What the logical map shows, per logical mode, worked out without Qt.

flat: 8 slots (one per bit of the 8-bit logical ID); cluster: 16 clusters of
4 bits, sharing the same 64-entry table (cluster c bit i is slot 4c+i);
x2APIC: no table of its own — cluster c bit i *is* ``phys_map[16c+i]``, so
the rows are the physical grid's rows that hold someone.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from ...model import Evaluation, Route
from ...model.apic_map import logical_slot
from ...model.numbers import fmt_id
from .map_slots import DIRECT, DROPPED, EMPTY, EXTRA, TARGET, MapSlots, SlotInfo

MODE_TITLES = {
    "flat": "flat — 8 slots, one per bit of the logical ID",
    "cluster": "cluster — 16 clusters × 4 bits",
    "x2apic": "x2APIC — cluster c, bit i is phys_map[16c+i]",
    "disabled": "disabled",
    "none": "none",
    "sw_disabled": "sw_disabled",
}
NO_TABLE_VERDICT = {
    "disabled": "Logical messages take the slow path.",
    "none": "Logical messages take the slow path.",
    "sw_disabled": "Logical messages are handled by the fast path and dropped.",
}


@dataclass
class LogicalRow:
    label: str
    cells: list[SlotInfo] = field(default_factory=list)
    tooltip_prefix: str = ""


@dataclass
class LogicalLayout:
    mode: str  # logical_mode, or "no map"
    title: str
    reason: str  # words under the title (why there is no table, or how to read it)
    columns: list[str] = field(default_factory=list)
    rows: list[LogicalRow] = field(default_factory=list)
    tooltips: dict[tuple[int, int], str] = field(default_factory=dict)


def build_logical(ev: Evaluation, phys: MapSlots) -> LogicalLayout:
    """Rows of slots to draw for the current logical mode, with the selected route marked."""
    amap = ev.result.map
    if amap is None:
        return LogicalLayout("no map", "Logical map: none (no optimized map)",
                             "KVM has no map at all, so every logical message takes the slow path.")
    mode = amap.logical_mode
    title = f"Logical map: {MODE_TITLES.get(mode, mode)}"
    if mode in NO_TABLE_VERDICT:
        reason = (ev.result.logical_reason or "") + (". " if ev.result.logical_reason else "") + NO_TABLE_VERDICT[mode]
        return LogicalLayout(mode, title, reason[0].upper() + reason[1:])
    if mode == "x2apic":
        return _x2apic(ev, phys, title)
    return _xapic(ev, phys, mode, title)


def _x2apic(ev: Evaluation, phys: MapSlots, title: str) -> LogicalLayout:
    clusters = sorted({s >> 4 for s in phys.holders} | {s >> 4 for s in phys.read})
    out = LogicalLayout("x2apic", title, f"{len(clusters)} cluster(s) hold a vCPU; the same slots as the "
                        "physical grid's rows (hover for details).", [f"{i:x}" for i in range(16)])
    for c in clusters:
        row = LogicalRow(f"{c:#x}", [phys.info((c << 4) | i) for i in range(16)],
                         f"x2APIC cluster {fmt_id(c)}, logical ID {fmt_id(c << 16)} | bit")
        out.rows.append(row)
    return out


def _xapic(ev: Evaluation, phys: MapSlots, mode: str, title: str) -> LogicalLayout:
    amap = ev.result.map
    assert amap is not None
    vcpus = ev.scenario.vcpus
    table = amap.logical_slots
    built = phys.progress
    midway = built is not None and built.gave_up is None and not built.complete
    if built is not None and midway:  # the step-through: only the logical slots written so far
        written = built.logical
        table = [written.get(slot) for slot in range(len(table))]
    route: Route | None = phys.route
    read = {slot for t, slot in route.slots if t == "logical"} if route is not None else set()
    losers: dict[int, list[int]] = {}
    for key, idxs in ev.aliases_logical.items():
        slot = logical_slot(mode, key)  # the model's lookup: the slot that one-bit ID selects
        if slot is None:
            continue
        holder = table[slot]
        if not midway:
            losers[slot] = [i for i in idxs if i != holder]
    markers: dict[int, list[tuple[str, int]]] = {}
    if route is not None:
        where: dict[int, list[int]] = {}
        for slot, holder in enumerate(table):
            if holder is not None:
                where.setdefault(holder, []).append(slot)
        for kind, idxs in ((DROPPED, route.dropped), (EXTRA, route.extra), (TARGET, route.targets)):
            for idx in idxs:
                slots = [s for s in read if table[s] == idx] or where.get(idx, [])
                if kind == DROPPED:
                    slots = slots + [s for s in read if idx in losers.get(s, ())]
                for s in slots:
                    markers.setdefault(s, []).append((kind, idx))

    def cell(slot: int, logical_id: int) -> SlotInfo:
        holder = table[slot]
        return SlotInfo(apic_id=logical_id, state=DIRECT if holder is not None else EMPTY, vcpu=holder,
                        vcpu_id=vcpus[holder].id if holder is not None else None, losers=losers.get(slot, []),
                        read=slot in read, selected=holder is not None and holder in phys.selected_vcpus,
                        markers=markers.get(slot, []))

    if mode == "flat":
        out = LogicalLayout("flat", title, "Small text: the logical ID that selects the slot; bold: the vCPU in it.",
                            ["+0", "+1", "+2", "+3"])
        for half in (0, 1):
            out.rows.append(LogicalRow(f"bits {4 * half}–{4 * half + 3}",
                                       [cell(4 * half + i, 1 << (4 * half + i)) for i in range(4)]))
        return out
    used = sorted({s // 4 for s, h in enumerate(table) if h is not None} | {s // 4 for s in read} |
                  {s // 4 for s in losers})
    out = LogicalLayout("cluster", title, "Small text: the logical ID that selects the slot; bold: the vCPU in it."
                        + ("" if used else " No cluster slot is occupied."), ["bit 0", "bit 1", "bit 2", "bit 3"])
    for c in used:
        out.rows.append(LogicalRow(f"cluster {c:x}", [cell(4 * c + i, (c << 4) | (1 << i)) for i in range(4)]))
    return out


def logical_tooltip(ev: Evaluation, layout: LogicalLayout, row: LogicalRow, s: SlotInfo, phys: MapSlots) -> str:
    """Words for one logical cell (x2APIC cells reuse the physical slot's tooltip)."""
    if layout.mode == "x2apic":
        return f"{row.tooltip_prefix} {s.apic_id & 0xF}\n" + phys.tooltip(s.apic_id)
    lines = [f"{layout.mode} logical ID {fmt_id(s.apic_id)}"]
    if s.vcpu is None:
        lines.append("empty: no vCPU has this bit as the lowest of its logical ID")
    else:
        lines.append("→ " + phys.vcpu_line(s.vcpu) + f", logical ID {fmt_id(ev.scenario.vcpus[s.vcpu].logical_id)}")
    if s.losers:
        lines.append(f"aliased: {len(s.losers)} more vCPU(s) answer to this logical ID:")
        lines += [f"  {phys.vcpu_line(i)}" for i in s.losers[:12]]
    if s.read:
        lines.append("read by the selected interrupt's fast path")
    for kind, idx in s.markers:
        lines.append(f"{kind}: vCPU {fmt_id(ev.scenario.vcpus[idx].id)}")
    return "\n".join(lines)
