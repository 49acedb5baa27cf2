"""A table with its row actions (add, duplicate, remove, move, set for selection).

Shared by the vCPU and interrupt docks. The actions' shortcuts are local to
the panel, so Delete in the vCPU table never removes an interrupt.
"""
from __future__ import annotations

from PySide6.QtCore import QItemSelection, QItemSelectionModel, QPoint, QSize, Qt, Signal
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHeaderView,
    QInputDialog,
    QMenu,
    QStyle,
    QTableView,
    QToolBar,
    QVBoxLayout,
    QWidget,
)

from ..controller import edits
from ..controller.controller import VCPUS, Controller
from .delegates import CellDelegate
from .table_model import RowTableModel

#: Free text: the name column grows to this many average characters; the rest shows in the tooltip.
NAME_COLUMN_CHARS = 40
#: A table too narrow for everything (a big zoom) shortens the name column to no fewer characters than this.
NAME_MIN_CHARS = 16
#: Columns shown earlier than the model order: what happened to a vCPU is read first.
FRONT_COLUMNS = {VCPUS: (("status", 1),)}
#: Shown only while the Compare kernels tab compares (the controller then has a comparison).
COMPARISON_COLUMNS = ("under_b",)
#: Shown only while a real kernel's answer is (KVM > Check on this host, Check on another kernel…).
HOST_COLUMNS = ("host",)
#: Columns that follow the state of the window, not the column menu.
FOLLOWING_COLUMNS = COMPARISON_COLUMNS + HOST_COLUMNS


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
        #: How many average characters of a name the name column shows (fewer when squeezed).
        self.name_chars = NAME_COLUMN_CHARS

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
        for i, col in enumerate(model.columns):
            header.setSectionHidden(i, not col.shown)
        header.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        header.customContextMenuRequested.connect(self._on_header_menu)
        header.setToolTip("Right-click to show or hide columns")
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
        self.box = layout
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
        controller.comparison_changed.connect(self._on_comparison_changed)
        controller.host_changed.connect(self._on_host_changed)
        self._on_comparison_changed(None)
        self._on_host_changed(None)
        self.resize_columns()

    def _on_comparison_changed(self, _comparison: object) -> None:
        """B's column is there only while the Compare tab compares and marks (the controller's marks)."""
        comparison = self.controller.marks
        keys = [c.key for c in self.model.columns]
        header = self.view.horizontalHeader()
        for key in COMPARISON_COLUMNS:
            if key in keys:
                i = keys.index(key)
                was_hidden = header.isSectionHidden(i)
                header.setSectionHidden(i, comparison is None)
                if was_hidden and comparison is not None:
                    self.view.resizeColumnToContents(i)

    def _on_header_menu(self, pos: QPoint) -> None:
        menu = self.column_menu()
        menu.exec(self.view.horizontalHeader().mapToGlobal(pos))

    def column_menu(self) -> QMenu:
        """Show or hide each column (the comparison and host columns follow the Compare tab and the checks)."""
        menu = QMenu(self)
        header = self.view.horizontalHeader()
        for i, col in enumerate(self.model.columns):
            if col.key in FOLLOWING_COLUMNS:
                continue
            action = menu.addAction(col.title)
            action.setCheckable(True)
            action.setChecked(not header.isSectionHidden(i))
            action.setToolTip(col.tooltip.split("\n")[0])
            action.toggled.connect(lambda shown, n=i: self.set_column_shown(n, shown))
        menu.addSeparator()
        menu.addAction("Default columns").triggered.connect(self.default_columns)
        return menu

    def set_column_shown(self, column: int, shown: bool) -> None:
        header = self.view.horizontalHeader()
        visible = [i for i in range(header.count()) if not header.isSectionHidden(i)]
        if not shown and visible == [column]:
            return  # keep at least one column
        header.setSectionHidden(column, not shown)
        if shown:
            self.view.resizeColumnToContents(column)
            header.resizeSection(column, header.sectionSize(column) + 4)

    def default_columns(self) -> None:
        header = self.view.horizontalHeader()
        for i, col in enumerate(self.model.columns):
            if col.key not in FOLLOWING_COLUMNS:
                header.setSectionHidden(i, not col.shown)
        self._on_comparison_changed(None)
        self._on_host_changed(None)
        self.resize_columns()

    def _on_host_changed(self, _results: object) -> None:
        """The Host column is there only while a real kernel's answer is shown (its header names the kernel).

        When it comes or goes the columns are fitted to the panel again (fit_width: shorter texts, then the
        squeezable columns give way), so nothing is cut; on other answers it only grows if a text needs it.
        """
        keys = [c.key for c in self.model.columns]
        if "host" not in keys:
            return
        i = keys.index("host")
        header = self.view.horizontalHeader()
        shown = self.controller.host_results.shown
        was_hidden = header.isSectionHidden(i)
        if (shown is None) != was_hidden:
            header.setSectionHidden(i, shown is None)
            if self.width() > 0 and self.isVisible():
                self.fit_width(self.width())
        if shown is None:
            return
        # Measured from the verdict's texts, not the view's cells: an edit of a big table costs nothing.
        fm = self.view.fontMetrics()
        cells = max((fm.horizontalAdvance(t) for t in {r.text for r in shown.rows}), default=0) + 16
        width = max(cells, header.sectionSizeFromContents(i).width() + 4)
        if width > header.sectionSize(i):
            header.resizeSection(i, width)

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
        """Fit columns to their header and content (on open and on zoom); the user's widths stay otherwise."""
        header = self.view.horizontalHeader()
        for i in range(header.count()):
            if not header.isSectionHidden(i):
                header.resizeSection(i, self.natural_width(i))

    def natural_width(self, column: int) -> int:
        """What a column needs for its header and cells (free-text names up to NAME_COLUMN_CHARS)."""
        header = self.view.horizontalHeader()
        width = max(self.view.sizeHintForColumn(column), header.sectionSizeFromContents(column).width(), 36)
        if self.model.columns[column].key == "name":
            width = min(width, self.fontMetrics().averageCharWidth() * self.name_chars)
        return width

    def fit_width(self, width: int) -> None:
        """Make the columns fit a panel ``width`` wide: full texts and every default column when there is
        room; else short texts, then the columns that may be squeezed out go (the column menu has them)."""
        header = self.view.horizontalHeader()
        for i, col in enumerate(self.model.columns):
            if col.squeeze and col.shown:
                header.setSectionHidden(i, False)
        self.model.set_compact(False)
        self.name_chars = NAME_COLUMN_CHARS
        self.resize_columns()
        if self.needed_width() <= width:
            return
        self.model.set_compact(True)
        self.resize_columns()
        for i, col in sorted(enumerate(self.model.columns), key=lambda ic: ic[1].squeeze):
            if self.needed_width() <= width:
                return
            if col.squeeze and not header.isSectionHidden(i):
                header.setSectionHidden(i, True)
        # Last: the free-text name gives way (whole in its tooltip and in the map caption).
        over = self.needed_width() - width
        names = [i for i, c in enumerate(self.model.columns) if c.key == "name" and not header.isSectionHidden(i)]
        if over > 0 and names:
            char = self.fontMetrics().averageCharWidth()
            now = self.natural_width(names[0]) // char
            self.name_chars = max(NAME_MIN_CHARS, now - -(-over // char))  # fewer characters by what is over
            self.resize_columns()

    def needed_width(self) -> int:
        """Panel width that shows every visible column whole (the window sizes the dock from it)."""
        header = self.view.horizontalHeader()
        columns = sum(self.natural_width(i) for i in range(header.count()) if not header.isSectionHidden(i))
        scroll = self.view.style().pixelMetric(QStyle.PixelMetric.PM_ScrollBarExtent, None, self.view)
        frame = 2 * self.view.frameWidth()
        margins = self.box.contentsMargins()
        return (columns + self.view.verticalHeader().sizeHint().width() + scroll + frame
                + margins.left() + margins.right() + 2)

    def needed_height(self, max_rows: int = 12) -> int:
        """Panel height that shows up to ``max_rows`` rows (a horizontal scroll bar included)."""
        rows = min(self.model.rowCount(), max_rows)
        scroll = self.view.style().pixelMetric(QStyle.PixelMetric.PM_ScrollBarExtent, None, self.view)
        margins = self.box.contentsMargins()
        return (self.toolbar.sizeHint().height() + self.view.horizontalHeader().sizeHint().height()
                + rows * self.view.verticalHeader().defaultSectionSize() + scroll + 2 * self.view.frameWidth()
                + margins.top() + margins.bottom() + self.box.spacing() + 4)

    def cut_columns(self) -> list[str]:
        """Visible columns whose header text or content does not fit, or that lie outside the view."""
        header = self.view.horizontalHeader()
        right = self.view.viewport().width()
        out = []
        for i, col in enumerate(self.model.columns):
            if header.isSectionHidden(i):
                continue
            size = header.sectionSize(i)
            pos = header.sectionViewportPosition(i)
            title_need = header.fontMetrics().horizontalAdvance(col.title) + 2 * header.style().pixelMetric(
                QStyle.PixelMetric.PM_HeaderMargin, None, header)
            content_need = self.view.sizeHintForColumn(i)
            if col.key == "name":
                content_need = min(content_need, self.fontMetrics().averageCharWidth() * self.name_chars)
            if size < title_need or size < content_need or pos < 0 or pos + size > right:
                out.append(col.title)
        return out

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
