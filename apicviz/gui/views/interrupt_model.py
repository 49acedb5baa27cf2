"""The interrupts table: messages to route, plus where KVM and the hardware send them."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QBrush

from ...model import Interrupt
from ...model.numbers import id_list
from ...model.severity import AGREE, REASON_NAME, REASON_TEXT, SEVERITY_NAME, SEVERITY_TEXT
from ..controller.controller import INTERRUPTS
from ..viewmodels.columns import CELL_IDS, INTERRUPT_COLUMNS, TIP_IDS, column_index
from ..viewmodels.host_verdict import AGREE as HOST_AGREE
from ..viewmodels.host_verdict import DIFFERS, SETTINGS, SKIPPED, HostVerdict
from ..viewmodels.pv_ipi_view import path_text
from . import palette
from .table_model import COLOURS, IGNORED_FG, RowTableModel

#: Host cell background per state (the text says the same: ✓, ≠, –).
HOST_COLOURS = {HOST_AGREE: "ok", DIFFERS: "bad", SETTINGS: "note", SKIPPED: "off"}


@dataclass(frozen=True)
class RouteCells:
    """Display text of the result columns of one interrupt."""

    path: str
    targets: str
    dropped: str
    extra: str
    detail: str
    is_dropped: bool
    is_extra: bool
    under_b: str = ""
    changed_under_b: bool = False
    #: Severity class code of the route (apicviz.model.severity) and the cell's words.
    severity: str = AGREE
    severity_text: str = "agree"
    severity_tip: str = ""
    #: The class alone ("KVM inconsistent"), shown when the table is too narrow for the reasons too.
    severity_short: str = "agree"
    #: The real kernel's answer (the Host column): text and state code (viewmodels.host_verdict).
    host: str = ""
    host_state: str = ""
    #: The answer belongs to an earlier edit; the rerun is on its way.
    host_stale: bool = False


class InterruptTableModel(RowTableModel):
    kind = INTERRUPTS
    columns = INTERRUPT_COLUMNS

    def __init__(self, controller, parent=None) -> None:
        super().__init__(controller, parent)
        self._host_header = ""
        controller.comparison_changed.connect(self._on_comparison_changed)
        controller.host_changed.connect(self._on_host_changed)

    def _on_comparison_changed(self, _comparison: object) -> None:
        self._on_result_changed(self.controller.evaluation)

    def _on_host_changed(self, _results: object) -> None:
        self._on_result_changed(self.controller.evaluation)
        header = self.host_header()
        if header != self._host_header:
            self._host_header = header
            column = column_index(self.columns, "host")
            self.headerDataChanged.emit(Qt.Orientation.Horizontal, column, column)

    def host_header(self) -> str:
        """'Host (Linux 6.18.44)' or 'Linux 6.1.0-50-amd64 (VM)': the kernel the column shows."""
        shown = self.controller.host_results.shown
        if shown is None:
            return "Host"
        return f"Host ({shown.label})" if shown.source == "host" else shown.label

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if (orientation == Qt.Orientation.Horizontal and 0 <= section < len(self.columns)
                and self.columns[section].key == "host"):
            shown = self.controller.host_results.shown
            if role == Qt.ItemDataRole.DisplayRole:
                return self.host_header()
            if role == Qt.ItemDataRole.ToolTipRole and shown is not None:
                return f"{shown.header}\n\n{self.columns[section].tooltip}"
        return super().headerData(section, orientation, role)

    def _host_cells(self, n: int, verdict: HostVerdict | None, fresh: bool) -> tuple[str, str, bool]:
        """The Host cell of interrupt ``n``: text, state, stale (the tooltip is made when asked for)."""
        if verdict is None:
            return "", "", False
        row = verdict.row(n)
        if row is None or (not fresh and not self._same_interrupt(verdict, n)):
            return "…", "", True
        return row.text, row.state, not fresh

    def _same_interrupt(self, verdict: HostVerdict, n: int) -> bool:
        """Row ``n`` is still the message the verdict was about (rows are replaced when edited)."""
        then = verdict.evaluation.scenario.interrupts
        now = self.controller.evaluation.scenario.interrupts
        return n < len(then) and n < len(now) and then[n] is now[n]

    def _host_tip(self, n: int, cells: RouteCells) -> str:
        verdict = self.controller.host_results.shown
        if verdict is None:
            return ""
        if cells.host == "…":
            return f"{verdict.label}: checking after the last edit…"
        tip = verdict.cell_tip(n)
        return ("(from before the last edit; the rerun is on its way)\n" + tip) if cells.host_stale else tip

    def _under_b(self, n: int) -> tuple[str, bool]:
        """Route of interrupt ``n`` under the Compare tab's kernel B, and whether it differs."""
        comp = self.controller.marks
        if comp is None or n >= len(comp.b.routes):  # (a stale comparison is replaced right after a rerun)
            return "", False
        r = comp.b.routes[n]
        ids = comp.b.ids
        text = f"{comp.label_b}: {path_text(r)} → {id_list(ids(r.targets), CELL_IDS)}"
        if r.dropped:
            text += f"; DROPPED {id_list(ids(r.dropped), CELL_IDS)}"
        changed = any(ch.index == n for ch in comp.routes)
        return ("≠ " if changed else "= ") + text, changed

    def refresh_results(self) -> None:
        ev = self.controller.evaluation
        out = []
        kernels = self.controller.host_results
        shown, fresh = kernels.shown, kernels.shown_fresh
        for n, r in enumerate(ev.routes):
            ids = ev.ids
            slow = (id_list(ids(r.slow_path_targets), TIP_IDS, '—') if r.pv_ipi_result is None
                    else "none: KVM serves PV IPIs from the map alone")
            detail = (f"path: {path_text(r)}\nKVM targets: {id_list(ids(r.targets), TIP_IDS, '—')}\n"
                      f"accepted: {id_list(ids(r.accepted), TIP_IDS, '—')}\n"
                      f"slow path alone: {slow}\n"
                      f"hardware: {id_list(ids(r.hardware_targets), TIP_IDS, '—')}")
            if r.fast_note:
                detail += f"\n{r.fast_note}"
            under_b, changed_under_b = self._under_b(n)
            host, host_state, host_stale = self._host_cells(n, shown, fresh)
            verdict = ev.verdict(n)
            names = ", ".join(REASON_NAME[x] for x in verdict.reasons)
            out.append(RouteCells(
                severity=verdict.severity,
                severity_text=SEVERITY_NAME[verdict.severity] + (f": {names}" if names else ""),
                severity_short=SEVERITY_NAME[verdict.severity],
                severity_tip="\n".join([SEVERITY_TEXT[verdict.severity]] + [f"• {REASON_TEXT[x]}"
                                                                             for x in verdict.reasons]),
                under_b=under_b,
                changed_under_b=changed_under_b,
                host=host,
                host_state=host_state,
                host_stale=host_stale,
                path=path_text(r),
                targets=id_list(ids(r.targets), CELL_IDS),
                dropped=f"DROPPED {id_list(ids(r.dropped), CELL_IDS)}" if r.dropped else "—",
                extra=f"EXTRA {id_list(ids(r.extra), CELL_IDS)}" if r.extra else "—",
                detail=detail,
                is_dropped=bool(r.dropped),
                is_extra=bool(r.extra),
            ))
        self._cells = out

    def row_results(self, row: int) -> RouteCells | None:
        return self.route_cells(row)

    def route_cells(self, row: int) -> RouteCells | None:
        return self._cells[row] if 0 <= row < len(self._cells) else None

    def ignored(self, item: Interrupt, key: str) -> str:
        if key == "dest" and item.shorthand != "none":
            return f"ignored: the shorthand \"{item.shorthand}\" decides the destination"
        if key == "dest_mode" and item.shorthand != "none":
            return "ignored with a shorthand"
        return ""

    def derived(self, row: int, key: str, role: int) -> Any:
        cells = self.route_cells(row)
        if cells is None:
            return None
        if key == "severity":
            return self._severity_data(cells, role)
        if key == "host":
            return self._host_tip(row, cells) if role == Qt.ItemDataRole.ToolTipRole else self._host_data(cells, role)
        if role == Qt.ItemDataRole.DisplayRole:
            return getattr(cells, key)
        if role == Qt.ItemDataRole.ToolTipRole:
            return cells.detail
        if key == "under_b":
            if role == Qt.ItemDataRole.BackgroundRole and cells.changed_under_b:
                return QBrush(COLOURS["note"])
            return None
        flagged = (key == "dropped" and cells.is_dropped) or (key == "extra" and cells.is_extra)
        if role == Qt.ItemDataRole.BackgroundRole and flagged:
            return QBrush(COLOURS["bad"] if key == "dropped" else COLOURS["warn"])
        if role == Qt.ItemDataRole.ForegroundRole and flagged:
            return QBrush(palette.qcolor(palette.FLAGGED_TEXT))
        if role == Qt.ItemDataRole.FontRole and flagged:
            return self._bold
        return None

    def _host_data(self, cells: RouteCells, role: int) -> Any:
        """The Host cell: ✓ green, ≠ red, settings-only yellow, skipped grey; grey text while stale."""
        if role == Qt.ItemDataRole.DisplayRole:
            return cells.host
        if role == Qt.ItemDataRole.BackgroundRole and cells.host_state:
            return QBrush(COLOURS[HOST_COLOURS[cells.host_state]])
        if role == Qt.ItemDataRole.ForegroundRole and cells.host_state:
            return QBrush(IGNORED_FG if cells.host_stale else Qt.GlobalColor.black)
        if role == Qt.ItemDataRole.FontRole and cells.host_state == DIFFERS and not cells.host_stale:
            return self._bold
        return None

    def _severity_data(self, cells: RouteCells, role: int) -> Any:
        """The class cell: words from the class and reason codes, colours from the palette by code."""
        if role == Qt.ItemDataRole.DisplayRole:
            return cells.severity_short if self.compact else cells.severity_text
        if role == Qt.ItemDataRole.ToolTipRole:
            return cells.severity_tip
        fill, text, _solid = palette.SEVERITY[cells.severity]
        if role == Qt.ItemDataRole.BackgroundRole and cells.severity != AGREE:
            return QBrush(palette.qcolor(fill))
        if role == Qt.ItemDataRole.ForegroundRole and cells.severity != AGREE:
            return QBrush(palette.qcolor(text))
        if role == Qt.ItemDataRole.FontRole and cells.severity == "kvm_inconsistent":
            return self._bold
        return None
