"""The controller: holds the current scenario, applies edits, reruns the model.

Views take the controller in ``__init__`` and subscribe to its signals; they
never write the scenario themselves (edits go through undo commands that call
the ``_``-prefixed mutators here, which emit the fine-grained row signals the
table models need).
"""
from __future__ import annotations

from PySide6.QtCore import QObject, QTimer, Signal
from PySide6.QtGui import QUndoStack

from ..model import Evaluation, Scenario, evaluate
from ..model.sweep import SweepResult, sweep


class Controller(QObject):
    #: The model was rerun: every view that shows results repaints from this.
    result_changed = Signal(object)  # Evaluation
    #: The destination sweep finished (it runs just after result_changed, coalesced).
    sweep_changed = Signal(object)  # SweepResult
    #: A whole new scenario was loaded (tables reset, selection cleared).
    scenario_replaced = Signal()
    #: The KVM settings, title or notes changed.
    kvm_changed = Signal()
    #: vCPU indexes (creation order) selected anywhere (table or map).
    vcpu_selection_changed = Signal(list)
    #: Interrupt row selected (-1: none).
    interrupt_selection_changed = Signal(int)
    #: Path or clean/dirty state changed (window title).
    file_state_changed = Signal()

    def __init__(self, scenario: Scenario | None = None, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.scenario: Scenario = scenario or Scenario()
        self.path: str | None = None
        self.undo_stack = QUndoStack(self)
        self.undo_stack.cleanChanged.connect(lambda _clean: self.file_state_changed.emit())
        self.evaluation: Evaluation = evaluate(self.scenario)
        self.sweep_result: SweepResult | None = None
        self.selected_vcpus: list[int] = []
        self.selected_interrupt: int = -1
        self._sweep_timer = QTimer(self)
        self._sweep_timer.setSingleShot(True)
        self._sweep_timer.setInterval(30)
        self._sweep_timer.timeout.connect(self._run_sweep)

    # ----- results ------------------------------------------------------------

    def rerun(self) -> None:
        """Re-evaluate after an edit; the sweep follows a moment later, coalesced."""
        self.evaluation = evaluate(self.scenario)
        self.result_changed.emit(self.evaluation)
        self._sweep_timer.start()

    def _run_sweep(self) -> None:
        self.sweep_result = sweep(self.evaluation)
        self.sweep_changed.emit(self.sweep_result)

    def ensure_sweep(self) -> SweepResult:
        """The sweep for the current evaluation, computed now if still pending."""
        if self.sweep_result is None or self._sweep_timer.isActive():
            self._sweep_timer.stop()
            self._run_sweep()
        assert self.sweep_result is not None
        return self.sweep_result

    # ----- selection ----------------------------------------------------------

    def select_vcpus(self, indexes: list[int]) -> None:
        indexes = sorted(set(i for i in indexes if 0 <= i < len(self.scenario.vcpus)))
        if indexes != self.selected_vcpus:
            self.selected_vcpus = indexes
            self.vcpu_selection_changed.emit(indexes)

    def select_interrupt(self, row: int) -> None:
        if row >= len(self.scenario.interrupts):
            row = -1
        if row != self.selected_interrupt:
            self.selected_interrupt = row
            self.interrupt_selection_changed.emit(row)

    # ----- whole-scenario changes --------------------------------------------

    def set_scenario(self, scenario: Scenario, path: str | None = None) -> None:
        """Replace the scenario (open, import, restore); clears undo history."""
        self.scenario = scenario
        self.path = path
        self.selected_vcpus = []
        self.selected_interrupt = -1
        self.undo_stack.clear()
        self.scenario_replaced.emit()
        self.rerun()
        self.file_state_changed.emit()
