"""KVM > Check on this host: the Host column, the chip, the map marks, progress, cancel, report and PNG.

Most tests run the real probe on this machine's /dev/kvm and are skipped with
the reason where it cannot be used. A contradiction between the kernel and
the model cannot be provoked on a correct model, so the ≠ rendering test
injects a probe function that reports one vCPU fewer than the kernel would
(it says so); everything else it shows comes from the real code paths.
"""
from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import pytest
from gui_helpers import cell, text
from PySide6.QtCore import Qt
from PySide6.QtGui import QImage

from apicviz.gui.controller import edits, host_check
from apicviz.gui.controller.controller import INTERRUPTS
from apicviz.gui.controller.host_check import CANCELLED, DONE
from apicviz.gui.shell.app import create_main_window
from apicviz.gui.shell.picture import KERNELS_KEY
from apicviz.gui.viewmodels.columns import column_index
from apicviz.gui.viewmodels.map_slots import HOST
from apicviz.host.host_info import HostInfo, KvmUnavailable, host_info
from apicviz.host.probe import InterruptCheck, ProbeResult, host_scenario
from apicviz.model import Interrupt, Scenario, Vcpu, evaluate, load_scenario

EXAMPLES = Path(__file__).resolve().parents[2] / "apicviz" / "resources" / "examples"
ALIASED = EXAMPLES / "03-aliased-xapic-id-upstream.apicviz.json"


def require_kvm() -> HostInfo:
    try:
        return host_info()
    except KvmUnavailable as exc:
        pytest.skip(f"the host check needs a usable /dev/kvm: {exc}")


def open_window(qtbot, scenario: Scenario):
    window = create_main_window(scenario=scenario)
    qtbot.addWidget(window)
    window.show()
    return window


def wait_done(qtbot, controller, timeout: int = 20000) -> None:
    qtbot.waitUntil(lambda: controller.host_results.host.state == DONE and controller.host_results.host.fresh,
                    timeout=timeout)


def host_column(window) -> int:
    return column_index(window.interrupt_model.columns, "host")


def big_scenario(n: int = 1024, interrupts: int = 64) -> Scenario:
    """Enough vCPUs that the probe takes seconds here (building the VM alone: about 1 s)."""
    vcpus = [Vcpu(i, "x2apic") for i in range(n)]
    irqs = [Interrupt(f"irq {k}", None, "physical", k % n, "none", "fixed", 0x40) for k in range(interrupts)]
    return Scenario(title="big", vcpus=vcpus, interrupts=irqs)


def test_toggling_the_check_fills_the_column_and_the_chip(qtbot):
    info = require_kvm()
    window = open_window(qtbot, load_scenario(ALIASED))
    controller = window.controller
    header = window.interrupt_panel.view.horizontalHeader()
    column = host_column(window)
    assert header.isSectionHidden(column)
    assert window.summary.host.isHidden()
    action = window.kvm_actions.check_host
    assert action.isEnabled()
    assert action.isCheckable()
    assert action.shortcut().toString() == "Ctrl+Shift+H"
    action.trigger()
    wait_done(qtbot, controller)
    assert not header.isSectionHidden(column)
    release = info.release.split("-")[0]
    assert window.interrupt_model.headerData(column, Qt.Orientation.Horizontal) == f"Host (Linux {release})"
    ev = controller.evaluation
    # The upstream scenario on a 6.3+ host: the kernel's answer is the model's and the window's.
    assert info.behaviour == ev.result.behaviour.name, "this test expects a host kernel of 6.3 or later"
    for n, route in enumerate(ev.routes):
        ids = ev.ids(route.accepted)
        expected = ", ".join(f"{i:#x}" for i in ids) if ids else "nobody"
        assert text(window.interrupt_model, n, "host") == f"✓ {expected}"
    assert text(window.interrupt_model, 0, "host") == "✓ 0x0, 0x1"  # both aliased vCPUs, on the real kernel
    chip = window.summary.host
    assert not chip.isHidden()
    assert chip.level == "ok"
    assert chip.text() == f"host {info.kernel}: 3/3 agree"
    assert chip.toolTip().startswith(info.describe())
    assert window.map_view.slots is not None
    assert window.map_view.slots.host == {}
    action.trigger()  # off again: column and chip go
    qtbot.waitUntil(lambda: header.isSectionHidden(column))
    assert chip.isHidden()


