"""Dialogs and the status bar stay short and responsive whatever the file holds."""
from __future__ import annotations

import json
import subprocess
import sys

from PySide6.QtWidgets import QMessageBox

from apicviz.model.errors import MAX_DIALOG_TEXT, MAX_STATUS_TEXT

HUGE = 30 * 1024 * 1024


def test_cannot_open_box_for_a_30_mb_key_is_short(window, tmp_path, dialogs, qtbot):
    path = tmp_path / "key.apicviz.json"
    path.write_text('{"vcpus": [{"id": 0}], "' + "k" * HUGE + '": 1}')
    before = window.controller.scenario
    assert not window.files.open_path(str(path))
    assert window.controller.scenario is before
    (text,) = dialogs.texts("critical")
    assert text.startswith("Cannot open scenario")
    assert "unknown key" in text
    assert len(text) <= MAX_DIALOG_TEXT + 100
    assert len(window.statusBar().currentMessage()) <= MAX_STATUS_TEXT + 40
    # The real box lays out that text at once (the 1 MB one took minutes).
    box = QMessageBox(QMessageBox.Icon.Critical, "Cannot open scenario", text.split("\n", 1)[1], parent=window)
    qtbot.addWidget(box)
    box.show()
    qtbot.waitExposed(box)
    assert box.isVisible()


def test_status_bar_cuts_a_long_message(window):
    window.show_message("x" * 100_000)
    assert len(window.statusBar().currentMessage()) <= MAX_STATUS_TEXT + 40


CHILD = r"""
import os, sys
os.environ["QT_QPA_PLATFORM"] = "offscreen"
from apicviz.gui.shell.app import create_application, create_main_window
from apicviz.model import load_scenario
app = create_application(["t"], remember_settings=False)
w = create_main_window(scenario=load_scenario(sys.argv[1]), remember_settings=False)
w.show()
for _ in range(5):
    app.processEvents()
w.controller.select_interrupt(0)
app.processEvents()
print("shown", w.kvm_panel.notes.toPlainText() == w.controller.scenario.notes)
"""


def test_longest_texts_a_scenario_may_hold_do_not_freeze_the_window(tmp_path):
    """Title, notes and 20 names of 1,000,000 characters each (valid): the window comes up.

    The subprocess timeout is the hang guard (this took minutes before the notes
    were wrapped anywhere and the cells were cut); the time is not asserted.
    """
    data = {"title": "t" * 1_000_000, "notes": "n" * 1_000_000, "vcpus": [{"id": 0}],
            "interrupts": [{"name": "i" * 1_000_000, "source": None, "dest": 0}] * 20}
    path = tmp_path / "long.apicviz.json"
    path.write_text(json.dumps(data))
    out = subprocess.run([sys.executable, "-c", CHILD, str(path)], capture_output=True, text=True, timeout=90,
                         check=False)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "shown True" in out.stdout
