"""The interrupts table: results per message, dropped cells flagged, selection to the controller."""
from __future__ import annotations

from gui_helpers import cell, edit, text
from PySide6.QtCore import Qt

from apicviz.gui.controller import edits
from apicviz.gui.controller.controller import INTERRUPTS
from apicviz.gui.views.table_model import COLOURS


def test_results_are_shown_with_vcpu_ids_in_hex(window):
    model = window.interrupt_model
    assert model.rowCount() == 4
    assert text(model, 0, "path") == "fast"
    assert text(model, 0, "targets") == "0x2"
    assert text(model, 1, "targets") == "0x0, 0x1, 0x2, 0x3"
    assert text(model, 2, "source") == "MSI"
    assert text(model, 2, "dest") == "0x23"
    assert text(model, 3, "dest") == "—"


def test_dropped_cell_is_red_and_says_dropped(window):
    model = window.interrupt_model
    index = cell(model, 0, "dropped")
    assert model.data(index, Qt.ItemDataRole.DisplayRole) == "DROPPED 0x3"
    assert model.data(index, Qt.ItemDataRole.BackgroundRole).color() == COLOURS["bad"]
    assert model.data(index, Qt.ItemDataRole.FontRole).bold()
    assert "hardware: 0x2, 0x3" in model.data(index, Qt.ItemDataRole.ToolTipRole)
    assert text(model, 1, "dropped") == "—"
    assert model.data(cell(model, 1, "dropped"), Qt.ItemDataRole.BackgroundRole) is None


def test_fixing_the_alias_clears_the_drop(window, qtbot):
    model = window.interrupt_model
    with qtbot.waitSignal(model.dataChanged):
        assert edit(window.vcpu_model, 3, "xapic_id", "3")
    assert text(model, 0, "dropped") == "—"
    assert "DROPPED" not in window.summary.text()


def test_editing_dest_reroutes(window):
    model = window.interrupt_model
    assert edit(model, 0, "dest", "0x1")
    assert text(model, 0, "targets") == "0x1"
    assert window.controller.undo_stack.undoText() == "Set destination of interrupt 0 to 0x1"


def test_xapic_sender_cannot_use_a_wide_destination(window, qtbot):
    with qtbot.waitSignal(window.controller.edit_refused) as blocker:
        assert not edit(window.interrupt_model, 0, "dest", "0x123")
    assert "allowed 0..0xff" in blocker.args[0]
    assert text(window.interrupt_model, 0, "dest") == "0x2"


def test_switching_a_sender_to_xapic_with_a_wide_destination_is_refused(window, qtbot):
    controller = window.controller
    assert edit(window.vcpu_model, 4, "apic", "x2apic")
    assert edit(window.interrupt_model, 2, "source", "0x123")  # the MSI becomes an IPI from 0x123
    assert edit(window.interrupt_model, 2, "dest", "0x123")  # an x2APIC ICR has 32 bits
    assert not edit(window.vcpu_model, 4, "apic", "xapic")
    assert "8-bit ICR destination" in controller.last_refusal
    assert controller.scenario.vcpus[4].apic == "x2apic"


def test_source_accepts_msi_and_vcpu_ids(window, qtbot):
    model = window.interrupt_model
    assert edit(model, 0, "source", "msi")
    assert text(model, 0, "source") == "MSI"
    assert edit(model, 0, "source", "1")
    assert text(model, 0, "source") == "0x1"
    with qtbot.waitSignal(window.controller.edit_refused) as blocker:
        assert not edit(model, 0, "source", "0x77")
    assert "no vCPU has id 0x77" in blocker.args[0]


def test_choice_columns_name_the_choices(window, qtbot):
    with qtbot.waitSignal(window.controller.edit_refused) as blocker:
        assert not edit(window.interrupt_model, 0, "delivery", "fast")
    assert "use one of fixed, lowest, smi, nmi, init, sipi" in blocker.args[0]
    assert not edit(window.interrupt_model, 0, "vector", "256")
    assert "allowed 0..255" in window.controller.last_refusal


def test_add_duplicate_remove_interrupts(window, qtbot):
    controller = window.controller
    model = window.interrupt_model
    with qtbot.waitSignal(model.rowsInserted), qtbot.assertNotEmitted(model.modelReset):
        assert edits.add_interrupt(controller)
    assert model.rowCount() == 5
    assert text(model, 4, "source") == "0x0"
    assert edits.duplicate_rows(controller, INTERRUPTS, [0])
    assert text(model, 1, "name") == "IPI to aliased APIC ID 0x2"
    assert text(model, 1, "dropped") == "DROPPED 0x3"
    with qtbot.waitSignal(model.rowsRemoved):
        assert edits.remove_rows(controller, INTERRUPTS, [1])
    controller.undo_stack.undo()
    controller.undo_stack.undo()
    controller.undo_stack.undo()
    assert model.rowCount() == 4


def test_selecting_a_row_selects_the_interrupt(window, qtbot):
    controller = window.controller
    with qtbot.waitSignal(controller.interrupt_selection_changed) as blocker:
        window.interrupt_panel.view.selectRow(2)
    assert blocker.args == [2]
    assert controller.selected_interrupt == 2
    controller.select_interrupt(1)
    assert window.interrupt_panel.selected_rows() == [1]
    controller.select_interrupt(-1)
    assert window.interrupt_panel.selected_rows() == []


def test_selected_interrupt_follows_a_move(window):
    controller = window.controller
    controller.select_interrupt(0)
    assert edits.move_rows(controller, INTERRUPTS, [0], 1)
    assert controller.selected_interrupt == 1
    assert window.interrupt_panel.selected_rows() == [1]


def test_msi_above_0xff_needs_32bit_ids(window, qtbot):
    """FORMAT.md: an MSI names bits 31:8 only with use_32bit_ids; the table refuses it with the reason."""
    controller = window.controller
    model = window.interrupt_model
    assert text(model, 2, "source") == "MSI"
    with qtbot.waitSignal(controller.edit_refused) as blocker:
        assert not edit(model, 2, "dest", "0x123")
    assert "interrupts[2].dest" in blocker.args[0]
    assert "use_32bit_ids" in blocker.args[0]
    assert "allowed 0..0xff" in window.statusBar().currentMessage()
    assert text(model, 2, "dest") == "0x23"
    # An x2APIC sender's IPI to 0x123 is fine, but it cannot become an MSI without 32-bit IDs.
    assert edit(window.vcpu_model, 4, "apic", "x2apic")
    assert edit(model, 0, "source", "0x123")
    assert edit(model, 0, "dest", "0x123")
    assert not edit(model, 0, "source", "msi")
    assert "32-bit IDs" in controller.last_refusal
    # With 32-bit IDs on, the MSI may name 0x123; turning them off again is refused while it does.
    window.kvm_panel.flags["use_32bit_ids"].setChecked(True)
    assert edit(model, 2, "dest", "0x123")
    depth = controller.undo_stack.count()
    with qtbot.waitSignal(controller.edit_refused) as blocker:
        window.kvm_panel.flags["use_32bit_ids"].setChecked(False)
    assert "interrupts[2].dest" in blocker.args[0]
    assert controller.scenario.kvm.use_32bit_ids
    assert window.kvm_panel.flags["use_32bit_ids"].isChecked()  # the box shows the value that stayed
    assert controller.undo_stack.count() == depth