def test_an_edit_reruns_the_check_once(qtbot, monkeypatch):
    require_kvm()
    runs: list[int] = []
    real = host_check.probe

    def counting(scenario, **kwargs):
        runs.append(len(scenario.interrupts))
        return real(scenario, **kwargs)

    monkeypatch.setattr(host_check, "probe", counting)
    window = open_window(qtbot, load_scenario(ALIASED))
    controller = window.controller
    window.kvm_actions.check_host.trigger()
    wait_done(qtbot, controller)
    assert runs == [3]
    # Two edits in a row share one probe (the debounce); the column follows the second.
    assert edits.set_text(controller, INTERRUPTS, [0], "dest", "1")
    assert edits.set_text(controller, INTERRUPTS, [0], "dest", "2")
    assert controller.host_results.pending
    wait_done(qtbot, controller)
    assert runs == [3, 3]
    assert text(window.interrupt_model, 0, "host") == "✓ 0x2"


def test_smm_in_the_scenario_but_not_on_the_host_is_shown(qtbot):
    info = require_kvm()
    if info.smm:
        pytest.skip(f"this host's KVM has SMM ({info.smm_source}): an SMI is accepted here as the scenario says")
    scenario = Scenario(title="SMI", vcpus=[Vcpu(0, "xapic"), Vcpu(1, "xapic")],
                        interrupts=[Interrupt("SMI to 0", 1, "physical", 0, "none", "smi", 0),
                                    Interrupt("IPI to 0", 1, "physical", 0, "none", "fixed", 0x30)])
    scenario.kvm.smm = True
    window = open_window(qtbot, scenario)
    controller = window.controller
    window.kvm_actions.check_host.trigger()
    wait_done(qtbot, controller)
    # The host accepts nobody, as the model says for a kernel without SMM; the window shows vCPU 0.
    assert text(window.interrupt_model, 0, "host") == "✓ nobody (scenario: 0x0)"
    assert text(window.interrupt_model, 1, "host") == "✓ 0x0"
    assert "SMM on here, off on the host" in window.interrupt_model.data(
        cell(window.interrupt_model, 0, "host"), Qt.ItemDataRole.ToolTipRole)
    chip = window.summary.host
    assert chip.level == "warn"
    assert chip.text().endswith("2/2 agree; 1 unlike the scenario")
    assert HOST in window.map_view.slot_info(0).marker_kinds
    assert "did not accept vCPU 0x0, unlike the map" in window.map_view.slots.tooltip(0)
    controller.select_interrupt(1)  # the IPI: nothing differs there, so nothing is marked
    assert HOST not in window.map_view.slot_info(0).marker_kinds


def fake_host() -> HostInfo:
    return HostInfo("6.18.44-fake", "6.18", "6.3+", True, "fake", False, "fake", 4096, 1024, 3)


