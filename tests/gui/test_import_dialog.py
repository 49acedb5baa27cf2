"""File > Import: a complete import replaces the scenario; a broken one changes nothing."""
from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtWidgets import QDialog

from apicviz.gui.views import import_dialog
from apicviz.gui.views.import_dialog import KVM, QEMU, ImportDialog, import_interactively
from apicviz.model import ScenarioError

DATA = Path(__file__).resolve().parents[1] / "data" / "import"


def test_qemu_text_import_with_ids_and_mode(qtbot):
    dialog = ImportDialog()
    qtbot.addWidget(dialog)
    dialog.kind.setCurrentText(QEMU)
    dialog.files.setText(str(DATA / "info_lapic_four_cpus.txt"))
    dialog.ids.setText("0,1,0x100,0x101")
    dialog.modes.setText("x2apic")
    result = dialog.run_import()
    assert [v.id for v in result.scenario.vcpus] == [0, 1, 0x100, 0x101]
    assert {v.apic for v in result.scenario.vcpus} == {"x2apic"}


def test_kvm_pages_import(qtbot):
    dialog = ImportDialog()
    qtbot.addWidget(dialog)
    dialog.kind.setCurrentText(KVM)
    dialog.files.setText(str(DATA / "lapic_xapic_flat_2.bin"))
    result = dialog.run_import()
    assert len(result.scenario.vcpus) == 2


@pytest.mark.parametrize("name", ["lapic_truncated.bin", "info_bad_hex.txt"])
def test_broken_input_names_the_place_and_keeps_the_scenario(qtbot, window, dialogs, monkeypatch, name):
    before = window.controller.scenario
    kind = KVM if name.endswith(".bin") else QEMU
    answers = iter([QDialog.DialogCode.Accepted, QDialog.DialogCode.Rejected])

    def fake_exec(self):
        self.kind.setCurrentText(kind)
        self.files.setText(str(DATA / name))
        return next(answers)

    monkeypatch.setattr(import_dialog.ImportDialog, "exec", fake_exec)
    assert not import_interactively(window, window.controller, lambda: True)
    assert window.controller.scenario is before
    message = dialogs.texts("critical")[0]
    assert "Nothing was imported" in message
    assert ("byte" in message) if kind == KVM else ("line" in message)


def test_empty_choice_is_refused(qtbot):
    dialog = ImportDialog()
    qtbot.addWidget(dialog)
    with pytest.raises(ScenarioError, match="choose at least one file"):
        dialog.run_import()
