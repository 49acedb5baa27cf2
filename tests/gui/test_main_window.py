"""The window as a user meets it: title, files, recent list, refusals, drag and drop, about."""
from __future__ import annotations

import json
import os

from gui_helpers import edit
from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
from PySide6.QtGui import QDropEvent
from PySide6.QtWidgets import QFileDialog, QMessageBox

from apicviz import __version__
from apicviz.gui.shell import settings
from apicviz.gui.shell.app import create_main_window
from apicviz.model import load_scenario

GOOD = {"format": "apicviz-scenario", "version": 1, "kvm": {"kernel": "5.4"},
        "vcpus": [{"id": 0}, {"id": 1, "apic": "x2apic"}],
        "interrupts": [{"name": "MSI to 1", "dest": 1}]}


def _write(path, data) -> str:
    path.write_text(json.dumps(data) if not isinstance(data, str) else data)
    return str(path)


def test_first_start_shows_the_example_clean(window):
    # The example the README promises, by its title, as a shipped example (Save asks for a name).
    assert window.windowTitle() == ("Aliased xAPIC IDs after a guest rewrote APIC_ID — "
                                    "example 00-aliased-xapic-id-and-hotplug-6.1 — apicviz")
    assert window.files.example_name == "00-aliased-xapic-id-and-hotplug-6.1"
    assert window.controller.path is None
    assert not window.controller.dirty
    assert window.statusBar().currentMessage() == ""  # nothing covers the summary
    assert window.size().width() == 1280
    assert window.size().height() == 800
    assert any(r.dropped for r in window.controller.evaluation.routes)


def test_title_shows_the_unsaved_marker(window):
    title = "Aliased xAPIC IDs after a guest rewrote APIC_ID — example 00-aliased-xapic-id-and-hotplug-6.1"
    edit(window.vcpu_model, 0, "logical_id", "0x3")
    assert window.windowTitle() == f"{title}* — apicviz"
    window.controller.undo_stack.undo()
    assert window.windowTitle() == f"{title} — apicviz"
    window.kvm_panel.title.textEdited.emit("Renamed")  # the scenario's title leads the window title
    assert window.windowTitle().startswith("Renamed — example 00-")


def test_open_save_and_title(window, tmp_path):
    path = _write(tmp_path / "vm.apicviz.json", GOOD)
    assert window.files.open_path(path)
    assert window.windowTitle() == "vm.apicviz.json — apicviz"
    assert window.vcpu_model.rowCount() == 2
    assert window.interrupt_model.rowCount() == 1
    edit(window.vcpu_model, 0, "xapic_id", "0x5")
    assert window.windowTitle() == "vm.apicviz.json* — apicviz"
    window.files.save.trigger()
    assert window.windowTitle() == "vm.apicviz.json — apicviz"
    assert load_scenario(path).vcpus[0].xapic_id == 5
    assert window.summary.kernel.text() == "kernel 5.4 (5.3-6.2)"


def test_malformed_file_keeps_the_scenario_and_names_the_field(window, tmp_path, dialogs):
    bad = dict(GOOD, vcpus=[{"id": 0, "xapic_id": "0x100"}])
    path = _write(tmp_path / "bad.apicviz.json", bad)
    edit(window.vcpu_model, 0, "logical_id", "0x3")  # unsaved work
    before = [v.id for v in window.controller.scenario.vcpus]
    assert not window.files.open_path(path)
    errors = dialogs.texts("critical")
    assert len(errors) == 1
    assert "vcpus[0].xapic_id" in errors[0]
    assert "allowed 0..255" in errors[0]
    assert [v.id for v in window.controller.scenario.vcpus] == before
    assert window.controller.scenario.vcpus[0].logical_id == 3
    assert window.controller.dirty
    assert window.controller.undo_stack.count() == 1


def test_not_json_is_reported(window, tmp_path, dialogs):
    path = _write(tmp_path / "junk.apicviz.json", "{not json")
    assert not window.files.open_path(path)
    assert "not valid JSON" in dialogs.texts("critical")[0]
    assert window.vcpu_model.rowCount() == 5


def test_unsaved_prompt_can_cancel_open(window, tmp_path, dialogs):
    path = _write(tmp_path / "vm.apicviz.json", GOOD)
    edit(window.vcpu_model, 0, "logical_id", "0x3")
    dialogs.answer = QMessageBox.StandardButton.Cancel
    assert not window.files.open_path(path)
    assert dialogs.texts("question")
    assert "unsaved changes" in dialogs.texts("question")[0]
    assert window.vcpu_model.rowCount() == 5
    dialogs.answer = QMessageBox.StandardButton.Discard
    assert window.files.open_path(path)
    assert window.vcpu_model.rowCount() == 2


def test_close_with_unsaved_changes_asks(window, dialogs):
    edit(window.vcpu_model, 0, "logical_id", "0x3")
    dialogs.answer = QMessageBox.StandardButton.Cancel
    assert not window.close()
    dialogs.answer = QMessageBox.StandardButton.Discard
    assert window.close()


def test_save_as_and_read_only_folder(window, tmp_path, monkeypatch, dialogs):
    target = tmp_path / "out"
    target.mkdir()
    monkeypatch.setattr(QFileDialog, "getSaveFileName", staticmethod(
        lambda *a, **k: (str(target / "mine"), "")))
    assert window.files.save_file_as()
    assert window.controller.path == str(target / "mine.apicviz.json")
    assert load_scenario(target / "mine.apicviz.json").kvm.kernel == "6.1"

    edit(window.vcpu_model, 0, "logical_id", "0x3")
    os.chmod(target, 0o500)
    try:
        if os.access(target, os.W_OK):  # running as root: simulate the failure instead
            def fail(*_a, **_k):
                raise PermissionError(13, "Permission denied")
            monkeypatch.setattr("apicviz.gui.shell.file_actions.save_scenario", fail)
        assert not window.files.save_file()
    finally:
        os.chmod(target, 0o700)
    assert "Permission denied" in dialogs.texts("critical")[-1]
    assert window.controller.dirty
    assert window.windowTitle() == "Aliased xAPIC IDs after a guest rewrote APIC_ID — mine.apicviz.json* — apicviz"


