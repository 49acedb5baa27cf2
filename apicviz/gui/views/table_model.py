"""Base table model over one list of the scenario (vCPUs or interrupts).

Row signals from the controller become ``beginInsertRows``/``beginRemoveRows``/
``beginMoveRows``/``dataChanged``; only a new scenario resets the model.
``setData`` never writes the scenario: it goes through :mod:`.edits`, which
pushes an undo command or refuses the value (the old one stays).
"""
from __future__ import annotations

from typing import Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt
from PySide6.QtGui import QBrush, QColor, QFont

from ..controller import edits
from ..controller.controller import Controller
from ..viewmodels.columns import BOOL, Column
from . import palette

Index = QModelIndex | QPersistentModelIndex

#: Cell backgrounds (palette.CELL_FILLS); the text always says the same thing (colour-blind safe).
COLOURS: dict[str, QColor] = {level: palette.qcolor(fill) for level, fill in palette.CELL_FILLS.items()}
IGNORED_FG = palette.qcolor(palette.IGNORED_TEXT)
_MISSING = object()
#: After an edit the shown rows' results are compared, up to this many rows (then all repaint).
RECHECK_ROWS = 200


_ROLES = frozenset({
    Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.EditRole, Qt.ItemDataRole.CheckStateRole,
    Qt.ItemDataRole.ForegroundRole, Qt.ItemDataRole.BackgroundRole, Qt.ItemDataRole.FontRole,
    Qt.ItemDataRole.ToolTipRole, Qt.ItemDataRole.TextAlignmentRole,
})


