"""File menu behaviour: new, open, save, save as, recent files, unsaved-changes prompt.

A file that cannot be read or is invalid leaves the current scenario as it
was and says which field is wrong; a failed save (read-only folder, full
disk) keeps the unsaved state so nothing is lost.
"""
from __future__ import annotations

import os
from pathlib import Path

from PySide6.QtCore import QObject, QStandardPaths, Signal
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QFileDialog, QMenu, QMessageBox, QWidget

from ... import resources
from ...model import Scenario, ScenarioError, Vcpu, load_scenario, save_scenario
from ...model.errors import dialog_text
from ...model.safe_write import ReadOnlyFile, check_target
from ..controller.controller import Controller
from . import settings

FILE_FILTER = "apicviz scenarios and pictures (*.apicviz.json *.json *.png);;All files (*)"
SAVE_FILTER = "apicviz scenarios (*.apicviz.json *.json);;All files (*)"
SUFFIX = ".apicviz.json"


def is_picture(path: str) -> bool:
    """A PNG exported by apicviz: it opens as its embedded scenario but is never saved over."""
    try:
        with open(path, "rb") as handle:
            return handle.read(8) == b"\x89PNG\r\n\x1a\n"
    except OSError:
        return False


def may_replace(window: QWidget, path: str) -> bool | None:
    """Whether a save may replace ``path``: False (not read-only), True (read-only, the user agreed), None (declined).

    A device, directory or FIFO raises ScenarioError, for the caller's error box.
    """
    try:
        check_target(path)
    except ReadOnlyFile:
        answer = QMessageBox.question(
            window, "Replace a read-only file?",
            dialog_text(f"{path} is read-only.", "Replace it anyway? The new file stays read-only."),
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No, QMessageBox.StandardButton.No)
        return True if answer == QMessageBox.StandardButton.Yes else None
    return False


def display_name(path: str | None) -> str:
    return os.path.basename(path) if path else "untitled"


def is_shipped(path: str | os.PathLike[str] | None) -> bool:
    """A file inside the installed apicviz package (a shipped example): never written to."""
    if not path:
        return False
    try:
        package = Path(resources.__file__).resolve().parents[1]
        return Path(path).resolve().is_relative_to(package)
    except (OSError, ValueError):
        return False


def example_stem(path: str | os.PathLike[str]) -> str:
    """``02-aliased-xapic-id-6.1`` for ``.../02-aliased-xapic-id-6.1.apicviz.json``."""
    name = Path(path).name
    for suffix in (SUFFIX, ".json"):
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return name


def documents_dir() -> str:
    """Where Save As starts for a scenario that has no file of its own yet."""
    found = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.DocumentsLocation)
    return found if found and os.path.isdir(found) else os.path.expanduser("~")


