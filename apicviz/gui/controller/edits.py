"""Validated edits: build an undo command, try it on a copy, push it or refuse it.

Every view edits through these functions. A change that would break a
scenario rule (duplicate vCPU ID, a hardware-disabled or missing interrupt
source, an 8-bit ICR destination above 0xff, an MSI above 0xff without 32-bit
IDs, SMM off before 6.2) is refused with the model's own message; the
scenario and the undo stack stay as they were.
"""
from __future__ import annotations

from dataclasses import replace
from typing import Any

from ...model import Interrupt, ScenarioError, Vcpu, check_scenario
from ...model.numbers import fmt_id
from ...model.scenario import MAX_VCPU_ID
from ..viewmodels.columns import INTERRUPT_COLUMNS, VCPU_COLUMNS, Column
from .commands import (
    InsertRowsCommand,
    MoveRowCommand,
    RemoveRowsCommand,
    ScenarioCommand,
    SetKvmCommand,
    SetValuesCommand,
)
from .controller import INTERRUPTS, VCPUS, Change, Controller, snapshot

KVM_LABELS = {
    "use_32bit_ids": "32-bit x2APIC IDs (KVM_X2APIC_API_USE_32BIT_IDS)",
    "disable_broadcast_quirk": "disable broadcast quirk (KVM_X2APIC_API_DISABLE_BROADCAST_QUIRK)",
    "vector_hashing": "vector hashing (kvm.vector_hashing)",
    "map_alloc_fails": "forced map allocation failure",
    "smm": "KVM built with SMM (CONFIG_KVM_SMM)",
}


def columns_of(kind: str) -> tuple[Column, ...]:
    return VCPU_COLUMNS if kind == VCPUS else INTERRUPT_COLUMNS


def column_of(kind: str, key: str) -> Column:
    return next(c for c in columns_of(kind) if c.key == key)


def row_label(controller: Controller, kind: str, row: int) -> str:
    if kind == VCPUS:
        return f"vCPU {fmt_id(controller.scenario.vcpus[row].id)}"
    return f"interrupt {row}"


def push(controller: Controller, command: ScenarioCommand) -> bool:
    """Push ``command`` if the scenario stays valid, else refuse with the rule it breaks."""
    trial = snapshot(controller.scenario)  # commands preview copy-on-write, so sharing the rows is safe
    try:
        command.preview(trial)
        check_scenario(trial)
    except ScenarioError as exc:
        controller.refuse(f"Refused: {command.text()} — {exc}")
        return False
    controller.undo_stack.push(command)
    return True


def parse_cell(controller: Controller, kind: str, row: int, key: str, value: Any) -> Any:
    """Parse cell input for ``key``; raises ScenarioError naming ``vcpus[3].xapic_id``."""
    return column_of(kind, key).parse(value, f"{kind}[{row}].{key}")


def set_text(controller: Controller, kind: str, rows: list[int], key: str, value: Any) -> bool:
    """Parse ``value`` as cell input and set it on ``rows``; refusal keeps the old values."""
    if not rows:
        return False
    try:
        parsed = parse_cell(controller, kind, rows[0], key, value)
    except ScenarioError as exc:
        controller.refuse(f"Refused: {exc}")
        return False
    return set_values(controller, kind, rows, key, parsed)


def set_values(controller: Controller, kind: str, rows: list[int], key: str, value: Any) -> bool:
    """Set one field on several rows as one undoable step."""
    items = controller.rows(kind)
    rows = sorted({r for r in rows if 0 <= r < len(items)})
    changes = [Change(kind, r, key, value) for r in rows if getattr(items[r], key) != value]
    if not changes:
        return True
    if kind == VCPUS and key == "id" and len(changes) == 1:
        changes += _follow_id(controller, changes[0].row, value)
    column = column_of(kind, key)
    who = row_label(controller, kind, rows[0]) if len(rows) == 1 else f"{len(rows)} {_plural(kind)}"
    text = f"Set {column.name} of {who} to {column.show(value)}"
    merge_key = (kind, rows[0], key) if len(rows) == 1 else None
    return push(controller, SetValuesCommand(controller, changes, text, merge_key))


def _follow_id(controller: Controller, row: int, new_id: int) -> list[Change]:
    """A new vCPU ID carries its interrupt sources along, and a reset-value xAPIC ID too."""
    vcpu = controller.scenario.vcpus[row]
    out = []
    if vcpu.xapic_id == vcpu.id & 0xFF:
        out.append(Change(VCPUS, row, "xapic_id", new_id & 0xFF))
    for i, irq in enumerate(controller.scenario.interrupts):
        if irq.source == vcpu.id:
            out.append(Change(INTERRUPTS, i, "source", new_id))
    return out


def _plural(kind: str) -> str:
    return "vCPUs" if kind == VCPUS else "interrupts"


# ----- rows ---------------------------------------------------------------------


def next_free_id(controller: Controller, start: int | None = None) -> int:
    used = {v.id for v in controller.scenario.vcpus}
    candidate = start if start is not None else (max(used) + 1 if used else 0)
    while candidate in used and candidate < MAX_VCPU_ID:
        candidate += 1
    return candidate


