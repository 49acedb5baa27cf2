"""KVM > Check on another kernel…: validation, errors with fix and console, the answer in the window.

The real boot of Debian's 6.1 kernel is in tests/kernelvm/test_kernel_dialog_real.py; here the
not-a-kernel error comes from the real code (it fails before anything boots), and the other runs
use an injected ``probe_on_kernel`` that answers as the model for 6.1 would (they say so), so the
dialog's and the window's handling of an answer, a failure and a cancel are checked in a second.
"""
from __future__ import annotations

import threading
from pathlib import Path

from gui_helpers import text
from PySide6.QtCore import Qt

from apicviz.gui.controller import edits
from apicviz.gui.controller.controller import INTERRUPTS
from apicviz.gui.shell import settings
from apicviz.gui.shell.app import create_main_window
from apicviz.gui.viewmodels.columns import column_index
from apicviz.kernelvm import KernelVmError
from apicviz.model import evaluate, load_scenario

EXAMPLES = Path(__file__).resolve().parents[2] / "apicviz" / "resources" / "examples"
ALIASED_61 = EXAMPLES / "02-aliased-xapic-id-6.1.apicviz.json"
RELEASE = "6.1.0-50-amd64"


def open_window(qtbot):
    window = create_main_window(scenario=load_scenario(ALIASED_61))
    qtbot.addWidget(window)
    window.show()
    return window


def as_61(choice, files, *, timeout, cancelled):
    """An answer in probe_on_kernel's shape: the model for 6.1 (what the real 6.1 kernel does, tested elsewhere)."""
    scenario = load_scenario(files[0])
    scenario.kvm.kernel = "6.1"
    ev = evaluate(scenario)
    vm = {"image": "/fake/vmlinuz", "release": RELEASE, "accel": "tcg", "seconds": 31.0}
    answer = {"format": "apicviz-probe", "version": 1, "file": files[0], "scenario_kernel": "6.1",
              "host": {"release": RELEASE, "kernel": "6.1", "behaviour": "5.3-6.2", "vector_hashing": True,
                       "smm": True, "max_vcpu_id": 4096},
              "skipped": None, "agree": True, "vm": vm,
              "interrupts": [{"host_accepted": ev.ids(r.accepted), "model_accepted": ev.ids(r.accepted),
                              "agree": True} for r in ev.routes]}
    return [answer], vm


def test_the_fields_are_checked_before_anything_starts(qtbot, tmp_path):
    window = open_window(qtbot)
    dialog = window.kvm_actions.open_kernel_dialog()
    assert not dialog.run()
    assert "Choose a kernel image" in dialog.error_text()
    dialog.kernel_edit.setText(str(tmp_path / "missing-vmlinuz"))
    assert not dialog.run()
    assert "does not exist" in dialog.error_text()
    dialog.kernel_edit.setText(str(tmp_path))
    dialog.modules_edit.setText(str(tmp_path / "nope"))
    assert not dialog.run()
    assert "is not a folder" in dialog.error_text()
    assert not window.controller.kernel_check.busy


def test_a_file_that_is_not_a_kernel_shows_the_message_and_the_fix(qtbot, tmp_path):
    window = open_window(qtbot)
    junk = tmp_path / "notes.txt"
    junk.write_text("not a kernel\n" * 100)
    dialog = window.kvm_actions.open_kernel_dialog()
    dialog.kernel_edit.setText(str(junk))
    assert dialog.run()
    assert dialog.cancel_button.isVisibleTo(dialog)
    assert not dialog.run_button.isEnabled()
    qtbot.waitUntil(lambda: dialog.error_text() != "", timeout=20000)
    assert "no 'HdrS' boot header" in dialog.error_text()
    assert "Fix:" in dialog.error_text()
    assert dialog.run_button.isEnabled()
    assert not dialog.bar.isVisibleTo(dialog)
    assert window.controller.host_results.kernel is None
    assert settings.recent_kernels() == []  # only kernels that ran are remembered