def test_recent_files_and_last_file(window, tmp_path, qtbot):
    a = _write(tmp_path / "a.apicviz.json", GOOD)
    b = _write(tmp_path / "b.apicviz.json", GOOD)
    window.files.open_path(a)
    window.files.open_path(b)
    assert settings.recent_files()[:2] == [b, a]
    window.files.rebuild_recent_menu()
    labels = [act.text() for act in window.files.recent_menu.actions()]
    assert labels[:2] == ["&1 b.apicviz.json", "&2 a.apicviz.json"]
    window.files.recent_menu.actions()[1].trigger()
    assert window.controller.path == a
    assert settings.last_file() == a
    # The next start reopens the last file.
    again = create_main_window()
    qtbot.addWidget(again)
    assert again.controller.path == a
    assert again.windowTitle() == "a.apicviz.json — apicviz"


def test_explicit_bad_path_raises_for_the_caller(tmp_path, qtbot):
    import pytest

    from apicviz.model import ScenarioError

    with pytest.raises(ScenarioError, match="vcpus"):
        create_main_window(_write(tmp_path / "x.apicviz.json", "{}"))


def test_geometry_and_docks_are_remembered(window, qtbot, settings_dir):
    window.resize(1200, 700)
    window.interrupt_dock.hide()
    window.save_layout()
    again = create_main_window()
    qtbot.addWidget(again)
    # The offscreen screen is small, so Qt may fit the width to it; the height is kept.
    assert again.size().height() == 700
    assert again.size().width() < 1280
    assert not again.interrupt_dock.isVisibleTo(again)
    assert any(settings_dir.rglob("*.ini"))


def test_new_scenario(window):
    assert window.files.new_scenario()
    assert window.vcpu_model.rowCount() == 1
    assert window.interrupt_model.rowCount() == 0
    assert window.windowTitle() == "untitled — apicviz"


def test_drop_a_file_opens_it(window, tmp_path):
    path = _write(tmp_path / "dropped.apicviz.json", GOOD)
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(path)])
    event = QDropEvent(QPointF(10, 10), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                       Qt.KeyboardModifier.NoModifier)
    window.dropEvent(event)
    assert window.controller.path == path
    assert window.vcpu_model.rowCount() == 2


def test_refusal_shows_in_the_status_bar(window):
    edit(window.vcpu_model, 0, "xapic_id", "0x100")
    message = window.statusBar().currentMessage()
    assert "Refused" in message
    assert "allowed 0..255" in message


def test_status_bar_summary(window, qtbot):
    summary = window.summary.text()
    for part in ("kernel 6.1 (5.3-6.2)", "map: optimized", "logical: flat", "inhibits: none",
                 "aliased IDs: 1", "DROPPED: 1 of 4 interrupts"):
        assert part in summary
    window.controller.ensure_sweep()
    # Physical 0x2 misses vCPU 0x3 (MSI and xAPIC IPI, one row; and a PV IPI, its own row); PV IPIs to
    # 0x100..0x102 miss the xAPIC vCPUs that see only the low byte: 5 rows, 2 + 1 + 1 + 1 + 2 drops.
    qtbot.waitUntil(lambda: "sweep: 5 disagree, 7 dropped" in window.summary.text())
    assert window.summary.sweep.level == "kvm_inconsistent"  # the fast path loses a vCPU the slow path reaches


def test_edit_menu_names_the_undo(window):
    edit(window.vcpu_model, 3, "xapic_id", "0x23")
    assert window.undo_action.text() == "&Undo Set xAPIC ID of vCPU 0x3 to 0x23"
    assert window.undo_action.shortcut().toString() == "Ctrl+Z"
    assert "Ctrl+Shift+Z" in [s.toString() for s in window.redo_action.shortcuts()]


def test_about_names_version_and_kernel_ranges(window, dialogs):
    window.show_about()
    (about,) = dialogs.texts("about")
    assert __version__ in about
    for name in ("4.11-5.2", "5.3-6.2", "6.3+"):
        assert name in about


def test_picture_opens_as_its_scenario_and_is_never_saved_over(window, tmp_path):
    from PySide6.QtGui import QImage

    from apicviz.gui.shell.picture import embed_scenario
    from apicviz.model import scenario_from_dict

    image = QImage(8, 8, QImage.Format.Format_RGB32)
    image.fill(0)
    embed_scenario(image, scenario_from_dict(GOOD))
    path = str(tmp_path / "shot.png")
    assert image.save(path)
    assert window.files.open_path(path)
    assert window.vcpu_model.rowCount() == 2
    assert window.controller.path is None
    assert "embedded" in window.statusBar().currentMessage()


def test_headless_window_for_pictures(qtbot, settings_dir):
    from apicviz.model import scenario_from_dict

    w = create_main_window("given.apicviz.json", scenario=scenario_from_dict(GOOD), remember_settings=False)
    qtbot.addWidget(w)
    assert w.vcpu_model.rowCount() == 2
    assert w.windowTitle() == "given.apicviz.json — apicviz"
    assert w.size().width() == 1280
    assert w.size().height() == 800
    w.close()
    assert settings.window_geometry() is None
    assert settings.recent_files() == []
