"""What each APIC ID slot of the physical map shows, worked out without Qt.

The grid must cope with IDs up to 0xFFFFFFFE and 4096 vCPUs, so nothing here
is per possible ID: slots are looked up on demand from the evaluation's
dicts, and only *rows* (16 slots, like an x2APIC cluster) that hold
something, plus the xAPIC range 0x00-0xff, are laid out. Between shown rows
that are not adjacent the grid draws a gap band (:meth:`MapSlots.bands`).
"""
from __future__ import annotations

from bisect import bisect_left
from dataclasses import dataclass, field

from ...model import Evaluation, Route
from ...model.numbers import fmt_id
from ...model.replay import BuiltSoFar
from ...model.vcpu_status import XAPIC_ID_MODIFIED
from .pv_ipi_view import pv_ipi_count, pv_reach

COLUMNS = 16
XAPIC_ROWS = 0x10  # rows 0x00..0xf0 (IDs 0..0xff) are always shown

EMPTY, DIRECT, HOTPLUG, LOGICAL, WOULD, BEYOND = "empty", "direct", "hotplug", "logical", "would", "beyond"
TARGET, DROPPED, EXTRA, SENDER, CHANGED, HOST = "target", "dropped", "extra", "sender", "changed", "host"
MARKER_ORDER = (DROPPED, EXTRA, TARGET, SENDER, HOST, CHANGED)
MARKER_TEXT = {TARGET: "✓ target", DROPPED: "✗ DROPPED", EXTRA: "! extra", SENDER: "S sender",
               CHANGED: "Δ changes under kernel B", HOST: "≠ a real kernel differs"}

WHY = {
    DIRECT: "its own APIC ID",
    HOTPLUG: "hotplug hack: the x2APIC ID of an xAPIC-mode vCPU whose ID is above 0xff",
    LOGICAL: "written by the x2APIC logical step: the vCPU's LDR wrapped (ID ≥ 2^20) onto this slot",
}


@dataclass
class SlotInfo:
    """Everything drawn for one slot; also what tests and tooltips read."""

    apic_id: int
    state: str
    vcpu: int | None = None  # index in creation order
    vcpu_id: int | None = None
    losers: list[int] = field(default_factory=list)  # other vCPUs that wanted this slot
    conflict: bool = False  # the pair that made a 6.3+ map NULL
    read: bool = False  # the selected interrupt's fast path read it
    selected: bool = False
    markers: list[tuple[str, int]] = field(default_factory=list)
    shown: bool = True
    #: A PV IPI (KVM_HC_SEND_IPI) to this APIC ID reaches its vCPU (marked while the scenario has PV IPIs).
    pv_reach: bool = False

    @property
    def look(self) -> str:
        """The fill style: aliasing wins over the slot kind, it is what must be seen first."""
        if self.conflict:
            return "conflict"
        if self.losers and self.state not in (EMPTY, BEYOND):
            return "aliased"
        return self.state

    @property
    def id_text(self) -> str:
        return fmt_id(self.apic_id)

    @property
    def vcpu_text(self) -> str:
        return fmt_id(self.vcpu_id) if self.vcpu_id is not None else ""

    @property
    def kind_badge(self) -> str:
        return {HOTPLUG: "H", LOGICAL: "L"}.get(self.state, "")

    @property
    def alias_badge(self) -> str:
        return f"+{len(self.losers)}" if self.losers else ""

    @property
    def pv_badge(self) -> str:
        return "P" if self.pv_reach else ""

    @property
    def marker_kinds(self) -> list[str]:
        kinds = {k for k, _ in self.markers}
        return [k for k in MARKER_ORDER if k in kinds]

    def text(self) -> str:
        """One line with every text cue, e.g. '0x23 → 0x23 +1 ✗'."""
        parts = [self.id_text]
        if self.vcpu_text:
            parts.append("→ " + self.vcpu_text)
        parts += [b for b in (self.kind_badge, self.alias_badge, self.pv_badge) if b]
        parts += [MARKER_TEXT[k].split()[0] for k in self.marker_kinds]
        return " ".join(parts)


