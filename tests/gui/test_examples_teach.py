"""Examples teach (issue 10 item 3): title in the window title, lesson in a panel, Save asks for a name."""
from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from gui_helpers import edit
from PySide6.QtWidgets import QFileDialog

from apicviz.gui.shell.app import create_main_window
from apicviz.gui.shell.examples_menu import example_files, open_example
from apicviz.gui.shell.file_actions import is_shipped
from apicviz.model import load_scenario

README = Path(__file__).resolve().parents[2] / "README.md"


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.parametrize("path", example_files(), ids=lambda p: p.name[:2])
def test_an_opened_example_shows_its_title_and_lesson(window, qapp, path):
    window.show()
    assert open_example(window, window.controller, path)
    qapp.processEvents()
    scenario = load_scenario(path)
    assert window.windowTitle().startswith(f"{scenario.title} — example {path.name.split('.apicviz')[0]}")
    shown = window.lesson_view.text()
    assert shown.startswith(scenario.title)
    for paragraph in scenario.notes.split("\n"):
        assert paragraph.strip() in shown
    assert window.lesson_dock.isVisible()
    assert not window.lesson_view.visibleRegion().isEmpty()
    # Not a narrow box: the panel is a good part of the window's width and shows several lines.
    assert window.lesson_view.width() >= 0.3 * window.width()
    assert window.lesson_view.notes.height() >= 4 * window.lesson_view.fontMetrics().height()


def test_first_start_shows_the_example_the_readme_promises(window):
    title = window.controller.scenario.title
    assert window.files.example_name
    assert title
    readme = README.read_text(encoding="utf-8")
    assert f'"{title}"' in readme  # the README names this example for the first start
    assert title in window.lesson_view.text()
    assert window.lesson_dock.isVisibleTo(window)


def test_saving_an_opened_example_asks_for_a_new_name(window, tmp_path, monkeypatch):
    path = example_files()[2]
    before = _digest(path)
    asked = []

    def ask(parent, caption, start, filters):
        asked.append(start)
        return str(tmp_path / "mine.apicviz.json"), ""

    monkeypatch.setattr(QFileDialog, "getSaveFileName", staticmethod(ask))
    open_example(window, window.controller, path)
    edit(window.vcpu_model, 0, "xapic_id", "0x7")
    assert window.files.save_file()  # Save acts as Save As
    assert len(asked) == 1
    assert Path(asked[0]).name == path.name
    assert not is_shipped(asked[0])
    assert window.controller.path == str(tmp_path / "mine.apicviz.json")
    assert load_scenario(tmp_path / "mine.apicviz.json").vcpus[0].xapic_id == 7
    assert _digest(path) == before
    assert window.windowTitle().endswith("— mine.apicviz.json — apicviz")


def test_an_example_opened_by_its_path_is_never_written(window, tmp_path, monkeypatch, dialogs):
    path = example_files()[1]
    before = _digest(path)
    answers = [str(path), str(tmp_path / "copy.apicviz.json")]  # first the package file itself, then elsewhere
    monkeypatch.setattr(QFileDialog, "getSaveFileName", staticmethod(lambda *a, **k: (answers.pop(0), "")))
    assert window.files.open_path(str(path))
    assert window.controller.path is None
    assert window.files.example_name
    edit(window.vcpu_model, 0, "xapic_id", "0x9")
    assert window.files.save_file()
    assert "belongs to the installed apicviz package" in dialogs.texts("warning")[0]
    assert _digest(path) == before
    assert load_scenario(tmp_path / "copy.apicviz.json").vcpus[0].xapic_id == 9


def test_a_shipped_example_named_on_the_command_line_opens_as_the_example(qtbot):
    path = example_files()[3]
    window = create_main_window(str(path))
    qtbot.addWidget(window)
    assert window.controller.path is None
    assert window.files.example_name == path.name.split(".apicviz")[0]
    assert window.files.suggested_path() != str(path)


def test_the_lesson_follows_edits_of_the_notes(window):
    window.kvm_panel.notes.setPlainText("First line.\nSecond line.")
    assert "First line.\nSecond line." in window.lesson_view.text()
    window.controller.undo_stack.undo()
    assert "First line." not in window.lesson_view.text()
    window.lesson_view.edit_button.click()
    assert window.kvm_panel.notes.hasFocus() or not window.isVisible()
