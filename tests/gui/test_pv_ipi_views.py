"""PV IPIs in the window: the Via column, Explain, the map's P marks, the status chip and the sweep filter.

The window opens the built-in example on 6.1: vCPUs 0..3 and 0x123, vCPU 3
rewrote its APIC_ID to 0x2 (aliased with vCPU 2); interrupt 0 is an IPI from
vCPU 0 to physical 0x2, interrupt 2 an MSI, interrupt 3 an NMI to all but self.
"""
from __future__ import annotations

from gui_helpers import cell, edit, text
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QComboBox, QStyleOptionViewItem, QWidget

from apicviz.gui.views.delegates import CellDelegate
from apicviz.gui.views.sweep_model import FILTER_PV_IPI
from apicviz.model.sweep import KIND_PV_IPI


def _make_pv(window, row: int = 0) -> None:
    assert edit(window.interrupt_model, row, "via", "PV IPI")


def test_via_column_makes_a_pv_ipi_as_an_undoable_edit(window):
    model = window.interrupt_model
    controller = window.controller
    assert [text(model, r, "via") for r in range(4)] == ["ICR"] * 4
    _make_pv(window)
    assert controller.scenario.interrupts[0].via == "pv_ipi"
    assert controller.undo_stack.undoText() == "Set Via of interrupt 0 to PV IPI"
    # 6.1: phys_map[0x2] holds vCPU 2; vCPU 3, which also answers to 0x2, lost the slot.
    assert text(model, 0, "path") == "PV IPI: delivered"
    assert text(model, 0, "targets") == "0x2"
    assert text(model, 0, "dropped") == "DROPPED 0x3"
    tip = model.data(cell(model, 0, "path"), Qt.ItemDataRole.ToolTipRole)
    assert "slow path alone: none: KVM serves PV IPIs from the map alone" in tip
    controller.undo_stack.undo()
    assert controller.scenario.interrupts[0].via == "icr"
    assert text(model, 0, "path") == "fast"


def test_via_editor_is_a_combo_of_the_choices(window, qtbot):
    model = window.interrupt_model
    delegate = CellDelegate(window.interrupt_panel.view)
    parent = QWidget()
    qtbot.addWidget(parent)
    editor = delegate.createEditor(parent, QStyleOptionViewItem(), cell(model, 0, "via"))
    assert isinstance(editor, QComboBox)
    assert [editor.itemText(i) for i in range(editor.count())] == ["ICR", "PV IPI"]
    delegate.setEditorData(editor, cell(model, 0, "via"))
    assert editor.currentText() == "ICR"
    editor.setCurrentIndex(1)
    delegate.setModelData(editor, model, cell(model, 0, "via"))
    assert window.controller.scenario.interrupts[0].via == "pv_ipi"


def test_pv_ipi_is_refused_where_the_other_fields_forbid_it(window, qtbot):
    controller = window.controller
    model = window.interrupt_model
    with qtbot.waitSignal(controller.edit_refused) as blocker:
        assert not edit(model, 3, "via", "PV IPI")  # an NMI to all but self: a shorthand
    assert "interrupts[3].shorthand" in blocker.args[0]
    assert 'use "none"' in blocker.args[0]
    assert "with via \"pv_ipi\"" in window.statusBar().currentMessage()
    assert not edit(model, 2, "via", "PV IPI")  # an MSI has no vCPU to make the hypercall
    assert "needs a source vCPU" in controller.last_refusal
    assert not edit(model, 1, "via", "PV IPI")  # logical
    assert "interrupts[1].dest_mode" in controller.last_refusal
    assert not edit(model, 0, "via", "hypercall")
    assert "use one of ICR, PV IPI" in controller.last_refusal
    assert [i.via for i in controller.scenario.interrupts] == ["icr"] * 4
    # ...and a PV IPI cannot be turned into something a PV IPI cannot carry.
    _make_pv(window)
    assert not edit(model, 0, "delivery", "lowest")
    assert "use one of fixed, nmi" in controller.last_refusal
    assert edit(model, 0, "delivery", "nmi")
    assert edit(model, 0, "dest", "0x123")  # 32-bit APIC IDs from an xAPIC sender are fine for a PV IPI
    assert text(model, 0, "targets") == "0x123"