class RowTableModel(QAbstractTableModel):
    """Columns come from a tuple of :class:`Column`; subclasses add the derived ones."""

    kind = ""
    columns: tuple[Column, ...] = ()

    def __init__(self, controller: Controller, parent=None) -> None:
        super().__init__(parent)
        self.controller = controller
        self._derived_keys = [i for i, c in enumerate(self.columns) if not c.editable]
        controller.rows_about_to_be_inserted.connect(self._on_rows_about_to_be_inserted)
        controller.rows_inserted.connect(self._on_rows_inserted)
        controller.rows_about_to_be_removed.connect(self._on_rows_about_to_be_removed)
        controller.rows_removed.connect(self._on_rows_removed)
        controller.rows_about_to_be_moved.connect(self._on_rows_about_to_be_moved)
        controller.rows_moved.connect(self._on_rows_moved)
        controller.rows_changed.connect(self._on_rows_changed)
        controller.result_changed.connect(self._on_result_changed)
        controller.scenario_replaced.connect(self._on_scenario_replaced)
        self._bold = QFont()
        self._bold.setBold(True)
        #: row -> {(column, role): value}; a repaint after an edit recomputes only what changed.
        self._cache: dict[int, dict[tuple[int, int], Any]] = {}
        self.modelAboutToBeReset.connect(self._cache.clear)
        self.rowsAboutToBeInserted.connect(self._cache.clear)
        self.rowsAboutToBeRemoved.connect(self._cache.clear)
        self.rowsAboutToBeMoved.connect(self._cache.clear)
        self.refresh_results()

    # ----- subclass hooks ----------------------------------------------------

    def refresh_results(self) -> None:
        """Recompute per-row caches of derived columns from controller.evaluation."""

    def derived(self, row: int, key: str, role: int) -> Any:
        return None

    def ignored(self, item: Any, key: str) -> str:
        """Why a field has no effect in this row ('' when it counts)."""
        return ""

    #: Short cell texts where a model has them (the table is too narrow for the long ones).
    compact = False

    def set_compact(self, compact: bool) -> None:
        """Short texts (True) or the full ones; the tooltips always have everything."""
        if compact != self.compact:
            self.compact = compact
            self._cache.clear()
            if self.rowCount():
                self.dataChanged.emit(self.index(0, 0), self.index(self.rowCount() - 1, len(self.columns) - 1))

    def stand_in(self, item: Any, key: str) -> tuple[str, str] | None:
        """(text, why) shown read-only instead of a field that this row derives, or None."""
        return None

    # ----- Qt model API ------------------------------------------------------

    def items(self) -> list[Any]:
        return self.controller.rows(self.kind)

    def rowCount(self, parent: Index = QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self.items())

    def columnCount(self, parent: Index = QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self.columns)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if orientation == Qt.Orientation.Horizontal and 0 <= section < len(self.columns):
            col = self.columns[section]
            if role == Qt.ItemDataRole.DisplayRole:
                return col.title
            if role == Qt.ItemDataRole.ToolTipRole:
                extra = "" if col.editable else "\n(read-only: computed by the model)"
                return col.tooltip + extra
        elif orientation == Qt.Orientation.Vertical and role == Qt.ItemDataRole.DisplayRole:
            return str(section)
        elif orientation == Qt.Orientation.Vertical and role == Qt.ItemDataRole.ToolTipRole:
            return "creation order (vcpu_idx)" if self.kind == "vcpus" else "interrupt number"
        return None

    def flags(self, index: Index) -> Qt.ItemFlag:
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        flags = Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable
        col = self.columns[index.column()]
        items = self.items()
        if col.editable and index.row() < len(items) and self.stand_in(items[index.row()], col.key) is not None:
            return flags  # derived in this row: shown, not editable
        if col.editor == BOOL:
            flags |= Qt.ItemFlag.ItemIsUserCheckable
        elif col.editable:
            flags |= Qt.ItemFlag.ItemIsEditable
        return flags

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        # A painted cell is asked for ~10 roles; answer the unused ones before any work (big VMs repaint often).
        if role not in _ROLES:
            return None
        row = index.row()
        cells = self._cache.get(row)
        if cells is None:
            cells = self._cache[row] = {}
        key = (index.column(), int(role))
        cached = cells.get(key, _MISSING)
        if cached is _MISSING:
            cached = cells[key] = self._data(index, role)
        return cached

    def _data(self, index: Index, role: int) -> Any:
        """What data() answers; cached per cell and role until the row or the results change."""
        items = self.items()
        if not index.isValid() or index.row() >= len(items):
            return None
        col = self.columns[index.column()]
        if not col.editable:
            return self.derived(index.row(), col.key, role)
        item = items[index.row()]
        stand_in = self.stand_in(item, col.key)
        if stand_in is not None:
            if role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.EditRole):
                return stand_in[0]
            if role == Qt.ItemDataRole.ForegroundRole:
                return QBrush(IGNORED_FG)
            if role == Qt.ItemDataRole.ToolTipRole:
                return f"{col.title}: {stand_in[0]} (read-only) — {stand_in[1]}"
            return None
        value = getattr(item, col.key)
        if role == Qt.ItemDataRole.DisplayRole:
            return "" if col.editor == BOOL else col.show(value)
        if role == Qt.ItemDataRole.EditRole:
            return value if col.editor == BOOL else col.show(value).replace("—", "")
        if role == Qt.ItemDataRole.CheckStateRole and col.editor == BOOL:
            return Qt.CheckState.Checked if value else Qt.CheckState.Unchecked
        why = self.ignored(item, col.key)
        if role == Qt.ItemDataRole.ForegroundRole and why:
            return QBrush(IGNORED_FG)
        if role == Qt.ItemDataRole.ToolTipRole:
            tip = f"{col.title}: {col.show(value)} — allowed {col.range_text()}"
            return tip + (f"\n{why}" if why else "")
        return None

    def setData(self, index: Index, value: Any, role: int = Qt.ItemDataRole.EditRole) -> bool:
        if not index.isValid() or not self.columns[index.column()].editable:
            return False
        if not self.flags(index) & (Qt.ItemFlag.ItemIsEditable | Qt.ItemFlag.ItemIsUserCheckable):
            col = self.columns[index.column()]
            self.controller.refuse(f"Refused: {col.title} of this row is derived, not editable "
                                   f"({self.stand_in(self.items()[index.row()], col.key)[1]})")  # type: ignore[index]
            return False
        if role not in (Qt.ItemDataRole.EditRole, Qt.ItemDataRole.CheckStateRole):
            return False
        if role == Qt.ItemDataRole.CheckStateRole:
            value = _check_state(value)
        return edits.set_text(self.controller, self.kind, [index.row()], self.columns[index.column()].key, value)

    def set_for_rows(self, rows: list[int], column: int, value: Any) -> bool:
        """One value for a column of many rows: one undo step (Ctrl+Enter, "Set for selection")."""
        col = self.columns[column]
        if not col.editable:
            self.controller.refuse(f"Refused: {col.title} is computed, not editable")
            return False
        return edits.set_text(self.controller, self.kind, rows, col.key, value)

    # ----- controller signals ------------------------------------------------

    def _on_rows_about_to_be_inserted(self, kind: str, first: int, last: int) -> None:
        if kind == self.kind:
            self.beginInsertRows(QModelIndex(), first, last)

    def _on_rows_inserted(self, kind: str) -> None:
        if kind == self.kind:
            self.endInsertRows()

    def _on_rows_about_to_be_removed(self, kind: str, first: int, last: int) -> None:
        if kind == self.kind:
            self.beginRemoveRows(QModelIndex(), first, last)

    def _on_rows_removed(self, kind: str) -> None:
        if kind == self.kind:
            self.endRemoveRows()

    def _on_rows_about_to_be_moved(self, kind: str, src: int, dst: int) -> None:
        if kind == self.kind:
            # beginMoveRows wants the index *before which* the row goes, counted before the move.
            self.beginMoveRows(QModelIndex(), src, src, QModelIndex(), dst + 1 if dst > src else dst)

    def _on_rows_moved(self, kind: str) -> None:
        if kind == self.kind:
            self.endMoveRows()

    def _on_rows_changed(self, kind: str, first: int, last: int) -> None:
        if kind == self.kind:
            for row in range(first, last + 1):
                self._cache.pop(row, None)
            self.dataChanged.emit(self.index(first, 0), self.index(last, len(self.columns) - 1))

    def row_results(self, row: int) -> Any:
        """What the derived cells of ``row`` show, comparable before and after new results.

        The default never compares equal, so every shown row repaints.
        """
        return object()

    def _on_result_changed(self, _results: object) -> None:
        """New results: repaint the shown rows whose derived cells changed.

        Rows never shown are worked out when they are; so a 4096-vCPU edit costs
        what is on screen, and the table repaints only what the edit changed.
        """
        if not self._derived_keys:
            self.refresh_results()
            return
        shown = sorted(self._cache)
        if len(shown) > RECHECK_ROWS:  # many rows seen since the last reset: start again from what is shown
            self.refresh_results()
            self._cache.clear()
            n = self.rowCount()
            if n:
                self.dataChanged.emit(self.index(0, min(self._derived_keys)), self.index(n - 1, len(self.columns) - 1))
            return
        before = [self.row_results(row) for row in shown]
        self.refresh_results()
        changed = [row for row, old in zip(shown, before, strict=True) if not _same(old, self.row_results(row))]
        derived = self._derived_keys
        first, last = min(derived), max(derived)
        for row in changed:
            cells = self._cache[row]
            for key in [k for k in cells if k[0] in derived]:
                del cells[key]
            self.dataChanged.emit(self.index(row, first), self.index(row, last))

    def _on_scenario_replaced(self) -> None:
        self.beginResetModel()
        self.refresh_results()
        self.endResetModel()


def _same(a: Any, b: Any) -> bool:
    """Equal cell values (brushes and fonts compare by value)."""
    try:
        return bool(a == b)
    except TypeError:
        return False


def _check_state(value: Any) -> bool:
    if isinstance(value, Qt.CheckState):
        return value == Qt.CheckState.Checked
    return int(value) == Qt.CheckState.Checked.value
