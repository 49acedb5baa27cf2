"""Autosave in one process: every edit journaled at once, one journal per window, orphans offered by name."""
from __future__ import annotations

from pathlib import Path

from gui_helpers import edit
from PySide6.QtWidgets import QMessageBox

from apicviz.gui.controller import edits
from apicviz.gui.shell import journal as journal_mod
from apicviz.gui.shell.app import create_main_window
from apicviz.gui.shell.autosave import offer_restore
from apicviz.gui.shell.journal import Journal, find_orphans, replay
from apicviz.model import Vcpu
from apicviz.model.scenario_file import scenario_to_dict


def journal_of(window) -> Path:
    return window.autosaver.journal.path


def test_every_edit_is_journaled_before_control_returns(window):
    controller = window.controller
    for n in range(1, 8):
        assert edits.set_kvm(controller, "title", f"title {n}")  # merging edits of one field count too
        found = replay(journal_of(window))
        assert found is not None
        assert found.scenario.title == f"title {n}"
        assert found.edits == n
    edit(window.vcpu_model, 0, "logical_id", "0x3")
    assert edits.add_vcpus(controller, [Vcpu(id=0x77)])
    controller.undo_stack.undo()
    assert scenario_to_dict(replay(journal_of(window)).scenario) == scenario_to_dict(controller.scenario)


def test_a_steady_stream_of_edits_is_never_starved(window):
    """No quiet-time timer: edits every moment are each on disk at once."""
    controller = window.controller
    for n in range(30):
        assert edits.add_vcpus(controller, [Vcpu(id=0x100 + n)])
        assert len(replay(journal_of(window)).scenario.vcpus) == len(controller.scenario.vcpus)


def test_snapshots_bound_the_journal_and_replay_stays_exact(window, monkeypatch):
    monkeypatch.setattr(journal_mod, "SNAPSHOT_EVERY", 5)
    controller = window.controller
    for n in range(23):
        edit(window.vcpu_model, 0, "logical_id", hex(n))
        assert edits.set_kvm(controller, "notes", f"note {n}")
    lines = journal_of(window).read_bytes().count(b"\n")
    assert lines <= 5
    found = replay(journal_of(window))
    assert scenario_to_dict(found.scenario) == scenario_to_dict(controller.scenario)
    assert found.edits == 46


def test_back_to_clean_or_saved_drops_the_journal(window, tmp_path):
    controller = window.controller
    assert edits.set_kvm(controller, "title", "x")
    assert journal_of(window).exists()
    controller.undo_stack.undo()
    assert not journal_of(window).exists()
    assert edits.set_kvm(controller, "title", "y")
    assert window.files.write(str(tmp_path / "s.apicviz.json"))
    assert not journal_of(window).exists()


def test_a_clean_close_removes_the_journal_and_its_lock(window, app_data_dir, dialogs):
    assert edits.set_kvm(window.controller, "title", "x")
    dialogs.answer = QMessageBox.StandardButton.Discard
    assert window.close()
    assert list(app_data_dir.iterdir()) == []


def test_a_live_windows_autosave_is_not_offered_and_survives_anothers_save(window, qtbot, app_data_dir, dialogs,
                                                                           tmp_path):
    assert edits.set_kvm(window.controller, "title", "first window's work")
    other = create_main_window()
    qtbot.addWidget(other)
    assert not offer_restore(other)
    assert dialogs.texts("question") == []
    assert edits.set_kvm(other.controller, "title", "second")
    assert other.files.write(str(tmp_path / "second.apicviz.json"))
    assert replay(journal_of(window)).scenario.title == "first window's work"
    assert find_orphans(app_data_dir) == []


def dead_window_journal(folder: Path, title: str, edits_made: int) -> Path:
    """A journal whose owner is gone (its lock released), as a killed window leaves it."""
    from apicviz.model import Scenario

    dead = Journal(folder)
    scenario = Scenario(vcpus=[Vcpu(id=0), Vcpu(id=1)])
    for n in range(edits_made):
        scenario.title = f"{title} {n}"
        dead.record(scenario, "/home/me/vm.apicviz.json")
    dead.close(keep=True)
    return dead.path


def test_an_orphan_is_named_and_restored_once(window, qtbot, app_data_dir, dialogs):
    path = dead_window_journal(app_data_dir, "lost", 3)
    dialogs.answer = QMessageBox.StandardButton.Yes
    assert offer_restore(window)
    (text,) = dialogs.texts("question")
    assert "/home/me/vm.apicviz.json" in text
    assert "3 unsaved edits" in text
    assert "last edit 20" in text
    assert window.controller.scenario.title == "lost 2"
    assert window.controller.dirty
    assert not path.exists()
    assert replay(journal_of(window)).scenario.title == "lost 2"  # now this window's own autosave
    again = create_main_window()
    qtbot.addWidget(again)
    assert not offer_restore(again)


def test_cancel_keeps_an_orphan_and_discard_deletes_it(window, app_data_dir, dialogs):
    path = dead_window_journal(app_data_dir, "kept", 2)
    dialogs.answer = QMessageBox.StandardButton.Cancel
    assert not offer_restore(window)
    assert path.exists()
    dialogs.answer = QMessageBox.StandardButton.Discard
    assert not offer_restore(window)
    assert not path.exists()
    assert not path.with_suffix(".lock").exists()


def test_a_torn_last_record_is_ignored(window, app_data_dir):
    path = dead_window_journal(app_data_dir, "torn", 4)
    with path.open("ab") as handle:
        handle.write(b"0badc0de\t{\"kind\": \"diff\", \"cha")
    (orphan,) = find_orphans(app_data_dir)
    assert orphan.found.scenario.title == "torn 3"
    orphan.release()


def test_an_unwritable_autosave_folder_is_reported_with_each_edit(qtbot, tmp_path):
    from apicviz.gui.shell.autosave import Autosaver

    blocked = tmp_path / "file-not-folder"
    blocked.write_text("x")
    window = create_main_window(remember_settings=False)
    qtbot.addWidget(window)
    saver = Autosaver(window.controller, blocked / "autosave")
    saver.failed.connect(window.show_message)
    assert edits.set_kvm(window.controller, "title", "unsaved")
    assert "Autosave failed" in window.statusBar().currentMessage()