class MapSlots:
    """Per-slot answers for one evaluation plus the current selection overlay."""

    def __init__(self, ev: Evaluation) -> None:
        self.ev = ev
        res = ev.result
        self.vcpus = ev.scenario.vcpus
        self.optimized = res.map is not None
        self.max_apic_id = res.max_apic_id
        if res.map is not None:
            self.holders: dict[int, int] = res.map.phys_map
            self.kinds: dict[int, str] = res.map.slot_kind
            self.would: dict[int, list[int]] = {}
        else:
            # No map: show where each present vCPU would sit (its effective physical ID).
            self.would = ev.physical_groups
            self.holders = {slot: idxs[0] for slot, idxs in self.would.items()}
            self.kinds = {}
        self.losers_by_slot = ev.slot_losers
        self.conflict = res.alias_conflict
        #: APIC IDs a PV IPI reaches, marked only while the scenario sends PV IPIs (else every slot would be).
        self.pv_marks = pv_ipi_count(ev) > 0
        self.pv_reach = pv_reach(ev) if self.pv_marks else frozenset()
        self._slots_of: dict[int, list[int]] | None = None
        self.selected: set[int] = set()  # slots
        self.selected_vcpus: set[int] = set()
        self.read: set[int] = set()
        self.markers: dict[int, list[tuple[str, int]]] = {}
        #: Slots whose owner differs under kernel B: slot -> (vCPU id under A, under B); and B's label.
        self.changed: dict[int, tuple[int | None, int | None]] = {}
        self.changed_label = ""
        #: Slots of vCPUs a real kernel treated differently: slot -> lines saying how (viewmodels.host_verdict).
        self.host: dict[int, list[str]] = {}
        self.route: Route | None = None
        self.route_index = -1
        self.extra_rows: set[int] = set()
        self._rows: list[int] | None = None
        self._busy: set[int] = set()
        #: The step-through's half-built map (model.replay.BuiltSoFar), or None for the finished one.
        self.progress: BuiltSoFar | None = None
        self._final = (self.holders, self.kinds, self.optimized, self.would, self.losers_by_slot, self.conflict)

    # ----- the map itself ----------------------------------------------------

    def slots_of(self, idx: int) -> list[int]:
        """Slots that hold vCPU ``idx`` (two with the hotplug hack), or where it would sit."""
        if self._slots_of is None:
            rev: dict[int, list[int]] = {}
            for slot, holder in self.holders.items():
                rev.setdefault(holder, []).append(slot)
            for slot, idxs in self.would.items():
                for i in idxs[1:]:
                    rev.setdefault(i, []).append(slot)
            self._slots_of = rev
        found = self._slots_of.get(idx)
        if found:
            return sorted(found)
        v = self.vcpus[idx]
        return [v.physical_id] if v.present else []

    def set_progress(self, built: BuiltSoFar | None) -> None:
        """Show the map as the recalculation has built it so far (``built``), or the finished map (None)."""
        self.progress = built
        final = self._final
        if built is not None and built.gave_up is None and not built.complete:
            # Mid-way: only the slots written so far, no aliasing marks yet (they belong to the result).
            final = (built.phys_map, built.slot_kind, True, {}, {}, None)
        self.holders, self.kinds, self.optimized, self.would, self.losers_by_slot, self.conflict = final
        self._slots_of = None
        self._rows = None

    def state(self, apic_id: int) -> str:
        if apic_id in self.holders:
            return WOULD if not self.optimized else self.kinds.get(apic_id, DIRECT)
        if self.optimized and apic_id > self.max_apic_id:
            return BEYOND
        return EMPTY

    def info(self, apic_id: int) -> SlotInfo:
        holder = self.holders.get(apic_id)
        conflict = bool(self.conflict and self.conflict[0] == apic_id)
        return SlotInfo(
            apic_id=apic_id,
            state=self.state(apic_id),
            vcpu=holder,
            vcpu_id=self.vcpus[holder].id if holder is not None else None,
            losers=self.losers_by_slot.get(apic_id, []),
            conflict=conflict,
            read=apic_id in self.read,
            selected=apic_id in self.selected,
            markers=self._markers_of(apic_id),
            shown=self.row_shown(apic_id >> 4),
            pv_reach=apic_id in self.pv_reach,
        )

    # ----- overlay: selection and the selected interrupt -----------------------

    def set_changed(self, changed: dict[int, tuple[int | None, int | None]], label: str = "") -> None:
        """Slots whose owner differs under the Compare dock's kernel B (``label``): slot -> (id under A, under B).

        Kept as given (the comparison's own dict, never mutated): a 4096-vCPU map may change in every slot.
        """
        self.changed = changed
        self.changed_label = label

    def set_host(self, marks: dict[int, list[str]]) -> None:
        """Slots marked ≠ because a real kernel (the host check, another kernel) differs there."""
        if marks != self.host:
            self.host = marks
            self._rows = None

    def changed_text(self, apic_id: int) -> str:
        """'vCPU 0x1 → empty (upstream)' for a slot that changes under kernel B."""
        a, b = self.changed[apic_id]

        def who(vcpu_id: int | None) -> str:
            return "empty" if vcpu_id is None else f"vCPU {vcpu_id:#x}"

        return f"{who(a)} → {who(b)} ({self.changed_label})"

    def set_overlay(self, selected: list[int], route: Route | None, route_index: int = -1,
                    sender: int | None = None) -> None:
        """Mark selected vCPUs and the route of one interrupt (targets, dropped, extra, sender)."""
        self.selected_vcpus = set(selected)
        self.selected = {s for idx in selected if 0 <= idx < len(self.vcpus) for s in self.slots_of(idx)}
        self.route = route
        self.route_index = route_index
        self.read = set()
        self.markers = {}
        if route is not None:
            self.read = {slot for table, slot in route.slots if table == "phys"}
            for idx in route.dropped:
                self._mark(DROPPED, idx, self._dropped_slots(idx))
            for idx in route.extra:
                self._mark(EXTRA, idx, self._target_slots(idx))
            for idx in route.targets:
                self._mark(TARGET, idx, self._target_slots(idx))
            if sender is not None:
                self._mark(SENDER, sender, self.slots_of(sender))
        self._rows = None

    def _markers_of(self, apic_id: int) -> list[tuple[str, int]]:
        """Route marks of a slot, then ≠ when a real kernel differs there, then Δ when it changes under kernel B."""
        marks = self.markers.get(apic_id, [])
        if apic_id in self.host:
            marks = [*marks, (HOST, -1)]
        if apic_id in self.changed:
            return [*marks, (CHANGED, -1)]
        return marks

    def _mark(self, kind: str, idx: int, slots: list[int]) -> None:
        for slot in slots:
            self.markers.setdefault(slot, []).append((kind, idx))

    def _target_slots(self, idx: int) -> list[int]:
        """Where a delivery happened: the slot the fast path read, else the vCPU's own slots."""
        read = [s for s in self.read if self.holders.get(s) == idx]
        return read or self.slots_of(idx)

    def _dropped_slots(self, idx: int) -> list[int]:
        """A dropped vCPU's own slots, plus a slot the fast path read where it had lost."""
        slots = set(self.slots_of(idx))
        slots.update(s for s in self.read if idx in self.losers_by_slot.get(s, ()))
        return sorted(slots)

    def set_extra_rows(self, apic_ids: set[int]) -> None:
        """Rows to show although empty (Go to APIC ID, a destination above the map)."""
        rows = {a >> 4 for a in apic_ids}
        if rows != self.extra_rows:
            self.extra_rows = rows
            self._rows = None

    # ----- what changed -----------------------------------------------------------

    def dirty_since(self, old: MapSlots) -> set[int] | None:
        """Slots that may look different from ``old`` (None: anything may, repaint it all).

        An edit of one vCPU touches a handful of slots; the grid repaints just
        those. The comparisons are dict and set operations, cheap at any size.
        """
        if (old.optimized, old.max_apic_id) != (self.optimized, self.max_apic_id):
            return None  # every slot's state (empty, beyond, would) may change
        dirty = _items_changed(old.holders, self.holders) | _items_changed(old.kinds, self.kinds)
        dirty |= _values_changed(old.losers_by_slot, self.losers_by_slot)
        dirty |= old.pv_reach ^ self.pv_reach  # the P badges
        dirty |= self.overlay_dirty(old.overlay_state())
        for conflict in (old.conflict, self.conflict):
            if conflict is not None:
                dirty.add(conflict[0])
        if old.vcpus is not self.vcpus:
            if len(old.vcpus) != len(self.vcpus):
                return None  # rows inserted or removed: indexes shift everywhere
            # A new vCPU ID relabels its slots even where the holder's index stays.
            renamed = {i for i, (a, b) in enumerate(zip(old.vcpus, self.vcpus, strict=True)) if a.id != b.id}
            if renamed:
                dirty.update(s for s, h in self.holders.items() if h in renamed)
                dirty.update(s for s, h in old.holders.items() if h in renamed)
        return dirty

    def overlay_state(self) -> tuple:
        """The selection and route marks as they are now, for :meth:`overlay_dirty` after a change."""
        return (frozenset(self.selected), frozenset(self.read), dict(self.markers), self.changed, self.host)

    def overlay_dirty(self, state: tuple) -> set[int]:
        """Slots whose selection outline, read frame or marks differ from ``state``."""
        selected, read, markers, changed, host = state
        dirty = set(selected ^ self.selected) | set(read ^ self.read) | _values_changed(markers, self.markers)
        if changed is not self.changed:
            dirty |= changed.keys() ^ self.changed.keys()
        if host is not self.host:
            dirty |= host.keys() ^ self.host.keys()
        return dirty

    # ----- layout --------------------------------------------------------------

    def rows(self) -> list[int]:
        """Sorted row numbers (APIC ID >> 4) to draw."""
        if self._rows is None:
            busy = {s >> 4 for s in self.holders}
            busy.update(s >> 4 for s in self.losers_by_slot)
            busy.update(s >> 4 for s in self.markers)
            busy.update(s >> 4 for s in self.changed)
            busy.update(s >> 4 for s in self.host)
            busy.update(s >> 4 for s in self.read)
            busy.update(s >> 4 for s in self.selected)
            busy.update(self.extra_rows)
            self._busy = busy
            rows = busy | set(range(XAPIC_ROWS))
            if self.optimized:
                rows.add(self.max_apic_id >> 4)
            self._rows = sorted(rows)
        return self._rows

    def row_is_empty(self, row: int) -> bool:
        """Nothing in the row to read: the grid may draw it thin when space is short."""
        self.rows()
        return row not in self._busy

    def bands(self) -> list[tuple[str, int, int]]:
        """("row", r, r) for a drawn row, ("gap", first, last) for hidden rows between."""
        out: list[tuple[str, int, int]] = []
        prev = None
        for r in self.rows():
            if prev is not None and r > prev + 1:
                out.append(("gap", prev + 1, r - 1))
            out.append(("row", r, r))
            prev = r
        return out

    def gap_text(self, first: int, last: int) -> str:
        lo, hi = first << 4, last << 4
        span = f"row {fmt_id(lo)}" if first == last else f"rows {fmt_id(lo)}–{fmt_id(hi)}"
        count = last - first + 1
        if not self.optimized:
            what = "no vCPU would sit here"
        elif lo > self.max_apic_id:
            what = f"beyond max_apic_id {fmt_id(self.max_apic_id)}"
        else:
            what = "empty"
        n = f" ({count:,} rows)" if count > 1 else ""
        return f"⋯ {span} {what}{n} ⋯"

    def row_shown(self, row: int) -> bool:
        rows = self.rows()
        i = bisect_left(rows, row)
        return i < len(rows) and rows[i] == row

    # ----- words ---------------------------------------------------------------

    def vcpu_line(self, idx: int) -> str:
        v = self.vcpus[idx]
        if v.x2apic_mode:
            mode = "x2APIC mode"
        else:
            mode = f"xAPIC mode, xAPIC ID {fmt_id(v.xapic_id)}"
            modified = [st for st in self.ev.vcpu_status.of(idx) if st.code == XAPIC_ID_MODIFIED]
            if modified:
                mode += f" (guest rewrote APIC_ID; reset value {fmt_id(modified[0].fields['expected'])})"
        sw = "" if v.sw_enabled else ", software-disabled"
        return f"vCPU {fmt_id(v.id)} (#{idx}, {mode}{sw})"

    def tooltip(self, apic_id: int) -> str:
        """Slot, vCPU, mode, why it is there, who lost, and the selected route's part."""
        s = self.info(apic_id)
        lines = [f"APIC ID {fmt_id(apic_id)} ({apic_id}) — phys_map[{fmt_id(apic_id)}]"]
        if s.state == BEYOND:
            lines.append(f"above max_apic_id {fmt_id(self.max_apic_id)}: outside the map; "
                         f"the fast path drops a physical message sent here")
        elif s.state == EMPTY:
            lines.append("empty: the fast path delivers a physical message sent here to nobody")
        elif s.state == WOULD:
            lines.append("No optimized map. " + self.vcpu_line(s.vcpu) + " would sit here (its effective APIC ID)")  # type: ignore[arg-type]
        else:
            lines.append("→ " + self.vcpu_line(s.vcpu))  # type: ignore[arg-type]
            lines.append("why: " + WHY.get(s.state, s.state))
        if s.losers:
            what = "conflict" if s.conflict else "aliased"
            lines.append(f"{what}: {len(s.losers)} more vCPU(s) have this APIC ID:")
            for idx in s.losers[:12]:
                other = [x for x in self.slots_of(idx) if x != apic_id]
                where = f"; still in the map at {', '.join(fmt_id(x) for x in other)}" if other else ""
                if not self.optimized:
                    verdict = "wants this slot too"
                elif s.vcpu is not None and idx > s.vcpu:
                    verdict = "lost (created later, found the slot taken)"
                else:
                    verdict = "lost (overwritten by a later vCPU)"
                lines.append(f"  {self.vcpu_line(idx)} — {verdict}{where}")
            if len(s.losers) > 12:
                lines.append(f"  … and {len(s.losers) - 12} more")
        if s.conflict and self.conflict is not None:
            lines.append("KVM (6.3+) discarded the whole map when the second vCPU collided here")
        if apic_id in self.changed:
            lines.append(f"Δ under kernel B: {self.changed_text(apic_id)}")
        if apic_id in self.host:
            lines.append("≠ a real kernel differs here:")
            lines.extend(f"  {line}" for line in self.host[apic_id])
        if s.pv_reach:
            lines.append(f"P: a PV IPI (KVM_HC_SEND_IPI) to APIC ID {fmt_id(apic_id)} reaches vCPU "
                         f"{fmt_id(s.vcpu_id or 0)}" + (" — not the vCPUs that lost this slot" if s.losers else ""))
        elif self.pv_marks and s.state == WOULD:
            lines.append("no P: without a map every PV IPI fails (-EOPNOTSUPP)")
        if self.route is not None and (s.read or any(k not in (CHANGED, HOST) for k, _ in s.markers)):
            lines.append(f"interrupt #{self.route_index}:")
            if s.read:
                lines.append("  read by the fast path")
            for kind, idx in s.markers:
                if kind in (CHANGED, HOST):
                    continue
                lines.append(f"  {MARKER_TEXT[kind]}: vCPU {fmt_id(self.vcpus[idx].id)}"
                             + (" (lost this slot, so the fast path cannot reach it)"
                                if kind == DROPPED and idx != s.vcpu else ""))
        if s.selected:
            lines.append("selected")
        return "\n".join(lines)


def _items_changed(a: dict, b: dict) -> set:
    """Keys whose (hashable) values differ between two dicts."""
    if a == b:
        return set()
    return {k for k, _ in a.items() ^ b.items()}


def _values_changed(a: dict, b: dict) -> set:
    """Keys whose values (lists) differ between two dicts."""
    if a == b:
        return set()
    return {k for k in a.keys() | b.keys() if a.get(k) != b.get(k)}
