"""File > Attach to QEMU… (against a real QEMU) and File > New from QEMU Topology…."""
from __future__ import annotations

import sys
from pathlib import Path

from PySide6.QtWidgets import QDialog, QDialogButtonBox

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/: qemu_helpers
from qemu_helpers import qemu_vm

from apicviz.gui.views import attach_dialog, topology_dialog
from apicviz.gui.views.topology_dialog import TopologyDialog


def accept_with(monkeypatch, cls, fill) -> None:
    """The dialog's exec() fills the fields and accepts once, then cancels."""
    answers = iter([QDialog.DialogCode.Accepted, QDialog.DialogCode.Rejected])

    def fake_exec(self):
        fill(self)
        return next(answers)

    monkeypatch.setattr(cls, "exec", fake_exec)


# --- New from QEMU topology ---------------------------------------------------------------------------------

def test_topology_dialog_previews_and_builds(qtbot) -> None:
    dialog = TopologyDialog(None, "6.1")
    qtbot.addWidget(dialog)
    ok = dialog.buttons.button(QDialogButtonBox.StandardButton.Ok)
    assert not ok.isEnabled()
    dialog.smp.setText("6,sockets=2,cores=3")
    assert "6 vCPUs" in dialog.preview.text()
    assert "0x0, 0x1, 0x2, 0x4, 0x5, 0x6" in dialog.preview.text()
    assert ok.isEnabled()
    dialog.smp.setText("5,sockets=2")
    assert dialog.preview.text().startswith("QEMU would refuse this:")
    assert "maxcpus (5)" in dialog.preview.text()
    assert not ok.isEnabled()
    dialog.smp.setText("288,sockets=2,cores=72,threads=2")
    assert "x2apic, x2APIC API on" in dialog.preview.text()
    dialog.mode.setCurrentText("xAPIC")
    result = dialog.build()
    assert {v.apic for v in result.scenario.vcpus} == {"xapic"}
    assert result.scenario.kvm.kernel == "6.1"


def test_new_from_topology_replaces_the_scenario(qtbot, window, monkeypatch) -> None:
    def fill(d):
        d.smp.setText("6,sockets=2,cores=3")
        d.mode.setCurrentText("x2APIC")
        d.kernel.setCurrentText("5.15")

    accept_with(monkeypatch, topology_dialog.TopologyDialog, fill)
    assert topology_dialog.new_from_topology_interactively(window, window.controller, lambda: True)
    s = window.controller.scenario
    assert [v.id for v in s.vcpus] == [0, 1, 2, 4, 5, 6]
    assert {v.apic for v in s.vcpus} == {"x2apic"}
    assert s.kvm.kernel == "5.15"
    assert window.controller.path is None
    assert "-smp 6,sockets=2,cores=3" in window.kvm_panel.notes.toPlainText()


def test_file_menu_has_both_entries(window) -> None:
    file_menu = window.menuBar().actions()[0].menu()
    texts = [a.text() for a in file_menu.actions()]
    assert "&Attach to QEMU…" in texts
    assert "New from QEMU &Topology…" in texts


# --- Attach to QEMU ------------------------------------------------------------------------------------------

def test_attach_dialog_opens_a_real_vm(qtbot, window, dialogs, monkeypatch) -> None:
    with qemu_vm("-smp", "6,sockets=2,cores=3", "-name", "guiattach") as vm:
        accept_with(monkeypatch, attach_dialog.AttachDialog, lambda d: d.socket.setText(f"unix:{vm.qmp}"))
        before = window.controller.scenario
        runner = window.attach_to_qemu()
        assert runner is not None
        assert runner.busy
        assert window.controller.scenario is before  # nothing changes until the attach is done
        with qtbot.waitSignal(runner.succeeded, timeout=60000):
            pass
    s = window.controller.scenario
    assert [v.id for v in s.vcpus] == [0, 1, 2, 4, 5, 6]
    assert window.controller.path is None
    assert s.title == "QEMU 'guiattach' attached (6 vCPUs)"
    notes = window.kvm_panel.notes.toPlainText()  # where it came from: QEMU version, socket, time
    assert notes.startswith("Attached with `apicviz attach` to QEMU ")
    assert f"at unix:{vm.qmp} on " in notes
    assert " UTC." in notes.splitlines()[0]
    # the next dialog offers the same socket
    seen: list[str] = []
    monkeypatch.setattr(attach_dialog.AttachDialog, "exec",
                        lambda d: seen.append(d.socket.text()) or QDialog.DialogCode.Rejected)
    assert window.attach_to_qemu() is None
    assert seen == [f"unix:{vm.qmp}"]


def test_attach_failure_shows_why_and_keeps_the_scenario(qtbot, window, dialogs, monkeypatch, tmp_path) -> None:
    accept_with(monkeypatch, attach_dialog.AttachDialog, lambda d: d.socket.setText(str(tmp_path / "nope.sock")))
    before = window.controller.scenario
    runner = window.attach_to_qemu()
    with qtbot.waitSignal(runner.failed, timeout=30000) as blocker:
        pass
    assert "no such socket" in blocker.args[0]
    assert window.controller.scenario is before
    (message,) = dialogs.texts("critical")
    assert message.startswith("Cannot attach to QEMU")
    assert "The current scenario is unchanged" in message


def test_attach_dialog_needs_a_socket(qtbot, window, dialogs, monkeypatch) -> None:
    accept_with(monkeypatch, attach_dialog.AttachDialog, lambda d: d.socket.setText("  "))
    assert window.attach_to_qemu() is None
    assert any("give the socket path" in t for t in dialogs.texts())
