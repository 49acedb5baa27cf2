"""The controller: owns the scenario, its evaluation and the compared one, applies edits.

Views take the controller in ``__init__``, subscribe to its signals and read
its state; they never write the scenario or evaluate it themselves. Edits go
through the undo commands in ``commands.py``, which call the public mutators
here (``apply_changes``, ``set_kvm_field``, ``insert_rows``...); nothing else
should call them, or the edit escapes the undo history. The mutators emit the
fine-grained row signals the table models need and rerun the model once:
evaluation A under the scenario's kernel and, while a comparison is kept, B
under the Compare dock's kernel, both in one ``result_changed``.

Rows are edited copy-on-write: a changed vCPU or interrupt is a new object,
so an evaluation's scenario is a snapshot nobody mutates. The sweep worker
reads it without a copy.
"""
from __future__ import annotations

import copy
from bisect import bisect_left
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QUndoStack
from shiboken6 import isValid

from ...model import Evaluation, Interrupt, Route, Scenario, evaluate
from ...model.apic_map import Step, recalculate
from ...model.compare import Comparison
from ...model.sweep import SweepMessage, SweepResult, sweep_message
from .comparison import CompareSettings, Results, compare_with
from .host_check import HostCheckScheduler
from .host_results import HostResults
from .kernel_check import KernelCheckRunner
from .real_kernels import RealKernels
from .sweep_scheduler import BACKGROUND_SWEEP_VCPUS, SweepScheduler

if TYPE_CHECKING:  # the throwaway-kernel runner loads only when a run starts
    from ...kernelvm.remote_probe import KernelChoice

__all__ = [
    "BACKGROUND_SWEEP_VCPUS",
    "INTERRUPTS",
    "KINDS",
    "VCPUS",
    "Change",
    "Controller",
    "Results",
    "snapshot",
]

#: Row kinds: which list of the scenario a row signal is about.
VCPUS = "vcpus"
INTERRUPTS = "interrupts"
KINDS = (VCPUS, INTERRUPTS)


@dataclass(frozen=True)
class Change:
    """One field of one row set to a value: the unit undo commands replay."""

    kind: str
    row: int
    field: str
    value: Any


def snapshot(scenario: Scenario) -> Scenario:
    """The scenario as it is now, sharing its row objects (valid because rows are replaced, not mutated)."""
    return Scenario(title=scenario.title, notes=scenario.notes, kvm=replace(scenario.kvm),
                    vcpus=list(scenario.vcpus), interrupts=list(scenario.interrupts))


