"""A real apicviz window in its own process, for the kill -9 and two-window autosave tests.

Run with XDG_DATA_HOME / XDG_CONFIG_HOME pointing at a temp folder and
QT_QPA_PLATFORM=offscreen. Modes:

* ``edit START SEED [SNAPSHOT_EVERY]``: open START, then edit for ever at random
  intervals; right after edit N print ``done N SHA1`` (the hash of the scenario
  after it), and once it has returned to the event loop (the window shows it)
  ``shown N``;
* ``offer ANSWER``: a new window offers the autosaves of windows that are gone,
  answering every question with ANSWER (yes, discard or cancel); print one
  JSON line with the questions asked and the scenario shown; then exit
  without cleaning up, like a kill;
* ``save START PATH``: open START, edit once, save to PATH, print ``saved``,
  then stay alive until killed.
"""
from __future__ import annotations

import hashlib
import json
import os
import random
import sys

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtCore import QModelIndex, Qt, QTimer
from PySide6.QtWidgets import QMessageBox

from apicviz.gui.controller import edits
from apicviz.gui.shell import journal
from apicviz.gui.shell.app import create_application, create_main_window
from apicviz.gui.shell.autosave import offer_restore
from apicviz.gui.viewmodels.columns import column_index
from apicviz.model import Vcpu
from apicviz.model.scenario_file import scenario_to_text


def fingerprint(scenario) -> str:
    return hashlib.sha1(scenario_to_text(scenario).encode()).hexdigest()


def one_edit(window, n: int) -> None:
    """Edit n: a table cell through the model (as a delegate does), the title, or a new vCPU."""
    controller = window.controller
    if n % 3 == 0:
        model = window.vcpu_model
        index: QModelIndex = model.index(0, column_index(model.columns, "logical_id"))
        assert model.setData(index, hex(n % 256), Qt.ItemDataRole.EditRole)
    elif n % 3 == 1:
        assert edits.set_kvm(controller, "title", f"edit {n}")
    else:
        assert edits.add_vcpus(controller, [Vcpu(id=1000 + n)])


def run_editor(start: str, seed: int) -> None:
    app = create_application(["autosave-child"])
    window = create_main_window(start)
    window.show()
    rng = random.Random(seed)
    count = 0

    def tick() -> None:
        nonlocal count
        count += 1
        one_edit(window, count)
        shown = count
        print(f"done {shown} {fingerprint(window.controller.scenario)}", flush=True)
        QTimer.singleShot(0, lambda: print(f"shown {shown}", flush=True))
        QTimer.singleShot(rng.choice([0, 1, 5, 20, 60]), tick)

    print("ready", flush=True)
    QTimer.singleShot(0, tick)
    app.exec()


def run_offer(answer: str) -> None:
    create_application(["autosave-child"])
    window = create_main_window()
    asked: list[str] = []
    button = {"yes": QMessageBox.StandardButton.Yes, "discard": QMessageBox.StandardButton.Discard,
              "cancel": QMessageBox.StandardButton.Cancel}[answer]

    def question(_parent, title, text, buttons, *_args):
        asked.append(f"{title}\n{text}")
        return button if buttons & button else QMessageBox.StandardButton.Cancel

    QMessageBox.question = staticmethod(question)  # type: ignore[method-assign]
    restored = offer_restore(window)
    scenario = window.controller.scenario
    print(json.dumps({"asked": asked, "restored": restored, "title": scenario.title,
                      "sha1": fingerprint(scenario), "dirty": window.controller.dirty}), flush=True)
    os._exit(0)


def run_saver(start: str, path: str) -> None:
    app = create_application(["autosave-child"])
    window = create_main_window(start)
    one_edit(window, 1)
    assert window.files.write(path)
    print("saved", flush=True)
    app.exec()


def main() -> None:
    mode = sys.argv[1]
    if mode == "edit":
        if len(sys.argv) > 4:
            journal.SNAPSHOT_EVERY = int(sys.argv[4])
        run_editor(sys.argv[2], int(sys.argv[3]))
    elif mode == "offer":
        run_offer(sys.argv[2])
    elif mode == "save":
        run_saver(sys.argv[2], sys.argv[3])


if __name__ == "__main__":
    main()