def test_a_contradiction_is_red_in_the_column_the_chip_and_the_map(qtbot, monkeypatch):
    """Injected probe: the model's answer for the host's kernel, less the last vCPU of interrupt 0."""
    info = fake_host()

    def contradicting(scenario, *, host=None, **_kwargs):
        ev = evaluate(host_scenario(scenario, info))
        checks = []
        for n, route in enumerate(ev.routes):
            model = ev.ids(route.accepted)
            checks.append(InterruptCheck(n, model[:-1] if n == 0 else model, model))
        return ProbeResult(info, scenario.kvm.kernel, checks, model=ev)

    monkeypatch.setattr(host_check, "host_info", lambda: info)
    monkeypatch.setattr(host_check, "probe", contradicting)
    window = open_window(qtbot, load_scenario(ALIASED))
    controller = window.controller
    window.kvm_actions.check_host.trigger()
    wait_done(qtbot, controller)
    model = window.interrupt_model
    index = cell(model, 0, "host")
    assert model.data(index) == "≠ 0x0"
    assert model.data(index, Qt.ItemDataRole.FontRole).bold()
    assert model.data(index, Qt.ItemDataRole.BackgroundRole).color().name() == "#f4b6b0"
    assert "only the model: 0x1" in model.data(index, Qt.ItemDataRole.ToolTipRole)
    chip = window.summary.host
    assert chip.level == "bad"
    assert chip.text() == "≠ host 6.18: 2/3 agree"
    # vCPU 1 shares slot 0 with vCPU 0 (aliased): the slot is marked, and says which vCPU and why.
    assert HOST in window.map_view.slot_info(0).marker_kinds
    assert "did not accept vCPU 0x1" in window.map_view.slots.tooltip(0)
    assert any("a real kernel differs" in t for t in window.map_view.legend.texts())
    controller.select_interrupt(0)
    assert "Linux 6.18.44: ≠ 0x0" in window.map_view.caption_text()
    controller.select_interrupt(1)  # agreed: nothing marked for it, the caption says ✓
    assert HOST not in window.map_view.slot_info(0).marker_kinds
    assert "Linux 6.18.44: ✓ 0x0, 0x1" in window.map_view.caption_text()
    report = window.share.report_text()
    assert "**2/3 interrupts agree with the model for this kernel.**" in report
    assert "≠ **differs**" in report


def test_without_kvm_the_action_is_disabled_and_says_why(qtbot, monkeypatch):
    def refuse():
        raise KvmUnavailable("permission denied opening /dev/kvm: add your user to the group that owns it")

    monkeypatch.setattr(host_check, "host_info", refuse)
    window = open_window(qtbot, load_scenario(ALIASED))
    action = window.kvm_actions.check_host
    assert not action.isEnabled()
    assert action.toolTip() == ("Not available: permission denied opening /dev/kvm: add your user to the group "
                                "that owns it")
    window.controller.set_host_check(True)  # even if asked directly: nothing runs, nothing is shown
    assert window.controller.host_results.shown is None
    assert not window.controller.host_check.busy
    assert window.summary.host.isHidden()


def test_a_big_vm_shows_progress_and_esc_cancels(qtbot):
    require_kvm()
    window = open_window(qtbot, big_scenario())
    controller = window.controller
    progress = window.kvm_actions.progress
    window.kvm_actions.check_host.trigger()
    qtbot.waitUntil(lambda: not progress.isHidden(), timeout=5000)
    assert progress.label.text().startswith("host check: ")
    cancel = window.kvm_actions.cancel_host
    assert cancel.isEnabled()
    assert cancel.shortcut().toString() == "Esc"
    cancel.trigger()  # what Esc does while the bar is up
    qtbot.waitUntil(lambda: controller.host_results.host.state == CANCELLED, timeout=15000)
    assert progress.isHidden()
    assert not controller.host_check.busy
    assert not cancel.isEnabled()
    assert window.summary.host.text() == "host: cancelled"
    # Still on: the next edit checks again (and the Cancel button stops that one too).
    edits.set_text(controller, INTERRUPTS, [0], "vector", "0x41")
    qtbot.waitUntil(lambda: not progress.isHidden(), timeout=5000)
    progress.cancel_button.click()
    qtbot.waitUntil(lambda: controller.host_results.host.state == CANCELLED, timeout=15000)


