"""GUI test fixtures: offscreen Qt, settings in a temp folder, dialogs that never block."""
from __future__ import annotations

import os

#: Two offscreen screens the layout tests fit to: a 1280x800 laptop and a 1920x1080 projector beside it.
SCREENS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "screens.json")
if os.environ.get("QT_QPA_PLATFORM", "offscreen") == "offscreen":
    os.environ["QT_QPA_PLATFORM"] = f"offscreen:configfile={SCREENS}"

from dataclasses import dataclass, field  # noqa: E402

import pytest  # noqa: E402
from PySide6.QtCore import QSettings  # noqa: E402
from PySide6.QtWidgets import QMessageBox  # noqa: E402

#: The offscreen platform warns about window-manager hints it cannot honour.
OFFSCREEN_NOISE = "This plugin does not support propagateSizeHints"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/gui" in str(item.fspath).replace(os.sep, "/"):
            item.add_marker(pytest.mark.qt_log_ignore(OFFSCREEN_NOISE))


@dataclass
class Dialogs:
    """Every QMessageBox shown during a test, and the answer to give to questions."""

    shown: list[tuple[str, str, str]] = field(default_factory=list)
    answer: QMessageBox.StandardButton = QMessageBox.StandardButton.Discard

    def texts(self, kind: str | None = None) -> list[str]:
        return [f"{title}\n{text}" for k, title, text in self.shown if kind is None or k == kind]


@pytest.fixture(autouse=True)
def settings_dir(tmp_path, qapp):
    """QSettings of the app go to a temp folder: tests never see or touch the user's settings."""
    path = tmp_path / "settings"
    path.mkdir()
    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, str(path))
    return path


@pytest.fixture(autouse=True)
def app_data_dir(tmp_path, monkeypatch):
    """Autosaves go to a temp folder too (never the user's app-data folder)."""
    from apicviz.gui.shell import autosave

    folder = tmp_path / "appdata"
    monkeypatch.setattr(autosave, "autosave_dir", lambda: folder)
    return folder


@pytest.fixture(autouse=True)
def dialogs(monkeypatch) -> Dialogs:
    """Replace the static QMessageBox helpers so no modal dialog can block a test."""
    record = Dialogs()

    def recorder(kind: str):
        def show(parent, title, text, *args, **kwargs):
            record.shown.append((kind, title, text))
            return record.answer if kind == "question" else QMessageBox.StandardButton.Ok
        return show

    for kind in ("critical", "warning", "information", "question"):
        monkeypatch.setattr(QMessageBox, kind, staticmethod(recorder(kind)))
    monkeypatch.setattr(QMessageBox, "about", staticmethod(lambda parent, title, text: record.shown.append(
        ("about", title, text))))
    return record


@pytest.fixture
def window(qtbot):
    from apicviz.gui.shell.app import create_main_window

    w = create_main_window()
    qtbot.addWidget(w)
    return w


@pytest.fixture
def controller(window):
    return window.controller
