"""Autosave: after edits the scenario is copied to the app-data folder; a crash loses nothing.

The copy is removed when the user saves or discards on a clean exit, so its
presence at start means the last session ended abnormally (crash, kill,
power loss) and the next start offers to restore it.
"""
from __future__ import annotations

import contextlib
import json
import os
from pathlib import Path

import shiboken6
from PySide6.QtCore import QObject, QStandardPaths, QTimer, Signal

from ...model import Scenario, ScenarioError, scenario_from_dict
from ...model.scenario_file import atomic_write, scenario_to_dict
from ..controller.controller import Controller

AUTOSAVE_NAME = "autosave.apicviz.json"


def autosave_dir() -> Path:
    base = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.AppDataLocation)
    return Path(base or os.path.expanduser("~/.local/share/apicviz"))


def autosave_path() -> Path:
    return autosave_dir() / AUTOSAVE_NAME


def read_autosave(path: Path | None = None) -> tuple[Scenario, str | None] | None:
    """The scenario left by an interrupted session and the file it belonged to, if any."""
    path = path or autosave_path()
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
        return scenario_from_dict(raw["scenario"]), raw.get("path")
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError, ScenarioError):
        return None


def discard_autosave(path: Path | None = None) -> None:
    with contextlib.suppress(OSError):
        (path or autosave_path()).unlink()


class Autosaver(QObject):
    """Writes the controller's scenario a moment after each edit (coalesced)."""

    #: An autosave could not be written (message for the status bar).
    failed = Signal(str)

    def __init__(self, controller: Controller, path: Path | None = None, delay_ms: int = 1500) -> None:
        super().__init__(controller)
        self.controller = controller
        self.path = path or autosave_path()
        self.timer = QTimer(self)
        self.timer.setSingleShot(True)
        self.timer.setInterval(delay_ms)
        self.timer.timeout.connect(self.save_now)
        controller.undo_stack.indexChanged.connect(self._on_edited)
        controller.undo_stack.cleanChanged.connect(self._on_clean_changed)

    def _on_edited(self, _index: int) -> None:
        stack = self.controller.undo_stack
        if not shiboken6.isValid(stack):  # the stack announces its own teardown
            return
        if not stack.isClean():
            self.timer.start()

    def _on_clean_changed(self, clean: bool) -> None:
        if clean:
            self.timer.stop()
            discard_autosave(self.path)

    def save_now(self) -> None:
        data = {"scenario": scenario_to_dict(self.controller.scenario), "path": self.controller.path}
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            atomic_write(self.path, json.dumps(data).encode("utf-8"))
        except OSError as exc:
            self.failed.emit(f"Autosave failed ({exc.strerror or exc}); your edits are still in memory — save soon.")

    def discard(self) -> None:
        self.timer.stop()
        discard_autosave(self.path)
