"""A table with its row actions (add, duplicate, remove, move, set for selection).

Shared by the vCPU and interrupt docks. The actions' shortcuts are local to
the panel, so Delete in the vCPU table never removes an interrupt.
"""
from __future__ import annotations

from PySide6.QtCore import QItemSelection, QItemSelectionModel, QSize, Qt, Signal
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHeaderView,
    QInputDialog,
    QTableView,
    QToolBar,
    QVBoxLayout,
    QWidget,
)

from ..controller import edits
from ..controller.controller import VCPUS, Controller
from .delegates import CellDelegate
from .table_model import RowTableModel

NAME_COLUMN_WIDTH = 130  # free text: the rest shows in the tooltip and the editor
#: Columns shown earlier than the model order: what happened to a vCPU is read first.
FRONT_COLUMNS = {VCPUS: (("status", 1),)}


class RowTablePanel(QWidget):
    """QTableView over a :class:`RowTableModel`, plus buttons whose actions edit through :mod:`.edits`."""

    #: Rows selected in this table (after a user action or a sync).
    rows_selected = Signal(list)

    def __init__(self, controller: Controller, model: RowTableModel, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.controller = controller
        self.model = model
        self.kind = model.kind
        self._syncing = False

        self.view = QTableView(self)
        self.view.setModel(model)
        self.view.setItemDelegate(CellDelegate(self.view))
        self.view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.view.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.view.setEditTriggers(
            QAbstractItemView.EditTrigger.DoubleClicked
            | QAbstractItemView.EditTrigger.EditKeyPressed
            | QAbstractItemView.EditTrigger.AnyKeyPressed
        )
        self.view.setTabKeyNavigation(True)
        self.view.setAlternatingRowColors(True)
        self.view.setWordWrap(False)
        header = self.view.horizontalHeader()
        header.setSectionsMovable(True)
        for key, position in FRONT_COLUMNS.get(self.kind, ()):
            keys = [c.key for c in model.columns]
            if key in keys:
                header.moveSection(header.visualIndex(keys.index(key)), position)
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        header.setStretchLastSection(True)
        header.setHighlightSections(False)
        self.view.verticalHeader().setDefaultSectionSize(self.fontMetrics().height() + 8)
        self.view.verticalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Fixed)

        self.actions_by_name: dict[str, QAction] = {}
        noun = "vCPU" if self.kind == VCPUS else "interrupt"
        self._action("add", f"Add {noun}", "Insert", self._on_add, f"Create a new {noun} (appended: created last)")
        if self.kind == VCPUS:
            self._action("add_n", "Add N…", "Ctrl+Insert", self._on_add_n,
                         "Add several vCPUs with a pattern of IDs (first, step, count, mode)")
        self._action("duplicate", "Duplicate", "Ctrl+D", self._on_duplicate, f"Copy the selected {noun}s")
        self._action("remove", "Remove", QKeySequence.StandardKey.Delete, self._on_remove,
                     f"Remove the selected {noun}s")
        self._action("up", "Up", "Alt+Up", lambda: self._on_move(-1),
                     "Move the selected rows up" + (" (earlier in creation order)" if self.kind == VCPUS else ""))
        self._action("down", "Down", "Alt+Down", lambda: self._on_move(1),
                     "Move the selected rows down" + (" (later in creation order)" if self.kind == VCPUS else ""))
        self._action("set_selection", "Set for selection…", ("Ctrl+Return", "Ctrl+Enter"),
                     self._on_set_for_selection,
                     "Give the current column one value in every selected row (or type in a cell and press "
                     "Ctrl+Enter)")

        # A tool bar folds the buttons that do not fit into a » menu, so a narrow dock stays usable.
        self.toolbar = QToolBar(self)
        self.toolbar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
        self.toolbar.setIconSize(QSize(12, 12))
        for action in self.actions_by_name.values():
            self.toolbar.addAction(action)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.setSpacing(2)
        layout.addWidget(self.toolbar)
        layout.addWidget(self.view)

        self.view.selectionModel().selectionChanged.connect(self._on_view_selection_changed)
        self.view.selectionModel().currentChanged.connect(self._on_view_selection_changed)
        if self.kind == VCPUS:
            controller.vcpu_selection_changed.connect(self._on_vcpu_selection_changed)
        else:
            controller.interrupt_selection_changed.connect(self._on_interrupt_selection_changed)
        # Fit columns once the new scenario's results are in (they arrive after scenario_replaced).
        self._resize_pending = True
        controller.scenario_replaced.connect(self._on_scenario_replaced)
        controller.result_changed.connect(self._on_result_changed)
        self.resize_columns()

    def _on_scenario_replaced(self) -> None:
        self._resize_pending = True

    def _on_result_changed(self, _evaluation: object) -> None:
        if self._resize_pending:
            self._resize_pending = False
            self.resize_columns()

    def _action(self, name: str, text: str, shortcut, slot, tip: str) -> QAction:
        action = QAction(text, self)
        keys = [QKeySequence(k) for k in (shortcut if isinstance(shortcut, tuple) else (shortcut,))]
        action.setShortcuts(keys)
        action.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        action.setToolTip(f"{tip} ({keys[0].toString(QKeySequence.SequenceFormat.NativeText)})")
        action.triggered.connect(slot)
        self.addAction(action)
        self.actions_by_name[name] = action
        return action

    def resize_columns(self) -> None:
        """Fit columns to their content once; the user's widths are kept afterwards."""
        self.view.resizeColumnsToContents()
        header = self.view.horizontalHeader()
        for i, col in enumerate(self.model.columns):
            width = max(header.sectionSize(i) + 4, 36)
            header.resizeSection(i, min(width, NAME_COLUMN_WIDTH) if col.key == "name" else width)

    # ----- selection ---------------------------------------------------------

    def selected_rows(self) -> list[int]:
        selection = self.view.selectionModel()
        return sorted({i.row() for i in selection.selectedIndexes()})

    def _on_view_selection_changed(self, *_args) -> None:
        if self._syncing:
            return
        rows = self.selected_rows()
        if self.kind == VCPUS:
            self.controller.select_vcpus(rows)
        else:
            current = self.view.currentIndex().row()
            self.controller.select_interrupt(current if current in rows else (rows[0] if rows else -1))
        self.rows_selected.emit(rows)

    def select_rows(self, rows: list[int]) -> None:
        """Select ``rows`` without echoing the change back to the controller."""
        rows = [r for r in rows if 0 <= r < self.model.rowCount()]
        if rows == self.selected_rows():
            return
        self._syncing = True
        try:
            selection = QItemSelection()
            last_col = self.model.columnCount() - 1
            for r in rows:
                selection.select(self.model.index(r, 0), self.model.index(r, last_col))
            flags = QItemSelectionModel.SelectionFlag.ClearAndSelect | QItemSelectionModel.SelectionFlag.Rows
            self.view.selectionModel().select(selection, flags)
            if rows:
                current = self.view.currentIndex()
                col = current.column() if current.isValid() else 0
                self.view.selectionModel().setCurrentIndex(
                    self.model.index(rows[0], col), QItemSelectionModel.SelectionFlag.NoUpdate)
                self.view.scrollTo(self.model.index(rows[0], col))
        finally:
            self._syncing = False

    def _on_vcpu_selection_changed(self, rows: list[int]) -> None:
        self.select_rows(rows)

    def _on_interrupt_selection_changed(self, row: int) -> None:
        if row < 0:
            if self.selected_rows():
                self._syncing = True
                self.view.clearSelection()
                self._syncing = False
        elif self.view.currentIndex().row() != row or self.selected_rows() != [row]:
            self.select_rows([row])

    # ----- actions -----------------------------------------------------------

    def _target_rows(self) -> list[int]:
        rows = self.selected_rows()
        if not rows and self.view.currentIndex().isValid():
            rows = [self.view.currentIndex().row()]
        return rows

    def _on_add(self) -> None:
        if self.kind == VCPUS:
            ok = edits.add_vcpus(self.controller, [edits.new_vcpu(self.controller)])
        else:
            ok = edits.add_interrupt(self.controller)
        if ok:
            self.select_new_row(self.model.rowCount() - 1)

    def select_new_row(self, row: int) -> None:
        self.view.selectionModel().setCurrentIndex(
            self.model.index(row, 0),
            QItemSelectionModel.SelectionFlag.ClearAndSelect | QItemSelectionModel.SelectionFlag.Rows)
        self.view.scrollTo(self.model.index(row, 0))

    def _on_add_n(self) -> None:
        from .add_vcpus_dialog import AddVcpusDialog

        dialog = AddVcpusDialog(self.controller, self)
        if dialog.exec():
            self.select_new_row(self.model.rowCount() - 1)

    def _on_duplicate(self) -> None:
        rows = self._target_rows()
        if rows and edits.duplicate_rows(self.controller, self.kind, rows):
            self.select_new_row(rows[-1] + 1)

    def _on_remove(self) -> None:
        rows = self._target_rows()
        if rows:
            edits.remove_rows(self.controller, self.kind, rows)

    def _on_move(self, delta: int) -> None:
        rows = self._target_rows()
        if rows:
            edits.move_rows(self.controller, self.kind, rows, delta)  # the selection follows the rows

    def _on_set_for_selection(self) -> None:
        rows = self._target_rows()
        current = self.view.currentIndex()
        if not rows or not current.isValid():
            return
        col = self.model.columns[current.column()]
        if not col.editable:
            self.controller.refuse(f"Refused: {col.title} is computed, not editable")
            return
        value = str(current.data(Qt.ItemDataRole.EditRole) if col.editor != "bool" else
                    ("yes" if current.data(Qt.ItemDataRole.EditRole) else "no"))
        text, ok = QInputDialog.getText(
            self, "Set for selection", f"{col.title} for {len(rows)} row(s)\nallowed: {col.range_text()}", text=value)
        if ok:
            self.model.set_for_rows(rows, current.column(), text)
