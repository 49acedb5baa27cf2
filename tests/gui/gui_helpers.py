"""Small helpers for driving the tables the way a delegate or a user would."""
from __future__ import annotations

from PySide6.QtCore import QModelIndex, Qt

from apicviz.gui.viewmodels.columns import column_index


def cell(model, row: int, key: str) -> QModelIndex:
    return model.index(row, column_index(model.columns, key))


def text(model, row: int, key: str) -> str:
    return model.data(cell(model, row, key), Qt.ItemDataRole.DisplayRole)


def edit(model, row: int, key: str, value) -> bool:
    """What a delegate does when the user presses Enter in a cell."""
    return model.setData(cell(model, row, key), value, Qt.ItemDataRole.EditRole)


def phys_map_ids(controller) -> dict[int, int]:
    """phys_map as APIC ID slot -> vCPU id (not index), or {} without a map."""
    ev = controller.evaluation
    if ev.result.map is None:
        return {}
    return {slot: ev.scenario.vcpus[i].id for slot, i in ev.result.map.phys_map.items()}
