"""The vCPU table: one row per vCPU in creation order, plus what the map made of it."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QBrush

from ...model import Evaluation, Vcpu
from ...model.apic_map import SLOT_DIRECT, SLOT_HOTPLUG
from ...model.numbers import fmt_id
from ..controller.controller import VCPUS
from ..viewmodels.columns import VCPU_COLUMNS
from .table_model import COLOURS, RowTableModel

_X2APIC_IGNORES = {"xapic_id": "ignored: in x2APIC mode the APIC ID is the vCPU ID",
                   "logical_id": "ignored: in x2APIC mode the LDR is derived from the vCPU ID",
                   "dfr": "ignored: x2APIC mode has no DFR"}


@dataclass(frozen=True)
class Badge:
    """The status column of one vCPU: short text, a longer explanation, a colour level."""

    text: str
    detail: str
    level: str  # key of COLOURS


@dataclass
class SlotIndex:
    """Per-vCPU lookups built once per evaluation, so badges cost O(vCPUs) in all."""

    slots: dict[int, list[int]]  # vCPU index -> phys_map slots holding it
    aliases: dict[int, list[tuple[int, list[int]]]]  # vCPU index -> [(physical ID, members)]
    lost: dict[int, list[int]]  # vCPU index -> slots it wanted and lost

    @classmethod
    def build(cls, ev: Evaluation) -> SlotIndex:
        slots: dict[int, list[int]] = {}
        if ev.result.map is not None:
            for slot, idx in sorted(ev.result.map.phys_map.items()):
                slots.setdefault(idx, []).append(slot)
        aliases: dict[int, list[tuple[int, list[int]]]] = {}
        for pid, members in ev.aliases_physical.items():
            for idx in members:
                aliases.setdefault(idx, []).append((pid, members))
        lost: dict[int, list[int]] = {}
        for slot, losers in ev.result.phys_losers.items():
            for idx in losers:
                lost.setdefault(idx, []).append(slot)
        return cls(slots, aliases, lost)


def vcpu_badge(ev: Evaluation, idx: int, index: SlotIndex) -> Badge:
    """Status of vCPU ``idx``: aliased / hotplug only / unreachable / hw disabled / ok."""
    vcpus = ev.scenario.vcpus
    v = vcpus[idx]
    if not v.present:
        return Badge("hw disabled", "APIC hardware-disabled (IA32_APIC_BASE.EN clear): in no map, receives nothing",
                     "off")
    words: list[str] = []
    details: list[str] = []
    level = "ok"
    for pid, members in index.aliases.get(idx, []):
        others = ", ".join(fmt_id(vcpus[i].id) for i in members[:9] if i != idx)
        more = f" and {len(members) - 9} more" if len(members) > 9 else ""
        words.append("aliased")
        details.append(f"physical ID {fmt_id(pid)} is shared with vCPU {others}{more}")
        level = "warn"
    amap = ev.result.map
    if amap is not None:
        mine = index.slots.get(idx, [])
        kinds = {amap.slot_kind.get(s) for s in mine}
        lost = index.lost.get(idx, [])
        if lost:
            holders = ", ".join(f"{fmt_id(s)} to vCPU {fmt_id(vcpus[amap.phys_map[s]].id)}"
                                for s in lost if s in amap.phys_map)
            details.append(f"lost phys_map slot {holders}")
        if not mine:
            words.append("unreachable")
            details.append("in no phys_map slot: the fast path never finds it by physical ID")
            level = "bad"
        elif SLOT_DIRECT not in kinds and SLOT_HOTPLUG in kinds:
            words.append("hotplug only")
            details.append("reached only via phys_map[x2APIC ID] (the hotplug hack), not by its xAPIC ID")
            level = "note" if level == "ok" else level
        if mine:
            details.append("in phys_map slot " + ", ".join(f"{fmt_id(s)} ({amap.slot_kind.get(s)})" for s in mine))
    else:
        details.append("no optimized map: KVM finds it by the slow path (checks every vCPU)")
    if not v.sw_enabled:
        details.append("software-disabled: discards fixed and lowest-priority messages")
    return Badge(", ".join(words) or "ok", "; ".join(details), level)


class VcpuTableModel(RowTableModel):
    kind = VCPUS
    columns = VCPU_COLUMNS

    def refresh_results(self) -> None:
        # Badges are worked out when a row is shown: a 4096-vCPU edit must not compute 4096 of them.
        self._ev = self.controller.evaluation
        self._index = SlotIndex.build(self._ev)
        self._badges: dict[int, Badge] = {}

    def row_results(self, row: int) -> Badge | None:
        return self.badge(row)

    def badge(self, row: int) -> Badge | None:
        if not 0 <= row < len(self._ev.scenario.vcpus):
            return None
        found = self._badges.get(row)
        if found is None:
            found = self._badges[row] = vcpu_badge(self._ev, row, self._index)
        return found

    def ignored(self, item: Vcpu, key: str) -> str:
        if item.x2apic_mode:
            return _X2APIC_IGNORES.get(key, "")
        if not item.present and key in ("xapic_id", "logical_id", "dfr", "sw_enabled"):
            return "has no effect: the APIC is hardware-disabled"
        return ""

    def derived(self, row: int, key: str, role: int) -> Any:
        items = self.items()
        if row >= len(items):
            return None
        v: Vcpu = items[row]
        if key == "status":
            badge = self.badge(row)
            if badge is None:
                return None
            if role == Qt.ItemDataRole.DisplayRole:
                return badge.text
            if role == Qt.ItemDataRole.ToolTipRole:
                return badge.detail
            if role == Qt.ItemDataRole.BackgroundRole:
                return QBrush(COLOURS[badge.level])
            if role == Qt.ItemDataRole.ForegroundRole:
                return QBrush(Qt.GlobalColor.black)
            if role == Qt.ItemDataRole.FontRole and badge.level in ("bad", "warn"):
                return self._bold
            return None
        if role == Qt.ItemDataRole.DisplayRole:
            if key == "phys":
                return fmt_id(v.physical_id) if v.present else "—"
            if key == "ldr":
                return f"{v.x2apic_ldr:#x}"
        if role == Qt.ItemDataRole.ForegroundRole and key == "ldr" and not v.x2apic_mode:
            return QBrush(Qt.GlobalColor.gray)
        if role == Qt.ItemDataRole.ToolTipRole and key == "ldr" and not v.x2apic_mode:
            return "Not in use: this vCPU is in xAPIC mode (its logical ID and DFR count instead)"
        return None
