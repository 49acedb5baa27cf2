"""File > Examples: the teaching scenarios shipped as package data (``apicviz/resources/examples``)."""
from __future__ import annotations

import json
from pathlib import Path

from PySide6.QtWidgets import QMenu, QMessageBox, QWidget

from ...model import ScenarioError, load_scenario
from ...resources import example_files
from ..controller.controller import Controller


def example_title(path: Path) -> str:
    try:
        return json.loads(path.read_text(encoding="utf-8")).get("title") or path.name
    except (OSError, ValueError):
        return path.name


def build_examples_menu(parent: QWidget, controller: Controller, may_replace, files=None) -> QMenu:
    """A menu entry per example; opening one never ties the window to the shipped file.

    ``files`` (the window's FileActions) learns which example is open, for the title and Save.
    """
    menu = QMenu("&Examples", parent)
    files = example_files()
    if not files:
        menu.addAction("(no examples found)").setEnabled(False)
    for path in files:
        action = menu.addAction(example_title(path))
        action.setStatusTip(path.name)
        action.triggered.connect(
            lambda _checked=False, p=path: open_example(parent, controller, p, may_replace, files=files))
    return menu


def open_example(parent: QWidget, controller: Controller, path: Path, may_replace=lambda: True,
                 files=None) -> bool:
    """Show a shipped example as an unsaved scenario (Save asks for a name); its lesson shows beside it."""
    if files is None:
        files = getattr(parent, "files", None)
    if not may_replace():
        return False
    try:
        scenario = load_scenario(path)
    except ScenarioError as exc:
        QMessageBox.critical(parent, "Cannot open example", f"{path}\n\n{exc}")
        return False
    controller.set_scenario(scenario, None)
    if files is not None:
        files.opened_example(path)
    return True