def test_a_boot_failure_shows_the_guest_console(qtbot, tmp_path):
    window = open_window(qtbot)

    def boot_fails(choice, files, *, timeout, cancelled):
        raise KernelVmError("boot_failed", "vmlinuz did not boot far enough to run the probe",
                            "check that the kernel has virtio, 9p and a serial console (ttyS0)",
                            console="[    0.1] Linux version 6.1\n[    2.0] Kernel panic - not syncing: VFS")

    window.controller.kernel_check.run_fn = boot_fails
    kernel = tmp_path / "vmlinuz"
    kernel.write_bytes(b"\0" * 64)
    dialog = window.kvm_actions.open_kernel_dialog()
    dialog.kernel_edit.setText(str(kernel))
    assert dialog.run()
    qtbot.waitUntil(lambda: dialog.error_text() != "", timeout=5000)
    assert "did not boot far enough" in dialog.error_text()
    assert "Fix: check that the kernel has virtio" in dialog.error_text()
    assert dialog.details.isVisibleTo(dialog)
    assert "Kernel panic - not syncing" in dialog.details.toPlainText()


def test_the_answer_names_the_kernel_in_the_column_chip_and_compare_tab(qtbot, tmp_path):
    window = open_window(qtbot)
    controller = window.controller
    controller.kernel_check.run_fn = as_61
    kernel = tmp_path / "vmlinuz-6.1.0-50-amd64"
    kernel.write_bytes(b"\0" * 64)
    dialog = window.kvm_actions.open_kernel_dialog()
    dialog.kernel_edit.setText(str(kernel))
    assert dialog.run()
    qtbot.waitUntil(lambda: controller.host_results.kernel is not None, timeout=5000)
    assert not dialog.isVisible()
    model = window.interrupt_model
    column = column_index(model.columns, "host")
    assert model.headerData(column, Qt.Orientation.Horizontal) == f"Linux {RELEASE} (VM)"
    assert not window.interrupt_panel.view.horizontalHeader().isSectionHidden(column)
    assert text(model, 0, "host") == "✓ 0x0"  # 6.1 keeps the first aliased vCPU only, as the scenario says
    chip = window.summary.other_kernel
    assert chip.text() == "Linux 6.1 (VM): 3/3 agree"
    assert chip.level == "ok"
    assert settings.recent_kernels() == [(str(kernel), "")]
    compare = window.compare_view
    compare.set_active(True)
    shown = compare.text()
    assert f"Linux {RELEASE} (VM)" in shown
    assert "✓ 0x0" in shown
    # An edit leaves the answer out of date (not shown); undo brings the probed scenario back.
    edits.set_text(controller, INTERRUPTS, [0], "dest", "2")
    assert chip.text() == "Linux 6.1 (VM): out of date"
    assert window.interrupt_panel.view.horizontalHeader().isSectionHidden(column)
    controller.undo_stack.undo()
    assert chip.text() == "Linux 6.1 (VM): 3/3 agree"
    assert text(model, 0, "host") == "✓ 0x0"
    report = window.share.report_text()
    assert f"### On a real kernel: Linux {RELEASE} (VM)" in report
    # The recent list offers it next time.
    window.kvm_actions.kernel_dialog = None
    again = window.kvm_actions.open_kernel_dialog()
    assert again.recent_entries() == [(str(kernel), "")]


def test_cancel_stops_the_run(qtbot, tmp_path):
    window = open_window(qtbot)
    controller = window.controller
    asked = threading.Event()

    def slow(choice, files, *, timeout, cancelled):
        asked.set()
        while not cancelled():
            threading.Event().wait(0.02)
        raise KernelVmError("cancelled", "the run of vmlinuz was cancelled; the guest was stopped")

    controller.kernel_check.run_fn = slow
    kernel = tmp_path / "vmlinuz"
    kernel.write_bytes(b"\0" * 64)
    dialog = window.kvm_actions.open_kernel_dialog()
    dialog.kernel_edit.setText(str(kernel))
    assert dialog.run()
    assert asked.wait(5)
    qtbot.waitUntil(lambda: "s" in dialog.status.text() and "probing" in dialog.status.text(), timeout=5000)
    dialog.cancel_button.click()
    qtbot.waitUntil(lambda: not controller.kernel_check.busy, timeout=5000)
    assert dialog.status.text() == "Cancelled: the guest was stopped."
    assert dialog.error_text() == ""
    assert controller.host_results.kernel is None