def test_closing_the_window_during_a_run_is_clean(qtbot, monkeypatch):
    require_kvm()
    failures: list[object] = []
    monkeypatch.setattr(threading, "excepthook", failures.append)
    window = open_window(qtbot, big_scenario())
    controller = window.controller
    window.kvm_actions.check_host.trigger()
    qtbot.waitUntil(lambda: controller.host_check.busy, timeout=5000)
    job = controller.host_check._job
    assert job is not None
    assert job.worker is not None
    time.sleep(0.3)  # inside the build
    window.close()
    job.worker.thread.join(20)
    assert not job.worker.thread.is_alive()
    assert job.cancelled
    assert job.verdict is None
    assert not job.error
    assert failures == []
    emitted: list[object] = []
    controller.host_changed.connect(emitted.append)
    qtbot.wait(50)
    assert emitted == []


def test_the_bug_report_and_the_picture_carry_the_verdict(qtbot, tmp_path):
    info = require_kvm()
    window = open_window(qtbot, load_scenario(ALIASED))
    controller = window.controller
    window.kvm_actions.check_host.trigger()
    wait_done(qtbot, controller)
    report = window.share.report_text()
    release = info.release.split("-")[0]
    assert f"### On a real kernel: Linux {release} (this host)" in report
    assert "**3/3 interrupts agree with the model for this kernel.**" in report
    assert info.describe() in report
    # Right after an edit the report waits for the rerun, so it never describes the scenario before it.
    edits.set_text(controller, INTERRUPTS, [0], "dest", "2")
    report = window.share.report_text()
    assert "| 0 | IPI to APIC 0 | 0x2 | 0x2 |" in report
    path = tmp_path / "shot.png"
    assert window.share.export(window, str(path))
    checks = json.loads(QImage(str(path)).text(KERNELS_KEY))
    assert [c["label"] for c in checks] == [f"Linux {release}"]
    probe = checks[0]["probe"]
    assert probe["agree"] is True
    assert probe["host"]["release"] == info.release
    assert probe["interrupts"][0]["host_accepted"] == [2]
    # The column is in the picture: shown, and inside the table's viewport at the default size.
    view = window.interrupt_panel.view
    column = host_column(window)
    right = view.horizontalHeader().sectionViewportPosition(column) + view.columnWidth(column)
    assert 0 <= right <= view.viewport().width(), "the Host column is cut off at the default window size"
    assert "host " in window.summary.text()


def test_the_column_and_the_chip_fit_1280x800(qtbot, qapp):
    """Nothing cut at the default size with the Host column and its chip shown (the layout rules of issue 10)."""
    require_kvm()
    from PySide6.QtGui import QGuiApplication
    from PySide6.QtWidgets import QStyle

    from apicviz.gui.shell import layout

    laptop = [s for s in QGuiApplication.screens() if s.name() == "laptop"]
    assert laptop, "the offscreen 1280x800 screen is missing (tests/gui/screens.json)"
    window = create_main_window(scenario=load_scenario(ALIASED))
    qtbot.addWidget(window)
    window.move(laptop[0].availableGeometry().topLeft())
    window.show()
    qapp.processEvents()
    layout.fit_to_screen(window)
    window.kvm_actions.check_host.trigger()
    wait_done(qtbot, window.controller)
    for _ in range(6):
        qapp.processEvents()
    panel = window.interrupt_panel
    assert panel.cut_columns() == []
    assert window.summary.elided_chips() == []
    header = panel.view.horizontalHeader()
    column = host_column(window)
    title = window.interrupt_model.headerData(column, Qt.Orientation.Horizontal)
    margin = 2 * header.style().pixelMetric(QStyle.PixelMetric.PM_HeaderMargin, None, header)
    assert header.sectionSize(column) >= header.fontMetrics().horizontalAdvance(title) + margin
    chip = window.summary.host
    assert chip.contentsRect().width() >= chip.fontMetrics().horizontalAdvance(chip.text())
    assert window.summary.rect().contains(chip.geometry())