def new_vcpu(controller: Controller) -> Vcpu:
    """A fresh vCPU like KVM_CREATE_VCPU makes it, in the mode most of the VM uses."""
    vcpus = controller.scenario.vcpus
    mode = "x2apic" if vcpus and sum(v.x2apic_mode for v in vcpus) * 2 > len(vcpus) else "xapic"
    return Vcpu(id=next_free_id(controller), apic=mode)


def add_vcpus(controller: Controller, vcpus: list[Vcpu], row: int | None = None) -> bool:
    """Create vCPUs (appended: the newest vCPU is created last)."""
    if not vcpus:
        return False
    row = len(controller.scenario.vcpus) if row is None else row
    if len(vcpus) == 1:
        text = f"Add vCPU {fmt_id(vcpus[0].id)}"
    else:
        text = f"Add {len(vcpus)} vCPUs ({fmt_id(vcpus[0].id)}..{fmt_id(vcpus[-1].id)})"
    return push(controller, InsertRowsCommand(controller, VCPUS, row, vcpus, text))


def vcpu_pattern(first: int, step: int, count: int, mode: str) -> list[Vcpu]:
    """IDs first, first+step, ... (the "Add N vCPUs" dialog); ScenarioError past the ID range."""
    last = first + step * (count - 1)
    if last > MAX_VCPU_ID:
        raise ScenarioError("vcpus", f"the last ID would be {fmt_id(last)}; allowed 0..{fmt_id(MAX_VCPU_ID)}")
    return [Vcpu(id=first + step * i, apic=mode) for i in range(count)]


def add_interrupt(controller: Controller) -> bool:
    present = [v for v in controller.scenario.vcpus if v.present]
    source = present[0].id if present else None
    irq = Interrupt(name=f"interrupt {len(controller.scenario.interrupts)}", source=source, dest=0, vector=0x30)
    row = len(controller.scenario.interrupts)
    return push(controller, InsertRowsCommand(controller, INTERRUPTS, row, [irq], f"Add interrupt {row}"))


def duplicate_rows(controller: Controller, kind: str, rows: list[int]) -> bool:
    """Copies go right after the last selected row; duplicated vCPUs get unused IDs."""
    items = controller.rows(kind)
    rows = sorted({r for r in rows if 0 <= r < len(items)})
    if not rows:
        return False
    copies = []
    if kind == VCPUS:
        used = {v.id for v in items}
        for r in rows:
            v = items[r]
            new_id = v.id + 1
            while new_id in used and new_id < MAX_VCPU_ID:
                new_id += 1
            used.add(new_id)
            xapic = new_id & 0xFF if v.xapic_id == v.id & 0xFF else v.xapic_id
            copies.append(replace(v, id=new_id, xapic_id=xapic))
        what = (f"Duplicate vCPU {fmt_id(items[rows[0]].id)} as {fmt_id(copies[0].id)}" if len(rows) == 1
                else f"Duplicate {len(rows)} vCPUs")
    else:
        copies = [replace(items[r]) for r in rows]
        what = f"Duplicate interrupt {rows[0]}" if len(rows) == 1 else f"Duplicate {len(rows)} interrupts"
    return push(controller, InsertRowsCommand(controller, kind, rows[-1] + 1, copies, what))


def remove_rows(controller: Controller, kind: str, rows: list[int]) -> bool:
    items = controller.rows(kind)
    rows = sorted({r for r in rows if 0 <= r < len(items)})
    if not rows:
        return False
    what = f"Remove {row_label(controller, kind, rows[0])}" if len(rows) == 1 else f"Remove {len(rows)} {_plural(kind)}"
    return push(controller, RemoveRowsCommand(controller, kind, rows, what))


def move_rows(controller: Controller, kind: str, rows: list[int], delta: int) -> bool:
    """Move a block of adjacent rows one step up (-1) or down (+1)."""
    items = controller.rows(kind)
    rows = sorted(set(rows))
    if not rows or delta not in (-1, 1):
        return False
    if rows[-1] - rows[0] != len(rows) - 1:
        controller.refuse("Refused: select adjacent rows to move them together")
        return False
    first, last = rows[0], rows[-1]
    if (delta < 0 and first == 0) or (delta > 0 and last >= len(items) - 1):
        return False
    who = row_label(controller, kind, first) if len(rows) == 1 else f"{len(rows)} {_plural(kind)}"
    text = f"Move {who} {'up' if delta < 0 else 'down'}"
    # Moving a block up by one is moving the row above it to below the block (and vice versa).
    src, dst = (first - 1, last) if delta < 0 else (last + 1, first)
    return push(controller, MoveRowCommand(controller, kind, src, dst, text))


# ----- KVM side -----------------------------------------------------------------


def set_kvm(controller: Controller, field: str, value: Any) -> bool:
    """Kernel, x2APIC API flags, module parameters, title and notes."""
    holder = controller.scenario if field in ("title", "notes") else controller.scenario.kvm
    if getattr(holder, field) == value:
        return True
    if field == "kernel":
        text = f"Set kernel to {value}"
    elif field in ("title", "notes"):
        text = f"Edit {field}"
    else:
        text = f"Turn {'on' if value else 'off'} {KVM_LABELS.get(field, field)}"
    return push(controller, SetKvmCommand(controller, field, value, text))
