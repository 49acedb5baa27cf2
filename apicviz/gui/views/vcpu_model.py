"""The vCPU table: one row per vCPU in creation order, plus what the map made of it."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QBrush

from ...model import Evaluation, Vcpu
from ...model import vcpu_status as vs
from ...model.numbers import fmt_id
from ..controller.controller import VCPUS
from ..viewmodels.columns import VCPU_COLUMNS
from . import palette
from .table_model import COLOURS, IGNORED_FG, RowTableModel

_X2APIC_IGNORES = {"xapic_id": "ignored: in x2APIC mode the APIC ID is the vCPU ID",
                   "logical_id": "ignored: in x2APIC mode the LDR is derived from the vCPU ID",
                   "dfr": "ignored: x2APIC mode has no DFR"}


@dataclass(frozen=True)
class Badge:
    """The status column of one vCPU: short text, a longer explanation, a colour level."""

    text: str
    detail: str
    level: str  # key of COLOURS


#: Status code -> (word in the cell or "" for the tooltip only, colour level). The words are the view's;
#: which codes apply is the model's (apicviz.model.vcpu_status).
STATUS_WORDS: dict[str, tuple[str, str]] = {
    vs.HW_DISABLED: ("hw disabled", "off"),
    vs.PHYSICAL_ALIAS: ("aliased", "warn"),
    vs.LOGICAL_SLOT_LOST: ("lost logical slot", "warn"),
    vs.UNREACHABLE: ("unreachable", "bad"),
    vs.HOTPLUG_ONLY: ("hotplug only", "note"),
    vs.PHYSICAL_SLOT_LOST: ("", "ok"),
    vs.LOGICAL_ALIAS: ("", "ok"),
    vs.LOGICAL_PARTIAL: ("", "ok"),
    vs.SW_DISABLED: ("", "ok"),
    vs.XAPIC_ID_MODIFIED: ("", "ok"),
    vs.LDR_WRAPPED: ("", "ok"),
    vs.NO_MAP: ("", "ok"),
}
_LEVEL_RANK = {"ok": 0, "note": 1, "warn": 2, "bad": 3, "off": 4}


def vcpu_badge(ev: Evaluation, idx: int) -> Badge:
    """The Status cell of vCPU ``idx``: words and level from its status codes, details in the model's words."""
    index = ev.vcpu_status
    statuses = index.of(idx)
    words: list[str] = []
    level = "ok"
    for st in statuses:
        word, lvl = STATUS_WORDS.get(st.code, ("", "ok"))
        if word and word not in words:
            words.append(word)
        if _LEVEL_RANK[lvl] > _LEVEL_RANK[level]:
            level = lvl
    details = [vs.describe(st, ev) for st in statuses]
    slots = index.slots(idx)
    if slots:
        details.append("in phys_map slot " + ", ".join(f"{fmt_id(slot)} ({kind})" for slot, kind in slots))
    return Badge(", ".join(words) or "ok", "; ".join(details), level)


class VcpuTableModel(RowTableModel):
    kind = VCPUS
    columns = VCPU_COLUMNS

    def refresh_results(self) -> None:
        # Badges are worked out when a row is shown: a 4096-vCPU edit must not compute 4096 of them.
        self._ev = self.controller.evaluation
        self._badges: dict[int, Badge] = {}

    def row_results(self, row: int) -> Badge | None:
        return self.badge(row)

    def badge(self, row: int) -> Badge | None:
        if not 0 <= row < len(self._ev.scenario.vcpus):
            return None
        found = self._badges.get(row)
        if found is None:
            found = self._badges[row] = vcpu_badge(self._ev, row)
        return found

    def stand_in(self, item: Vcpu, key: str) -> tuple[str, str] | None:
        if key == "logical_id" and item.x2apic_mode:
            why = ("in x2APIC mode KVM derives the LDR from the x2APIC ID: "
                   "((id >> 4) << 16) | 1 << (id & 0xf); the xAPIC logical ID is kept for a switch back")
            return f"{item.x2apic_ldr:#x}", why
        return None

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
                return QBrush(palette.qcolor(palette.FLAGGED_TEXT))
            if role == Qt.ItemDataRole.FontRole and badge.level in ("bad", "warn"):
                return self._bold
            return None
        if role == Qt.ItemDataRole.DisplayRole:
            if key == "phys":
                return fmt_id(v.physical_id) if v.present else "—"
            if key == "ldr":
                return f"{v.x2apic_ldr:#x}"
        if role == Qt.ItemDataRole.ForegroundRole and key == "ldr" and not v.x2apic_mode:
            return QBrush(IGNORED_FG)
        if role == Qt.ItemDataRole.ToolTipRole and key == "ldr" and not v.x2apic_mode:
            return "Not in use: this vCPU is in xAPIC mode (its logical ID and DFR count instead)"
        return None
