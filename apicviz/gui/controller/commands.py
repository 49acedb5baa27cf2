"""Undo commands: every user edit is one of these, with text a person can read.

A command replays through the controller's public mutators (which emit the
row signals the tables need). ``preview`` applies the same change to a plain
copy of the scenario, so :mod:`.edits` can refuse an edit that would make the
scenario invalid before anything is pushed.
"""
from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Any

from PySide6.QtGui import QUndoCommand

from ...model import Scenario
from .controller import INTERRUPTS, VCPUS, Change

if TYPE_CHECKING:
    from .controller import Controller

#: QUndoCommand.id() of commands that may merge with the previous one.
MERGE_ID = 0x41504943


def _rows(scenario: Scenario, kind: str) -> list[Any]:
    return scenario.vcpus if kind == VCPUS else scenario.interrupts


def _cells(changes: list[Change]) -> set[tuple[str, int, str]]:
    return {(c.kind, c.row, c.field) for c in changes}


def _copy(item: Any) -> Any:
    return replace(item)


class ScenarioCommand(QUndoCommand):
    """Base: keeps the controller and offers ``preview`` for validation."""

    def __init__(self, controller: Controller, text: str) -> None:
        super().__init__(text)
        self.controller = controller

    def preview(self, scenario: Scenario) -> None:  # pragma: no cover - overridden
        raise NotImplementedError


class SetValuesCommand(ScenarioCommand):
    """Set fields of rows (one cell, a column over a selection, or an ID and its uses).

    Commands with the same ``merge_key`` (one cell typed again and again) merge.
    """

    def __init__(self, controller: Controller, new: list[Change], text: str, merge_key: tuple | None = None) -> None:
        super().__init__(controller, text)
        self.new = new
        self.old = [Change(c.kind, c.row, c.field, getattr(_rows(controller.scenario, c.kind)[c.row], c.field))
                    for c in new]
        self.merge_key = merge_key

    def preview(self, scenario: Scenario) -> None:
        for c in self.new:
            rows = _rows(scenario, c.kind)
            rows[c.row] = replace(rows[c.row], **{c.field: c.value})  # the trial shares the live rows

    def redo(self) -> None:
        self.controller.apply_changes(self.new)

    def undo(self) -> None:
        self.controller.apply_changes(self.old)

    def id(self) -> int:
        return MERGE_ID if self.merge_key is not None else -1

    def mergeWith(self, other: QUndoCommand) -> bool:
        if not isinstance(other, SetValuesCommand) or other.merge_key != self.merge_key:
            return False
        if _cells(other.new) != _cells(self.new):  # e.g. an ID edit that carried other fields along
            return False
        self.new = other.new
        self.setText(other.text())
        if self.new == self.old:
            self.setObsolete(True)
        return True


class SetKvmCommand(ScenarioCommand):
    """A KVM setting, or the title / notes (those merge while typing)."""

    def __init__(self, controller: Controller, field: str, value: Any, text: str) -> None:
        super().__init__(controller, text)
        self.field = field
        self.new = value
        holder = controller.scenario if field in ("title", "notes") else controller.scenario.kvm
        self.old = getattr(holder, field)

    def preview(self, scenario: Scenario) -> None:
        setattr(scenario if self.field in ("title", "notes") else scenario.kvm, self.field, self.new)

    def redo(self) -> None:
        self.controller.set_kvm_field(self.field, self.new)

    def undo(self) -> None:
        self.controller.set_kvm_field(self.field, self.old)

    def id(self) -> int:
        return MERGE_ID + 1 if self.field in ("title", "notes") else -1

    def mergeWith(self, other: QUndoCommand) -> bool:
        if not isinstance(other, SetKvmCommand) or other.field != self.field:
            return False
        self.new = other.new
        if self.new == self.old:
            self.setObsolete(True)
        return True


class InsertRowsCommand(ScenarioCommand):
    """Add, duplicate, or "Add N vCPUs": new rows at ``row``."""

    def __init__(self, controller: Controller, kind: str, row: int, items: list[Any], text: str) -> None:
        super().__init__(controller, text)
        self.kind = kind
        self.row = row
        self.items = [_copy(i) for i in items]

    def preview(self, scenario: Scenario) -> None:
        _rows(scenario, self.kind)[self.row:self.row] = [_copy(i) for i in self.items]

    def redo(self) -> None:
        self.controller.insert_rows(self.kind, self.row, [_copy(i) for i in self.items])

    def undo(self) -> None:
        self.controller.remove_rows(self.kind, list(range(self.row, self.row + len(self.items))))


class RemoveRowsCommand(ScenarioCommand):
    """Remove any set of rows; undo puts each back at its old index."""

    def __init__(self, controller: Controller, kind: str, rows: list[int], text: str) -> None:
        super().__init__(controller, text)
        self.kind = kind
        self.rows = sorted(set(rows))
        self.items: list[Any] = []

    def preview(self, scenario: Scenario) -> None:
        items = _rows(scenario, self.kind)
        for r in reversed(self.rows):
            del items[r]

    def redo(self) -> None:
        self.items = self.controller.remove_rows(self.kind, self.rows)

    def undo(self) -> None:
        # Ascending re-insertion restores the original indexes; contiguous runs go in at once.
        blocks: list[tuple[int, list[Any]]] = []
        for row, item in zip(self.rows, self.items, strict=True):
            if blocks and blocks[-1][0] + len(blocks[-1][1]) == row:
                blocks[-1][1].append(item)
            else:
                blocks.append((row, [item]))
        self.controller.insert_blocks(self.kind, blocks)


class MoveRowCommand(ScenarioCommand):
    """Move one row to a new index: for vCPUs, a different creation order."""

    def __init__(self, controller: Controller, kind: str, src: int, dst: int, text: str) -> None:
        super().__init__(controller, text)
        self.kind = kind
        self.src = src
        self.dst = dst

    def preview(self, scenario: Scenario) -> None:
        items = _rows(scenario, self.kind)
        items.insert(self.dst, items.pop(self.src))

    def redo(self) -> None:
        self.controller.move_row(self.kind, self.src, self.dst)

    def undo(self) -> None:
        self.controller.move_row(self.kind, self.dst, self.src)


__all__ = [
    "INTERRUPTS", "VCPUS", "InsertRowsCommand", "MoveRowCommand", "RemoveRowsCommand", "ScenarioCommand",
    "SetKvmCommand", "SetValuesCommand",
]
