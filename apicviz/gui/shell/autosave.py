"""Autosave: every edit is journaled before the window shows it, so a kill -9 loses nothing.

Each window has its own journal (:mod:`.journal`), locked while the window
lives. The undo stack's ``indexChanged`` fires synchronously inside each edit
(push, undo, redo, merge), before the event loop can repaint, and the record
is written right there — there is no quiet-time timer that a steady stream
of edits could starve. When the scenario becomes clean (saved, or undone to
the saved state) the journal is dropped; a clean close removes it and its
lock. A new window offers only journals whose owner is gone
(:func:`offer_restore`), names each (file, time of the last edit, number of
edits), and never touches a live window's.
"""
from __future__ import annotations

import os
import time
from pathlib import Path

import shiboken6
from PySide6.QtCore import QObject, QStandardPaths, Signal
from PySide6.QtWidgets import QMessageBox, QWidget

from ...model.errors import dialog_text
from ..controller.controller import Controller
from .journal import Journal, Orphan, find_orphans

LEGACY_NAME = "autosave.apicviz.json"


def autosave_dir() -> Path:
    base = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.AppDataLocation)
    return Path(base or os.path.expanduser("~/.local/share/apicviz"))


class Autosaver(QObject):
    """Journals the controller's scenario on every edit; owns the window's journal and its lock."""

    #: An autosave could not be written (message for the status bar).
    failed = Signal(str)

    def __init__(self, controller: Controller, folder: Path | None = None) -> None:
        super().__init__(controller)
        self.controller = controller
        self.journal: Journal | None = None
        self._folder = folder or autosave_dir()
        #: Why there is no journal (the folder cannot be written): said again with each edit.
        self.problem: OSError | None = None
        try:
            self.journal = Journal(self._folder)
        except OSError as exc:
            self.problem = exc
        controller.undo_stack.indexChanged.connect(self._on_edited)
        controller.undo_stack.cleanChanged.connect(self._on_clean_changed)
        controller.file_state_changed.connect(self._on_file_state_changed)

    def _on_edited(self, _index: int) -> None:
        stack = self.controller.undo_stack
        if not shiboken6.isValid(stack):  # the stack announces its own teardown
            return
        if not stack.isClean():
            self.record_now()

    def _on_clean_changed(self, clean: bool) -> None:
        if clean and self.journal is not None:
            self.journal.clear()

    def _on_file_state_changed(self) -> None:
        # Restored work is unsaved without an edit (resetClean): journal it as the first record.
        if self.controller.dirty and self.journal is not None and self.journal.edits == 0:
            self.record_now()

    def record_now(self, edits: int | None = None) -> None:
        if self.journal is None:
            if self.problem is not None:
                self._report(self.problem)
            return
        try:
            self.journal.record(self.controller.scenario, self.controller.path, edits)
        except OSError as exc:
            self._report(exc)

    def _report(self, exc: OSError) -> None:
        self.failed.emit(f"Autosave failed ({exc.strerror or exc}); your edits are still in memory — save soon.")

    def discard(self) -> None:
        """A clean close: nothing to restore next time."""
        if self.journal is not None:
            self.journal.close()
            self.journal = None


def describe(orphan: Orphan) -> str:
    """File, time of the last edit and number of edits of an orphaned autosave, in words."""
    found = orphan.found
    name = found.path or "an untitled scenario"
    when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(found.time)) if found.time else "unknown"
    edits = f"{found.edits} unsaved edit{'' if found.edits == 1 else 's'}" if found.edits else "unsaved edits"
    return f"{name}\nlast edit {when}, {edits}, {len(found.scenario.vcpus)} vCPUs"


def offer_restore(window: QWidget, folder: Path | None = None) -> bool:
    """Offer each autosave left by a window that is gone; True when one was restored into ``window``."""
    folder = folder or autosave_dir()
    orphans = find_orphans(folder, legacy=folder / LEGACY_NAME)
    restored = False
    for orphan in orphans:
        try:
            if restored:
                answer = QMessageBox.question(
                    window, "More unsaved work",
                    dialog_text("Another window also ended without saving:", describe(orphan),
                                "Discard deletes it; Cancel keeps it to be offered at the next start."),
                    QMessageBox.StandardButton.Discard | QMessageBox.StandardButton.Cancel,
                    QMessageBox.StandardButton.Cancel)
            else:
                answer = QMessageBox.question(
                    window, "Restore unsaved work?",
                    dialog_text("An apicviz window ended without saving (a crash or a kill):", describe(orphan),
                                "Yes restores it in this window; Discard deletes it; Cancel keeps it to be "
                                "offered at the next start."),
                    QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Discard
                    | QMessageBox.StandardButton.Cancel, QMessageBox.StandardButton.Yes)
            if answer == QMessageBox.StandardButton.Yes and not restored:
                _restore(window, orphan)
                restored = True
                orphan.discard()  # only after this window's own journal holds it
            elif answer == QMessageBox.StandardButton.Discard:
                orphan.discard()
            else:
                orphan.release()
        finally:
            orphan.release()
    return restored


def _restore(window: QWidget, orphan: Orphan) -> None:
    controller: Controller = window.controller  # type: ignore[attr-defined]
    controller.set_scenario(orphan.found.scenario, orphan.found.path)
    controller.undo_stack.resetClean()  # restored work is unsaved work
    autosaver: Autosaver | None = getattr(window, "autosaver", None)
    if autosaver is not None:
        autosaver.record_now(edits=max(1, orphan.found.edits))
    controller.file_state_changed.emit()
    window.show_message("Restored the autosaved scenario — save it to keep it")  # type: ignore[attr-defined]
