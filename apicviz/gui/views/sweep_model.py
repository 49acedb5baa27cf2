"""Table model of the destination sweep: one row per destination where answers differ.

Columns are declared once (:data:`COLUMNS`). A new sweep replaces rows with
``dataChanged`` for the rows both sweeps have and insert/remove for the rest,
so the view keeps its scroll position and sort while the user edits.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, QSortFilterProxyModel, Qt
from PySide6.QtGui import QFont

from ...model import Evaluation
from ...model.numbers import fmt_id, id_list
from ...model.severity import KVM_INCONSISTENT, REASON_NAME, SEVERITY_NAME, SEVERITY_RANK
from ...model.sweep import IPI_X2APIC, IPI_XAPIC, KIND_PV_IPI, MSI, PV_X2APIC, PV_XAPIC, SweepRow
from . import palette

SENDER_SHORT = {MSI: "MSI", IPI_XAPIC: "xAPIC IPI", IPI_X2APIC: "x2APIC IPI", PV_XAPIC: "xAPIC PV IPI",
                PV_X2APIC: "x2APIC PV IPI"}
SORT_ROLE = Qt.ItemDataRole.UserRole
ROW_ROLE = Qt.ItemDataRole.UserRole + 1

ModelIndex = QModelIndex | QPersistentModelIndex


def dest_text(row: SweepRow) -> str:
    """'0x123' or, for a class of destinations, '0x123 +N more ≡ 0x23 mod 0x100'."""
    if row.count > 1:
        return f"{fmt_id(row.dest)} +{row.count - 1:,} more ≡ {fmt_id(row.residue or 0)} mod 0x100"
    if row.dest == 0xFFFFFFFF:
        return "0xffffffff (broadcast)"
    return fmt_id(row.dest)


#: The sweep's ID columns are narrow.
SWEEP_CELL_IDS = 6


def ids_text(ev: Evaluation, idxs: list[int]) -> str:
    """A sweep cell: the vCPUs of ``idxs`` by ID (narrow columns: six at most)."""
    return id_list(ev.ids(idxs), SWEEP_CELL_IDS, "—")


@dataclass(frozen=True)
class Column:
    name: str
    text: Callable[[Evaluation, SweepRow], str]
    sort: Callable[[Evaluation, SweepRow], Any]
    tooltip: str


def _path(ev: Evaluation, r: SweepRow) -> str:
    if r.kind == KIND_PV_IPI:
        return f"PV IPI: {r.route.pv_ipi_result}"
    return f"{r.route.path} (≠ slow)" if r.fast_vs_slow else r.route.path


def _dropped(ev: Evaluation, r: SweepRow) -> str:
    return f"DROPPED {ids_text(ev, r.route.dropped)}" if r.route.dropped else "—"


def _class(ev: Evaluation, r: SweepRow) -> str:
    names = ", ".join(REASON_NAME[x] for x in r.verdict.reasons)
    return SEVERITY_NAME[r.severity] + (f": {names}" if names else "")


COLUMNS: list[Column] = [
    Column("Class", _class, lambda ev, r: (SEVERITY_RANK[r.severity], r.verdict.reasons),
           "How bad it is: KVM inconsistent (the optimized map disagrees with KVM's own slow path), differs from\n"
           "hardware, or by design (hotplug hack, no 8-bit truncation, broadcast quirk) — and why"),
    Column("Destination", lambda ev, r: dest_text(r), lambda ev, r: r.dest,
           "Destination field; a class row stands for every unnamed ID above 0xff with the same low byte"),
    Column("Mode", lambda ev, r: r.dest_mode, lambda ev, r: r.dest_mode, "Physical or logical destination mode"),
    Column("Senders", lambda ev, r: ", ".join(SENDER_SHORT[s] for s in r.senders),
           lambda ev, r: r.senders,
           "Who sends it: an MSI, or an IPI (ICR write) or PV IPI (KVM_HC_SEND_IPI) from an xAPIC- or x2APIC-mode "
           "vCPU"),
    Column("KVM path", _path, lambda ev, r: (r.route.path, r.fast_vs_slow),
           "fast: KVM's optimized map handled it; slow: kvm_apic_match_dest() on every vCPU;\n"
           "PV IPI: the hypercall's result (delivered, no_map: -EOPNOTSUPP, above_max_apic_id)"),
    Column("KVM targets", lambda ev, r: ids_text(ev, r.route.targets), lambda ev, r: len(r.route.targets),
           "Where KVM delivers"),
    Column("Slow-path targets", lambda ev, r: ids_text(ev, r.route.slow_path_targets),
           lambda ev, r: len(r.route.slow_path_targets), "What KVM's own slow path alone would choose"),
    Column("Hardware targets", lambda ev, r: ids_text(ev, r.route.hardware_targets),
           lambda ev, r: len(r.route.hardware_targets), "What the architecture says"),
    Column("Dropped", _dropped, lambda ev, r: len(r.route.dropped),
           "Hardware would deliver here, KVM does not"),
    Column("Extra", lambda ev, r: ids_text(ev, r.route.extra), lambda ev, r: len(r.route.extra),
           "KVM delivers here, hardware would not"),
]


class SweepTableModel(QAbstractTableModel):
    """Rows of a :class:`~apicviz.model.sweep.SweepResult` for one evaluation."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.rows: list[SweepRow] = []
        self.ev: Evaluation | None = None

    def set_rows(self, ev: Evaluation, rows: list[SweepRow]) -> None:
        """Replace the rows with fine-grained signals (no model reset)."""
        self.ev = ev
        old, new = len(self.rows), len(rows)
        if new < old:
            self.beginRemoveRows(QModelIndex(), new, old - 1)
            self.rows = self.rows[:new]
            self.endRemoveRows()
        common = min(old, new)
        self.rows[:common] = rows[:common]
        if common:
            self.dataChanged.emit(self.index(0, 0), self.index(common - 1, len(COLUMNS) - 1))
        if new > old:
            self.beginInsertRows(QModelIndex(), old, new - 1)
            self.rows.extend(rows[old:])
            self.endInsertRows()

    def rowCount(self, parent: ModelIndex = QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self.rows)

    def columnCount(self, parent: ModelIndex = QModelIndex()) -> int:
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if orientation == Qt.Orientation.Horizontal and 0 <= section < len(COLUMNS):
            if role == Qt.ItemDataRole.DisplayRole:
                return COLUMNS[section].name
            if role == Qt.ItemDataRole.ToolTipRole:
                return COLUMNS[section].tooltip
        return None

    def data(self, index: ModelIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or self.ev is None:
            return None
        row = self.rows[index.row()]
        col = COLUMNS[index.column()]
        if role == Qt.ItemDataRole.DisplayRole:
            return col.text(self.ev, row)
        if role == SORT_ROLE:
            return col.sort(self.ev, row)
        if role == ROW_ROLE:
            return row
        if role == Qt.ItemDataRole.BackgroundRole:
            return palette.qcolor(palette.SEVERITY[row.severity][0])
        if role == Qt.ItemDataRole.ForegroundRole:
            return palette.qcolor(palette.SEVERITY[row.severity][1])
        if role == Qt.ItemDataRole.FontRole and ((col.name == "Class" and row.severity == KVM_INCONSISTENT)
                                                 or (col.name == "Dropped" and row.route.dropped)):
            return _bold()
        if role == Qt.ItemDataRole.ToolTipRole:
            return row.describe(self.ev)
        return None


_BOLD: list[QFont] = []


def _bold() -> QFont:
    if not _BOLD:
        f = QFont()
        f.setBold(True)
        _BOLD.append(f)
    return _BOLD[0]


FILTER_ALL, FILTER_DROPPED, FILTER_FAST_SLOW, FILTER_INCONSISTENT = "all", "dropped", "fast-slow", "inconsistent"
FILTER_PV_IPI = "pv-ipi"


class SweepFilter(QSortFilterProxyModel):
    """All rows, rows with dropped deliveries, rows where fast and slow path disagree, KVM-inconsistent rows,
    or PV IPI rows."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.mode = FILTER_ALL
        self.setSortRole(SORT_ROLE)

    def set_mode(self, mode: str) -> None:
        if hasattr(self, "beginFilterChange"):  # Qt 6.9+; invalidateFilter() is deprecated there
            self.beginFilterChange()
            self.mode = mode
            self.endFilterChange()
        else:
            self.mode = mode
            self.invalidateRowsFilter()

    def filterAcceptsRow(self, source_row: int, source_parent: ModelIndex) -> bool:
        if self.mode == FILTER_ALL:
            return True
        model = self.sourceModel()
        row: SweepRow = model.rows[source_row]  # type: ignore[attr-defined]
        if self.mode == FILTER_DROPPED:
            return bool(row.route.dropped)
        if self.mode == FILTER_INCONSISTENT:
            return row.severity == KVM_INCONSISTENT
        if self.mode == FILTER_PV_IPI:
            return row.kind == KIND_PV_IPI
        return row.fast_vs_slow

    def lessThan(self, left: ModelIndex, right: ModelIndex) -> bool:
        a, b = left.data(SORT_ROLE), right.data(SORT_ROLE)
        try:
            return a < b
        except TypeError:
            return str(a) < str(b)