def test_explain_says_what_the_guest_sees(window):
    _make_pv(window)
    window.controller.select_interrupt(0)
    text_61 = window.explain_view.text()
    assert "PV IPI (KVM_HC_SEND_IPI) from vCPU 0x0 to APIC ID 0x2: the hypercall returned 1" in text_61
    assert "0x3 also answer(s) to APIC ID 0x2 but lost slot 0x2" in text_61
    window.kvm_panel.kernel.setCurrentText("upstream")
    text_up = window.explain_view.text()
    assert "returned -EOPNOTSUPP because the map is NULL since vCPUs 0x2 and 0x3 share APIC ID 0x2" in text_up
    assert "'failed to send PV IPI' once and this IPI is lost" in text_up


def test_map_marks_the_apic_ids_a_pv_ipi_reaches(window):
    slots = window.map_view.slots
    assert slots is not None
    assert not slots.pv_marks
    assert not slots.info(0x2).pv_reach
    _make_pv(window)
    slots = window.map_view.slots
    ev = window.controller.evaluation
    assert ev.result.map is not None
    reach = {a for a in ev.result.map.phys_map if slots.info(a).pv_reach}
    assert reach == set(ev.result.map.phys_map) == {0, 1, 2, 0x23, 0x123}
    assert slots.info(0x2).pv_badge == "P"
    assert "P" in slots.info(0x2).text().split()
    assert not slots.info(0x5).pv_reach  # empty slot
    assert "not the vCPUs that lost this slot" in slots.tooltip(0x2)
    # 6.3+: the alias makes the map NULL, so no APIC ID is reachable by a PV IPI.
    window.kvm_panel.kernel.setCurrentText("upstream")
    slots = window.map_view.slots
    assert window.controller.evaluation.result.map is None
    assert slots.pv_marks
    assert not any(slots.info(a).pv_reach for a in (0, 1, 2, 0x23, 0x123))
    assert "every PV IPI fails" in slots.tooltip(0x2)
    assert "P — PV IPI reaches it" in window.map_view.legend.texts()


def test_status_chip_counts_lost_pv_ipis(window):
    summary = window.summary
    assert summary.pv_ipi.isHidden()
    assert "PV IPI" not in summary.text()
    assert edit(window.interrupt_model, 0, "dest", "0x1")
    _make_pv(window)
    assert not summary.pv_ipi.isHidden()
    assert "PV IPI: 0/1 lost" in summary.text()
    assert edit(window.interrupt_model, 0, "dest", "0x2")  # vCPU 3 lost slot 0x2
    assert "PV IPI: 1 lost" in summary.text()
    assert summary.pv_ipi.level == "kvm_inconsistent"
    window.kvm_panel.kernel.setCurrentText("upstream")
    assert "✖ PV IPI: 1 lost" in summary.text()
    assert "no map: -EOPNOTSUPP" in summary.pv_ipi.toolTip()
    window.controller.undo_stack.undo()  # back to 6.1
    window.controller.undo_stack.undo()  # dest 0x1 again
    window.controller.undo_stack.undo()  # ICR again
    assert summary.pv_ipi.isHidden()


def test_sweep_filter_shows_the_pv_ipi_rows(window, qtbot):
    view = window.sweep_view
    window.controller.ensure_sweep()
    qtbot.waitUntil(lambda: view.model.rowCount() > 0)
    qtbot.mouseClick(view.buttons[FILTER_PV_IPI], Qt.MouseButton.LeftButton)
    rows = view.visible_rows()
    assert rows
    assert all(r.kind == KIND_PV_IPI for r in rows)
    assert len(rows) < len(window.controller.sweep_result.rows)
    assert view.buttons[FILTER_PV_IPI].text() == f"PV IPI ({len(rows)})"
    assert any(view.cell_text(i, "KVM path") == "PV IPI: delivered" for i in range(len(rows)))