class FileActions(QObject):
    """Owns the File menu actions; the main window only places them."""

    #: A one-line report for the status bar ("Saved x.apicviz.json").
    message = Signal(str)

    def __init__(self, controller: Controller, window: QWidget) -> None:
        super().__init__(window)
        self.controller = controller
        self.window = window
        self.new = self._action("&New", QKeySequence.StandardKey.New, self.new_scenario)
        self.open = self._action("&Open…", QKeySequence.StandardKey.Open, self.open_dialog)
        self.save = self._action("&Save", QKeySequence.StandardKey.Save, self.save_file)
        self.save_as = self._action("Save &As…", QKeySequence("Ctrl+Shift+S"), self.save_file_as)
        self.quit = self._action("&Quit", QKeySequence.StandardKey.Quit, window.close)
        self.recent_menu = QMenu("Open &Recent", window)
        self.recent_menu.aboutToShow.connect(self.rebuild_recent_menu)
        self.rebuild_recent_menu()
        #: The shipped example the current scenario came from (its file stem), or None.
        self.example_name: str | None = None
        controller.scenario_replaced.connect(self._on_scenario_replaced)

    def _on_scenario_replaced(self) -> None:
        self.example_name = None  # set again by open_example right after, when it is one

    def opened_example(self, path: str | os.PathLike[str]) -> None:
        """The scenario now shown is the shipped example ``path``: Save will ask for a new name."""
        self.example_name = example_stem(path)
        self.controller.file_state_changed.emit()

    def _action(self, text: str, shortcut, slot) -> QAction:
        action = QAction(text, self.window)
        action.setShortcut(QKeySequence(shortcut))
        action.triggered.connect(lambda _checked=False: slot())
        return action

    # ----- recent files ------------------------------------------------------

    def rebuild_recent_menu(self) -> None:
        self.recent_menu.clear()
        files = settings.recent_files()
        for i, path in enumerate(files):
            label = f"&{i + 1} {os.path.basename(path)}" if i < 9 else os.path.basename(path)
            action = self.recent_menu.addAction(label)
            action.setToolTip(path)
            action.setStatusTip(path)
            action.triggered.connect(lambda _checked=False, p=path: self.open_path(p))
        if not files:
            self.recent_menu.addAction("(no recent files)").setEnabled(False)
        self.recent_menu.addSeparator()
        clear = self.recent_menu.addAction("Clear list")
        clear.setEnabled(bool(files))
        clear.triggered.connect(self._on_clear_recent)

    def _on_clear_recent(self) -> None:
        settings.clear_recent()
        self.rebuild_recent_menu()

    # ----- prompts -----------------------------------------------------------

    def maybe_save(self) -> bool:
        """True when it is fine to drop the current scenario (saved, discarded, or clean)."""
        if not self.controller.dirty:
            return True
        answer = QMessageBox.question(
            self.window, "Unsaved changes",
            f"{display_name(self.controller.path)} has unsaved changes. Save them first?",
            QMessageBox.StandardButton.Save | QMessageBox.StandardButton.Discard | QMessageBox.StandardButton.Cancel,
            QMessageBox.StandardButton.Save,
        )
        if answer == QMessageBox.StandardButton.Save:
            return self.save_file()
        return answer == QMessageBox.StandardButton.Discard

    # ----- commands ----------------------------------------------------------

    def new_scenario(self) -> bool:
        if not self.maybe_save():
            return False
        self.controller.set_scenario(Scenario(vcpus=[Vcpu(id=0)]), None)
        self.message.emit("New scenario")
        return True

    def open_dialog(self) -> bool:
        if not self.maybe_save():
            return False
        start = os.path.dirname(self.controller.path) if self.controller.path else ""
        path, _filter = QFileDialog.getOpenFileName(self.window, "Open scenario", start, FILE_FILTER)
        return self.open_path(path, ask=False) if path else False

    def open_path(self, path: str, ask: bool = True) -> bool:
        """Load ``path``; on error keep the current scenario and name the bad field.

        A shipped example opened by its path is shown as the example: it is not the user's file.
        """
        if ask and not self.maybe_save():
            return False
        if is_shipped(path) and not is_picture(path):
            from .examples_menu import open_example

            return open_example(self.window, self.controller, Path(path), files=self)
        try:
            scenario = load_scenario(path)
        except ScenarioError as exc:
            QMessageBox.critical(self.window, "Cannot open scenario",
                                 dialog_text(f"{path}\n\n{exc}", "The current scenario is unchanged."))
            self.message.emit(f"Not opened: {os.path.basename(path)}: {exc}")
            return False
        if is_picture(path):
            self.controller.set_scenario(scenario, None)
            self.message.emit(f"Opened the scenario embedded in {path}; Save As keeps it as a scenario file")
        else:
            self.controller.set_scenario(scenario, os.path.abspath(path))
            self.message.emit(f"Opened {path}")
        settings.add_recent(path)
        return True

    def save_file(self) -> bool:
        """Save; without a file of its own (new, picture, shipped example) this is Save As."""
        if self.controller.path is None or is_shipped(self.controller.path):
            return self.save_file_as()
        return self.write(self.controller.path)

    def suggested_path(self) -> str:
        """Where Save As starts: the file itself, or a fresh name in the documents folder."""
        path = self.controller.path
        if path and not is_shipped(path):
            return path
        stem = self.example_name or (example_stem(path) if path else "untitled")
        return os.path.join(documents_dir(), stem + SUFFIX)

    def save_file_as(self) -> bool:
        while True:
            path, _filter = QFileDialog.getSaveFileName(self.window, "Save scenario as", self.suggested_path(),
                                                        SAVE_FILTER)
            if not path:
                return False
            if not path.endswith(".json"):
                path += SUFFIX
            if not is_shipped(path):
                return self.write(path)
            QMessageBox.warning(self.window, "Choose another folder",
                                f"{path}\n\nThis folder belongs to the installed apicviz package; the shipped "
                                "examples stay as they are. Save your copy somewhere else.")

    def write(self, path: str) -> bool:
        """Atomic save; on failure show why and stay unsaved."""
        try:
            replace = may_replace(self.window, path)
            if replace is None:
                self.message.emit(f"Not saved: {display_name(path)} is read-only")
                return False
            save_scenario(self.controller.scenario, path, replace_read_only=replace)
        except (OSError, ScenarioError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            QMessageBox.critical(self.window, "Cannot save scenario",
                                 f"{path}\n\n{reason}\n\nYour changes are still open and unsaved; "
                                 f"use Save As to pick another place.")
            self.message.emit(f"Not saved: {reason}")
            return False
        self.controller.mark_saved(os.path.abspath(path))
        settings.add_recent(path)
        self.message.emit(f"Saved {path}")
        return True
