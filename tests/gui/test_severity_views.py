"""Severity classes on screen: the status-bar headline, the interrupts table's Class column.

Colours are checked in grabbed pixels against the palette entry of the
class code; the words are checked in the text.
"""
from __future__ import annotations

from gui_helpers import cell, text
from PySide6.QtCore import Qt
from PySide6.QtGui import QColor

from apicviz.gui.views import palette
from apicviz.gui.views.table_model import COLOURS
from apicviz.model import scenario_from_dict


def load(window, vcpus: list[dict], interrupts: list[dict], kernel: str = "6.1", **kvm) -> None:
    window.controller.set_scenario(scenario_from_dict({
        "format": "apicviz-scenario", "version": 1, "kvm": {"kernel": kernel, **kvm},
        "vcpus": vcpus, "interrupts": interrupts}))
    window.controller.ensure_sweep()


def chip_fill(chip) -> QColor:
    """The background colour the chip paints (left padding, vertical middle)."""
    img = chip.grab().toImage()
    return QColor(img.pixel(2, img.height() // 2))


def test_headline_leads_with_the_red_class(window, qtbot):
    # 6.1, vCPU 1 rewrote its xAPIC ID to 0: the fast path sends physical 0 to vCPU 0 only.
    load(window, [{"id": 0}, {"id": 1, "xapic_id": 0}], [{"source": 0, "dest": 0}])
    summary = window.summary
    assert summary.chips[0] is summary.headline
    assert summary.headline.level == "kvm_inconsistent"
    assert summary.headline.text().startswith("✖ KVM inconsistent: 1 irq")
    assert summary.text().startswith("✖ KVM inconsistent")
    assert "the optimized map gives this vCPU a different answer" in summary.headline.toolTip()
    window.show()
    qtbot.waitExposed(window)
    assert chip_fill(summary.headline) == QColor(palette.SEVERITY["kvm_inconsistent"][0])


def test_a_vm_without_disagreement_says_so_in_green(window, qtbot):
    # x2APIC only, 32-bit IDs and the quirk disabled: every destination agrees (no 8-bit view, no quirk).
    load(window, [{"id": 0, "apic": "x2apic"}, {"id": 1, "apic": "x2apic"}], [{"source": 0, "dest": 1}],
         kernel="upstream", x2apic_api={"use_32bit_ids": True, "disable_broadcast_quirk": True})
    summary = window.summary
    assert summary.headline.text() == "✔ no disagreement"
    assert summary.headline.level == "agree"
    window.show()
    qtbot.waitExposed(window)
    assert chip_fill(summary.headline) == QColor(palette.SEVERITY["agree"][0])
    assert summary.sweep.text() == "sweep: 0 disagree"


def test_by_design_headline_names_its_reason(window, qtbot):
    # Upstream with 32-bit IDs, xAPIC vCPU 0: an MSI to 0x100 reaches it on hardware (low 8 bits), not in KVM.
    load(window, [{"id": 0}, {"id": 1}], [{"source": None, "dest": 0x100}],
         kernel="upstream", x2apic_api={"use_32bit_ids": True})
    head = window.summary.headline
    assert head.level == "kvm_by_design"
    assert head.text().startswith("⚠ by design (no 8-bit truncation): 1 irq")
    window.show()
    qtbot.waitExposed(window)
    assert chip_fill(head) == QColor(palette.SEVERITY["kvm_by_design"][0])
    model = window.interrupt_model
    assert text(model, 0, "severity") == "by design: no 8-bit truncation"
    assert model.data(cell(model, 0, "severity"), Qt.ItemDataRole.BackgroundRole).color() == \
        QColor(palette.SEVERITY["kvm_by_design"][0])


def test_interrupt_class_column(window):
    load(window, [{"id": 0}, {"id": 1, "xapic_id": 0}, {"id": 2, "sw_enabled": False}],
         [{"source": 0, "dest": 0}, {"source": 0, "dest": 1}, {"source": 0, "dest": 0xFF, "delivery": "lowest"}])
    model = window.interrupt_model
    assert text(model, 0, "severity") == "KVM inconsistent: map ≠ slow path"
    assert text(model, 1, "severity") == "agree"
    assert text(model, 2, "severity") == "differs from hardware: lowest → fixed broadcast"
    red = model.data(cell(model, 0, "severity"), Qt.ItemDataRole.BackgroundRole).color()
    orange = model.data(cell(model, 2, "severity"), Qt.ItemDataRole.BackgroundRole).color()
    assert red == QColor(palette.SEVERITY["kvm_inconsistent"][0])
    assert orange == QColor(palette.SEVERITY["differs_from_hardware"][0])
    assert model.data(cell(model, 1, "severity"), Qt.ItemDataRole.BackgroundRole) is None
    assert "KVM inconsistent" in model.data(cell(model, 0, "severity"), Qt.ItemDataRole.ToolTipRole)


def test_status_column_reports_a_lost_logical_slot(window):
    """5.2: vCPUs 0 and 1 share flat ID 1; the last one written (vCPU 1) owns bit 0, vCPU 0 lost it."""
    load(window, [{"id": 0, "logical_id": 1}, {"id": 1, "logical_id": 1}], [], kernel="5.2")
    model = window.vcpu_model
    assert text(model, 0, "status") == "lost logical slot"
    assert text(model, 1, "status") == "ok"
    tip = model.data(cell(model, 0, "status"), Qt.ItemDataRole.ToolTipRole)
    assert "lost its logical slot (bit 0, logical ID 0x1) to vCPU 0x1" in tip
    assert model.data(cell(model, 0, "status"), Qt.ItemDataRole.BackgroundRole).color() == COLOURS["warn"]


def test_explain_lines_are_typed_and_coloured_by_class(window):
    """The model types each line (kind, vCPU, class); the Explain dock colours from the palette by class code."""
    from apicviz.gui.views.explain_view import line_html
    from apicviz.model.explain import explain_lines

    load(window, [{"id": 0}, {"id": 1, "xapic_id": 0}], [{"source": 0, "dest": 0}])
    ev = window.controller.evaluation
    lines = explain_lines(ev, 0)
    dropped = [line for line in lines if line.kind == "dropped"]
    assert len(dropped) == 1
    assert dropped[0].severity == "kvm_inconsistent"
    per_vcpu = {line.vcpu: line for line in lines if line.kind == "vcpu"}
    assert (per_vcpu[1].mark, per_vcpu[1].severity) == ("dropped", "kvm_inconsistent")
    assert (per_vcpu[0].mark, per_vcpu[0].severity) == ("target", None)
    fill, colour, _solid = palette.SEVERITY["kvm_inconsistent"]
    assert f"background:{fill}; color:{colour}" in line_html(dropped[0])
    assert "background" not in line_html(per_vcpu[0])
    window.controller.select_interrupt(0)
    assert "DROPPED: 0x1 should get it but do not." in window.explain_view.text()