class Controller(QObject):
    #: The model was rerun after an edit: a :class:`Results` with evaluation A and, while compared, B.
    result_changed = Signal(object)
    #: The destination sweep of the newest evaluation is in (it follows result_changed, coalesced).
    sweep_changed = Signal(object)  # SweepResult
    #: The sweep of the current evaluation failed (why); the previous sweep, if any, is stale.
    sweep_failed = Signal(str)
    #: Kernel B or the use of the comparison changed without an edit: the comparison (or None).
    comparison_changed = Signal(object)
    #: A whole new scenario was loaded (tables reset, selection cleared).
    scenario_replaced = Signal()
    #: The KVM settings, title or notes changed.
    kvm_changed = Signal()
    #: vCPU indexes (creation order) selected anywhere (table or map).
    vcpu_selection_changed = Signal(list)
    #: Interrupt row selected (-1: none).
    interrupt_selection_changed = Signal(int)
    #: A destination of the sweep picked for explanation (a model.sweep.SweepMessage, or None).
    destination_selected = Signal(object)
    #: Path or clean/dirty state changed (window title).
    file_state_changed = Signal()
    #: Fine-grained row signals, (kind, first, last): table models forward
    #: them as beginInsertRows/endInsertRows and friends.
    rows_about_to_be_inserted = Signal(str, int, int)
    rows_inserted = Signal(str)
    rows_about_to_be_removed = Signal(str, int, int)
    rows_removed = Signal(str)
    #: (kind, row, final index of that row after the move)
    rows_about_to_be_moved = Signal(str, int, int)
    rows_moved = Signal(str)
    #: Values of rows first..last changed (kind, first, last).
    rows_changed = Signal(str, int, int)
    #: An edit was refused; the message names the field and what is allowed.
    edit_refused = Signal(str)
    #: A real kernel's answer changed (this host's check, another kernel's run): a HostResults.
    host_changed = Signal(object)

    def __init__(self, scenario: Scenario | None = None, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.scenario: Scenario = scenario or Scenario()
        self.path: str | None = None
        self.undo_stack = QUndoStack(self)
        # A bound method, not a lambda: Qt drops the connection when the controller dies, before the
        # stack's destructor emits cleanChanged one last time.
        self.undo_stack.cleanChanged.connect(self._on_clean_changed)
        self.sweeps = SweepScheduler(self)
        self.sweeps.finished.connect(self._on_sweep_finished)
        self.sweeps.failed.connect(self.sweep_failed)
        #: Kernel B of the Compare dock; kept with the scenario so every view compares the same thing.
        self.compare_settings = CompareSettings.default_for(self.scenario.kvm)
        self._compare_shown = False
        self._marking = False
        self.selected_vcpus: list[int] = []
        self.selected_interrupt: int = -1
        #: The sweep message the Explain dock shows instead of an interrupt (the heat map's click).
        self.selected_destination: SweepMessage | None = None
        self._destination_route: tuple[int, SweepMessage, tuple[Interrupt, Route] | None] | None = None
        self.last_refusal: str = ""
        self._mutating = 0
        self._generation = 0
        self._steps: tuple[int, list[Step]] | None = None
        self._one_off: tuple[int, CompareSettings, Comparison] | None = None
        self.evaluation: Evaluation = evaluate(snapshot(self.scenario))
        self.comparison: Comparison | None = None
        self.results = Results(self.evaluation)
        self.sweeps.schedule(self.evaluation)
        #: Real kernels: this host's check (rerun after each edit while on) and another kernel's run.
        self.kernels = RealKernels(self)
        self.kernels.changed.connect(self.host_changed.emit)

    def _on_clean_changed(self, _clean: bool) -> None:
        self.file_state_changed.emit()

    # ----- results ------------------------------------------------------------

    def rerun(self) -> None:
        """Re-evaluate after an edit (A, and B while compared); the sweep follows a moment later."""
        self.sweeps.stop_running()
        self._generation += 1
        self.evaluation = evaluate(snapshot(self.scenario))
        self.comparison = compare_with(self.evaluation, self.compare_settings) if self.comparing else None
        self.results = Results(self.evaluation, self.comparison, self._marking)
        self.result_changed.emit(self.results)
        self.sweeps.schedule(self.evaluation)
        self.kernels.after_rerun(self.evaluation)

    @property
    def sweep_result(self) -> SweepResult | None:
        """The newest sweep that is in (it may belong to the previous edit until the next one lands)."""
        return self.sweeps.result

    def ensure_sweep(self) -> SweepResult:
        """The sweep for the current evaluation, computed now if still pending."""
        return self.sweeps.ensure()

    def _on_sweep_finished(self, result: SweepResult) -> None:
        if isValid(self):  # see SweepScheduler._emit
            self.sweep_changed.emit(result)

    def recalculation_steps(self) -> list[Step]:
        """What ``kvm_recalculate_apic_map()`` did, one step per action, for the current evaluation.

        Traced on first request after an edit (tens of ms at 4096 vCPUs), then kept.
        """
        if self._steps is None or self._steps[0] != self._generation:
            trace: list[Step] = []
            recalculate(self.evaluation.scenario, trace)
            self._steps = (self._generation, trace)
        return self._steps[1]

    def shutdown(self) -> None:
        """The window is closing: no more background work and nothing emitted from it."""
        self.sweeps.shutdown()
        self.kernels.shutdown()

    # ----- real kernels: this host's check and another kernel's answer -----------------------

    @property
    def host_results(self) -> HostResults:
        """What real kernels said, and which answer the Host column shows."""
        return self.kernels.results

    @property
    def host_check(self) -> HostCheckScheduler:
        return self.kernels.host_check

    @property
    def kernel_check(self) -> KernelCheckRunner:
        return self.kernels.kernel_check

    def set_host_check(self, on: bool) -> None:
        """KVM > Check on this host: probe the scenario on /dev/kvm now and after every edit while on."""
        self.kernels.set_host_check(on, self.evaluation)

    def check_kernel(self, choice: KernelChoice) -> bool:
        """KVM > Check on another kernel…: boot it in a throwaway VM and probe the scenario as it is now."""
        return self.kernels.check_kernel(choice, self.evaluation)

    # ----- comparison with kernel B ----------------------------------------------

    @property
    def comparing(self) -> bool:
        """B is evaluated with every edit: the Compare tab is shown or its marks are on."""
        return self._compare_shown or self._marking

    @property
    def marks(self) -> Comparison | None:
        """The comparison the map and the interrupts table mark (None when marking is off)."""
        return self.comparison if self._marking else None

    def set_compare_settings(self, settings: CompareSettings) -> None:
        """Choose kernel B (the Compare dock's kernel and flags)."""
        if settings != self.compare_settings:
            self.compare_settings = settings
            self._recompare()

    def set_comparison_use(self, shown: bool, marking: bool) -> None:
        """Who looks at B: the Compare tab is ``shown``; ``marking`` puts its differences on the map and table."""
        if (shown, marking) == (self._compare_shown, self._marking):
            return
        self._compare_shown, self._marking = shown, marking
        self._recompare(keep=True)

    def current_comparison(self) -> Comparison:
        """A against B for the current scenario, also while nobody keeps it up to date (computed once)."""
        if self.comparison is not None:
            return self.comparison
        key = (self._generation, self.compare_settings)
        if self._one_off is None or self._one_off[:2] != key:
            self._one_off = (*key, compare_with(self.evaluation, self.compare_settings))
        return self._one_off[2]

    def _recompare(self, keep: bool = False) -> None:
        """B changed without an edit: recompute it (or drop it) and say so once."""
        if not self.comparing:
            self.comparison = None
        elif not (keep and self.comparison is not None):
            self.comparison = None
            self.comparison = self.current_comparison()
        self.results = Results(self.evaluation, self.comparison, self._marking)
        self.comparison_changed.emit(self.comparison)

    # ----- file state ---------------------------------------------------------

    @property
    def dirty(self) -> bool:
        return not self.undo_stack.isClean()

    def mark_saved(self, path: str) -> None:
        """After a successful save: remember where, and that nothing is unsaved."""
        self.path = path
        self.undo_stack.setClean()
        self.file_state_changed.emit()

    def refuse(self, message: str) -> None:
        """Report an edit that was not applied (the views keep the old value)."""
        self.last_refusal = message
        self.edit_refused.emit(message)

    # ----- selection ----------------------------------------------------------

    def select_vcpus(self, indexes: list[int]) -> None:
        if self._mutating:
            return  # a view echoing a row change; the selection is remapped when it ends
        indexes = sorted({i for i in indexes if 0 <= i < len(self.scenario.vcpus)})
        if indexes != self.selected_vcpus:
            self.selected_vcpus = indexes
            self.vcpu_selection_changed.emit(indexes)

    def select_interrupt(self, row: int) -> None:
        if self._mutating:
            return
        if row >= len(self.scenario.interrupts):
            row = -1
        if row >= 0 and self.selected_destination is not None:
            self.selected_destination = None  # one subject for the Explain dock at a time
            self.destination_selected.emit(None)
        if row != self.selected_interrupt:
            self.selected_interrupt = row
            self.interrupt_selection_changed.emit(row)

    def select_destination(self, message: SweepMessage | None) -> None:
        """Explain one message of the sweep (a heat-map cell) instead of the selected interrupt."""
        if message is not None and self.selected_interrupt >= 0:
            self.selected_interrupt = -1
            self.interrupt_selection_changed.emit(-1)
        if message != self.selected_destination:
            self.selected_destination = message
            self.destination_selected.emit(message)

    def destination_route(self) -> tuple[Interrupt, Route] | None:
        """The selected sweep message routed on the current evaluation (once per edit), or None."""
        message = self.selected_destination
        if message is None:
            return None
        cached = self._destination_route
        if cached is None or cached[:2] != (self._generation, message):
            cached = self._destination_route = (self._generation, message, sweep_message(self.evaluation, message))
        return cached[2]

    @contextmanager
    def _rows_mutation(self, kind: str, remap: Callable[[int], int | None]) -> Iterator[None]:
        """Around a row insert/remove/move: rerun, then move the selection with its rows.

        Selection signals wait until the evaluation matches the new rows, so a
        view that reacts to them never indexes a stale result.
        """
        self._mutating += 1
        try:
            yield
        finally:
            self._mutating -= 1
        # The selection follows its rows before the rerun (views read it on result_changed) ...
        old_vcpus, old_interrupt = self.selected_vcpus, self.selected_interrupt
        if kind == VCPUS:
            self.selected_vcpus = sorted(j for j in (remap(i) for i in old_vcpus) if j is not None)
        elif old_interrupt >= 0:
            j = remap(old_interrupt)
            self.selected_interrupt = -1 if j is None else j
        self.rerun()
        # ... and is announced after it, when the evaluation matches the rows.
        if self.selected_vcpus != old_vcpus:
            self.vcpu_selection_changed.emit(self.selected_vcpus)
        if self.selected_interrupt != old_interrupt:
            self.interrupt_selection_changed.emit(self.selected_interrupt)

    # ----- whole-scenario changes --------------------------------------------

    def set_scenario(self, scenario: Scenario, path: str | None = None) -> None:
        """Replace the scenario (open, import, restore); clears undo history."""
        self.scenario = scenario
        self.path = path
        self.selected_vcpus = []
        self.selected_interrupt = -1
        self.selected_destination = None
        self.compare_settings = CompareSettings.default_for(scenario.kvm)
        self.undo_stack.clear()
        self.kernels.scenario_replaced()
        self.scenario_replaced.emit()
        self.rerun()
        self.file_state_changed.emit()

    # ----- mutators (called by undo commands, see commands.py) -----------------

    def rows(self, kind: str) -> list[Any]:
        return self.scenario.vcpus if kind == VCPUS else self.scenario.interrupts

    def apply_changes(self, changes: list[Change]) -> None:
        """Set fields (each changed row becomes a new object), tell the tables which rows changed, rerun once."""
        self.sweeps.stop_running()  # its sweep is stale from here on
        spans: dict[str, list[int]] = {}
        fresh: set[tuple[str, int]] = set()
        for ch in changes:
            rows = self.rows(ch.kind)
            if (ch.kind, ch.row) not in fresh:
                rows[ch.row] = copy.copy(rows[ch.row])
                fresh.add((ch.kind, ch.row))
            setattr(rows[ch.row], ch.field, ch.value)
            spans.setdefault(ch.kind, []).append(ch.row)
        for kind, rows in spans.items():
            self.rows_changed.emit(kind, min(rows), max(rows))
        self.rerun()

    def set_kvm_field(self, field: str, value: Any) -> None:
        """A KVM setting (``kernel``, ``use_32bit_ids``...) or ``title``/``notes``.

        Title and notes do not change the result, so typing them does not rerun the model.
        """
        if field in ("title", "notes"):
            setattr(self.scenario, field, value)
            self.kvm_changed.emit()
            return
        setattr(self.scenario.kvm, field, value)
        self.kvm_changed.emit()
        self.rerun()

    def insert_rows(self, kind: str, row: int, items: list[Any]) -> None:
        self.insert_blocks(kind, [(row, items)])

    def insert_blocks(self, kind: str, blocks: list[tuple[int, list[Any]]]) -> None:
        """Insert runs of rows, each at its final index (ascending): one rerun for all."""
        blocks = [(row, items) for row, items in sorted(blocks, key=lambda b: b[0]) if items]
        if not blocks:
            return
        new_rows = {row + k for row, items in blocks for k in range(len(items))}
        total = len(self.rows(kind)) + len(new_rows)
        kept = [j for j in range(total) if j not in new_rows]  # old row i ends up at kept[i]
        with self._rows_mutation(kind, lambda i: kept[i]):
            target = self.rows(kind)
            for row, items in blocks:
                self.rows_about_to_be_inserted.emit(kind, row, row + len(items) - 1)
                target[row:row] = items
                self.rows_inserted.emit(kind)

    def remove_rows(self, kind: str, rows: list[int]) -> list[Any]:
        """Remove rows (any order, any gaps); returns the items in ascending row order."""
        items = self.rows(kind)
        wanted = sorted(set(rows))
        removed = [items[r] for r in wanted]
        gone = set(wanted)
        with self._rows_mutation(kind, lambda i: None if i in gone else i - bisect_left(wanted, i)):
            for first, last in reversed(_blocks(wanted)):
                self.rows_about_to_be_removed.emit(kind, first, last)
                del items[first:last + 1]
                self.rows_removed.emit(kind)
        return removed

    def move_row(self, kind: str, src: int, dst: int) -> None:
        """Move one row so that it ends up at index ``dst`` (creation order changes)."""
        if src == dst:
            return

        def remap(i: int) -> int:
            if i == src:
                return dst
            if src < i <= dst:
                return i - 1
            if dst <= i < src:
                return i + 1
            return i

        with self._rows_mutation(kind, remap):
            self.rows_about_to_be_moved.emit(kind, src, dst)
            items = self.rows(kind)
            items.insert(dst, items.pop(src))
            self.rows_moved.emit(kind)


def _blocks(rows: list[int]) -> list[tuple[int, int]]:
    """Sorted row numbers -> contiguous (first, last) blocks."""
    out: list[tuple[int, int]] = []
    for r in rows:
        if out and out[-1][1] == r - 1:
            out[-1] = (out[-1][0], r)
        else:
            out.append((r, r))
    return out
