"""The controller: holds the current scenario, applies edits, reruns the model.

Views take the controller in ``__init__`` and subscribe to its signals; they
never write the scenario themselves: edits go through the undo commands in
``commands.py``, which call the public mutators here (``apply_changes``,
``set_kvm_field``, ``insert_rows``...). The mutators emit the fine-grained row
signals the table models need; nothing else should call them, or the edit
escapes the undo history.
"""
from __future__ import annotations

import threading
from bisect import bisect_left
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import QObject, Qt, QTimer, Signal
from PySide6.QtGui import QUndoStack

from ...model import Evaluation, Scenario, evaluate
from ...model.sweep import SweepResult, sweep

#: From this many vCPUs on, the sweep (hundreds of ms at 4096) runs in a worker thread.
BACKGROUND_SWEEP_VCPUS = 512

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


class Controller(QObject):
    #: The model was rerun: every view that shows results repaints from this.
    result_changed = Signal(object)  # Evaluation
    #: The destination sweep finished (it runs just after result_changed, coalesced).
    sweep_changed = Signal(object)  # SweepResult
    #: Internal: a background sweep finished (result or None, generation).
    _sweep_done = Signal(object, int)
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
    #: The Compare dock's result (a model.compare.Comparison) or None when no comparison is shown.
    comparison_changed = Signal(object)

    def __init__(self, scenario: Scenario | None = None, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.scenario: Scenario = scenario or Scenario()
        self.path: str | None = None
        self.undo_stack = QUndoStack(self)
        # A bound method, not a lambda: Qt drops the connection when the controller dies, before the
        # stack's destructor emits cleanChanged one last time.
        self.undo_stack.cleanChanged.connect(self._on_clean_changed)
        self.evaluation: Evaluation = evaluate(self.scenario)
        self.sweep_result: SweepResult | None = None
        self.selected_vcpus: list[int] = []
        self.selected_interrupt: int = -1
        self.comparison = None
        self.last_refusal: str = ""
        self._mutating = 0
        self._generation = 0
        self._sweep_fresh = False
        self._worker: threading.Thread | None = None
        self._sweep_done.connect(self._on_sweep_done, Qt.ConnectionType.QueuedConnection)
        self._sweep_timer = QTimer(self)
        self._sweep_timer.setSingleShot(True)
        self._sweep_timer.setInterval(30)
        self._sweep_timer.timeout.connect(self._run_sweep)

    def _on_clean_changed(self, _clean: bool) -> None:
        self.file_state_changed.emit()

    # ----- results ------------------------------------------------------------

    def rerun(self) -> None:
        """Re-evaluate after an edit; the sweep follows a moment later, coalesced."""
        self.evaluation = evaluate(self.scenario)
        self._generation += 1
        self._sweep_fresh = False
        self.result_changed.emit(self.evaluation)
        self._sweep_timer.start()

    def _run_sweep(self) -> None:
        """Small VMs sweep at once; big ones in a worker thread so the window never freezes."""
        if len(self.scenario.vcpus) < BACKGROUND_SWEEP_VCPUS:
            self._finish_sweep(sweep(self.evaluation), self._generation)
            return
        if self._worker is not None and self._worker.is_alive():
            return  # it restarts itself for the newest generation when done
        generation, snapshot = self._generation, self.scenario.copy()

        def work() -> None:
            try:
                result = sweep(evaluate(snapshot))
            except Exception:  # never let a background failure escape; the sweep just stays stale
                result = None
            self._sweep_done.emit(result, generation)

        self._worker = threading.Thread(target=work, name="apicviz-sweep", daemon=True)
        self._worker.start()

    def _on_sweep_done(self, result: object, generation: int) -> None:
        self._worker = None
        if generation == self._generation and result is not None:
            self._finish_sweep(result, generation)  # type: ignore[arg-type]
        elif not self._sweep_fresh:
            self._sweep_timer.start()

    def _finish_sweep(self, result: SweepResult, generation: int) -> None:
        if generation != self._generation:
            return
        self.sweep_result = result
        self._sweep_fresh = True
        self.sweep_changed.emit(result)

    def ensure_sweep(self) -> SweepResult:
        """The sweep for the current evaluation, computed now if still pending."""
        if self.sweep_result is None or not self._sweep_fresh:
            self._sweep_timer.stop()
            self._finish_sweep(sweep(self.evaluation), self._generation)
        assert self.sweep_result is not None
        return self.sweep_result

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
        indexes = sorted(set(i for i in indexes if 0 <= i < len(self.scenario.vcpus)))
        if indexes != self.selected_vcpus:
            self.selected_vcpus = indexes
            self.vcpu_selection_changed.emit(indexes)

    def set_comparison(self, comparison) -> None:
        """Publish (or clear, with None) what changes under a second kernel, for the map to mark."""
        self.comparison = comparison
        self.comparison_changed.emit(comparison)

    def select_interrupt(self, row: int) -> None:
        if self._mutating:
            return
        if row >= len(self.scenario.interrupts):
            row = -1
        if row != self.selected_interrupt:
            self.selected_interrupt = row
            self.interrupt_selection_changed.emit(row)

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
        self.undo_stack.clear()
        self.scenario_replaced.emit()
        self.rerun()
        self.file_state_changed.emit()

    # ----- mutators: the undo commands' API (views push commands instead) ------

    def rows(self, kind: str) -> list[Any]:
        return self.scenario.vcpus if kind == VCPUS else self.scenario.interrupts

    def apply_changes(self, changes: list[Change]) -> None:
        """Set fields, tell the tables which rows changed, rerun once."""
        spans: dict[str, list[int]] = {}
        for ch in changes:
            setattr(self.rows(ch.kind)[ch.row], ch.field, ch.value)
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
