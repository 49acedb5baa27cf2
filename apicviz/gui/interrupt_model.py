"""The interrupts table: messages to route, plus where KVM and the hardware send them."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QBrush

from ..model import Interrupt
from .columns import INTERRUPT_COLUMNS, ids_text
from .controller import INTERRUPTS
from .table_model import COLOURS, RowTableModel


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


class InterruptTableModel(RowTableModel):
    kind = INTERRUPTS
    columns = INTERRUPT_COLUMNS

    def refresh_results(self) -> None:
        ev = self.controller.evaluation
        out = []
        for r in ev.routes:
            ids = ev.ids
            detail = (f"path: {r.path}\nKVM targets: {ids_text(ids(r.targets), 32)}\n"
                      f"accepted: {ids_text(ids(r.accepted), 32)}\n"
                      f"slow path alone: {ids_text(ids(r.slow_path_targets), 32)}\n"
                      f"hardware: {ids_text(ids(r.hardware_targets), 32)}")
            if r.fast_note:
                detail += f"\n{r.fast_note}"
            out.append(RouteCells(
                path=r.path,
                targets=ids_text(ids(r.targets)) if r.targets else "nobody",
                dropped=f"DROPPED {ids_text(ids(r.dropped))}" if r.dropped else "—",
                extra=f"EXTRA {ids_text(ids(r.extra))}" if r.extra else "—",
                detail=detail,
                is_dropped=bool(r.dropped),
                is_extra=bool(r.extra),
            ))
        self._cells = out

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
        if role == Qt.ItemDataRole.DisplayRole:
            return getattr(cells, key)
        if role == Qt.ItemDataRole.ToolTipRole:
            return cells.detail
        flagged = (key == "dropped" and cells.is_dropped) or (key == "extra" and cells.is_extra)
        if role == Qt.ItemDataRole.BackgroundRole and flagged:
            return QBrush(COLOURS["bad"] if key == "dropped" else COLOURS["warn"])
        if role == Qt.ItemDataRole.ForegroundRole and flagged:
            return QBrush(Qt.GlobalColor.black)
        if role == Qt.ItemDataRole.FontRole and flagged:
            return self._bold
        return None
