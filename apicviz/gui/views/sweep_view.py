"""The destination sweep: every destination where KVM and hardware, or fast and slow path, disagree.

Two pages: a heat map of every destination and sender coloured by severity
class (:mod:`.sweep_heatmap`; a click explains the destination), and a
sortable table of the disagreeing ones with filters (All / Inconsistent /
Dropped / Fast≠slow). Selecting a table row selects the vCPUs it involves
(targets and dropped), so the map view outlines them.
"""
from __future__ import annotations

from PySide6.QtCore import QItemSelection, Qt
from PySide6.QtWidgets import (
    QAbstractItemView,
    QButtonGroup,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QSizePolicy,
    QStackedWidget,
    QTableView,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from ...model.errors import shorten
from ...model.severity import KVM_INCONSISTENT
from ...model.sweep import KIND_PV_IPI, SweepResult, SweepRow
from ..viewmodels.sweep_summary import sweep_summary_line
from .sweep_heatmap import SweepHeatmap
from .sweep_model import (
    COLUMNS,
    FILTER_ALL,
    FILTER_DROPPED,
    FILTER_FAST_SLOW,
    FILTER_INCONSISTENT,
    FILTER_PV_IPI,
    ROW_ROLE,
    SweepFilter,
    SweepTableModel,
)

PAGE_HEATMAP, PAGE_TABLE = "heatmap", "table"
PAGES = ((PAGE_HEATMAP, "Heat map"), (PAGE_TABLE, "Table"))
FILTERS = ((FILTER_ALL, "All"), (FILTER_INCONSISTENT, "Inconsistent"), (FILTER_DROPPED, "Dropped"),
           (FILTER_FAST_SLOW, "Fast≠slow"), (FILTER_PV_IPI, "PV IPI"))


class SweepView(QWidget):
    """Table of :attr:`controller.sweep_result` rows; follows ``sweep_changed``."""

    def __init__(self, controller, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.controller = controller
        self.model = SweepTableModel(self)
        self.proxy = SweepFilter(self)
        self.proxy.setSourceModel(self.model)

        self.summary = QLabel("sweep pending …")
        # One line that gives way rather than wrapping: a wrapped line would take the heat map's rows.
        self.summary.setWordWrap(False)
        self.summary.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.summary.setMinimumWidth(0)
        self.buttons: dict[str, QToolButton] = {}
        self.group = QButtonGroup(self)
        self.group.setExclusive(True)
        bar = QHBoxLayout()
        bar.setContentsMargins(0, 0, 0, 0)
        self.page_buttons: dict[str, QToolButton] = {}
        pages = QButtonGroup(self)
        pages.setExclusive(True)
        for page, text in PAGES:
            b = QToolButton()
            b.setText(text)
            b.setCheckable(True)
            b.clicked.connect(lambda _checked=False, p=page: self.set_page(p))
            pages.addButton(b)
            self.page_buttons[page] = b
            bar.addWidget(b)
        bar.addSpacing(12)
        for mode, text in FILTERS:
            b = QToolButton()
            b.setText(text)
            b.setCheckable(True)
            b.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
            b.clicked.connect(lambda _checked=False, m=mode: self.set_filter(m))
            self.group.addButton(b)
            self.buttons[mode] = b
            bar.addWidget(b)
        self.buttons[FILTER_ALL].setChecked(True)
        bar.addWidget(self.summary, 1)

        self.table = QTableView()
        self.table.setModel(self.proxy)
        self.table.setSortingEnabled(True)
        self.table.sortByColumn(-1, Qt.SortOrder.AscendingOrder)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setAlternatingRowColors(False)
        self.table.setWordWrap(False)
        self.table.verticalHeader().setVisible(False)
        self.table.verticalHeader().setDefaultSectionSize(self.fontMetrics().height() + 6)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        header.setStretchLastSection(True)
        for col, width in enumerate((170, 200, 70, 130, 90, 120, 120, 120, 130, 80)[: len(COLUMNS)]):
            self.table.setColumnWidth(col, width)
        self.table.selectionModel().selectionChanged.connect(self._on_row_selected)

        self.heatmap = SweepHeatmap(controller)
        self.stack = QStackedWidget()
        self.stack.addWidget(self.heatmap)
        self.stack.addWidget(self.table)

        lay = QVBoxLayout(self)
        lay.setContentsMargins(4, 4, 4, 4)
        lay.setSpacing(4)
        lay.addLayout(bar)
        lay.addWidget(self.stack, 1)
        self.set_page(PAGE_HEATMAP)

        controller.sweep_changed.connect(self._on_sweep_changed)
        controller.sweep_failed.connect(self._on_sweep_failed)
        controller.result_changed.connect(self._on_result_changed)
        if controller.sweep_result is not None:
            self._on_sweep_changed(controller.sweep_result)
        # else: the controller's scheduler delivers it shortly (sweep_changed)

    # ----- controller signals ------------------------------------------------------

    def _on_result_changed(self, _results: object) -> None:
        self.summary.setText("sweep: updating …")

    def _on_sweep_failed(self, reason: str) -> None:
        self.summary.setText(f"sweep failed ({shorten(reason, 120)}): the rows below are from before "
                             "this edit; the next edit tries again")
        self.summary.setToolTip(reason)

    def _on_sweep_changed(self, result: SweepResult) -> None:
        ev = self.controller.evaluation
        self.model.set_rows(ev, result.rows)
        dropped = sum(1 for r in result.rows if r.route.dropped)
        fast_slow = sum(1 for r in result.rows if r.fast_vs_slow)
        red = result.by_severity()[KVM_INCONSISTENT]
        pv = sum(1 for r in result.rows if r.kind == KIND_PV_IPI)
        for mode, text, n in ((FILTER_ALL, "All", len(result.rows)), (FILTER_INCONSISTENT, "Inconsistent", red),
                              (FILTER_DROPPED, "Dropped", dropped), (FILTER_FAST_SLOW, "Fast≠slow", fast_slow),
                              (FILTER_PV_IPI, "PV IPI", pv)):
            self.buttons[mode].setText(f"{text} ({n:,})")
        self.summary.setText(sweep_summary_line(result))
        self.summary.setToolTip(result.summary(ev))

    # ----- user actions ---------------------------------------------------------------

    def set_page(self, page: str) -> None:
        """Show the heat map or the table (the filters belong to the table)."""
        self.page_buttons[page].setChecked(True)
        self.stack.setCurrentWidget(self.heatmap if page == PAGE_HEATMAP else self.table)
        for b in self.buttons.values():
            b.setVisible(page == PAGE_TABLE)

    def set_filter(self, mode: str) -> None:
        """Show all rows, only rows with dropped deliveries, only fast≠slow rows, or only PV IPI rows."""
        self.buttons[mode].setChecked(True)
        self.proxy.set_mode(mode)

    def _on_row_selected(self, selected: QItemSelection, _deselected: QItemSelection) -> None:
        rows = self.table.selectionModel().selectedRows()
        if not rows:
            return
        row: SweepRow = rows[0].data(ROW_ROLE)
        self.controller.select_vcpus(list(row.route.targets) + list(row.route.dropped))

    # ----- state for tests ------------------------------------------------------------

    def visible_rows(self) -> list[SweepRow]:
        """Rows shown after filter and sort, top to bottom."""
        return [self.proxy.index(i, 0).data(ROW_ROLE) for i in range(self.proxy.rowCount())]

    def cell_text(self, row: int, column: str) -> str:
        col = [c.name for c in COLUMNS].index(column)
        return self.proxy.index(row, col).data()
