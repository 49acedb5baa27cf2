"""The vCPU table: edits through setData reach the map, refusals keep the old value, rows move."""
from __future__ import annotations

from gui_helpers import cell, edit, phys_map_ids, text
from PySide6.QtCore import QItemSelectionModel, Qt

from apicviz.gui.controller import edits
from apicviz.gui.controller.controller import VCPUS


def test_example_is_loaded_with_an_alias(window):
    model = window.vcpu_model
    assert model.rowCount() == 5
    assert text(model, 3, "xapic_id") == "0x2"
    assert text(model, 2, "status") == "aliased"
    assert text(model, 3, "status") == "aliased, unreachable"
    # the words come from the model's codes, which say more than the cell has room for
    codes = [s.code for s in window.controller.evaluation.vcpu_status.of(3)]
    assert codes == ["physical_alias", "physical_slot_lost", "unreachable", "xapic_id_modified"]
    assert text(model, 4, "status") == "ok"


def test_editing_xapic_id_moves_the_map_slot(window, qtbot):
    controller = window.controller
    model = window.vcpu_model
    assert 3 not in phys_map_ids(controller)
    with qtbot.waitSignal(model.dataChanged), qtbot.assertNotEmitted(model.modelReset):
        assert edit(model, 3, "xapic_id", "0x3")
    assert phys_map_ids(controller)[3] == 3
    assert text(model, 3, "xapic_id") == "0x3"
    assert text(model, 3, "phys") == "0x3"
    assert text(model, 3, "status") == "ok"
    assert controller.scenario.vcpus[3].xapic_id == 3


def test_decimal_input_is_shown_in_hex(window):
    assert edit(window.vcpu_model, 4, "xapic_id", "36")
    assert text(window.vcpu_model, 4, "xapic_id") == "0x24"
    assert phys_map_ids(window.controller)[0x24] == 0x123


def test_equal_xapic_ids_alias_and_upstream_drops_the_map(window):
    controller = window.controller
    model = window.vcpu_model
    assert edit(model, 3, "xapic_id", "0x3")  # no alias left
    window.kvm_panel.kernel.setCurrentText("upstream")
    assert controller.scenario.kvm.kernel == "upstream"
    assert controller.evaluation.result.status == "optimized"
    assert "map: optimized" in window.summary.text()

    assert edit(model, 1, "xapic_id", "0x0")
    assert text(model, 0, "status").startswith("aliased")
    assert text(model, 1, "status").startswith("aliased")
    assert controller.evaluation.result.status == "none"
    assert "NONE" in window.summary.text()
    assert "aliased APIC ID 0x0" in window.summary.text()
    assert window.summary.map.level == "bad"


def test_undo_restores_value_and_map(window):
    controller = window.controller
    model = window.vcpu_model
    before = phys_map_ids(controller)
    assert edit(model, 0, "xapic_id", "0x40")
    assert phys_map_ids(controller)[0x40] == 0
    assert controller.undo_stack.undoText() == "Set xAPIC ID of vCPU 0x0 to 0x40"
    assert "Set xAPIC ID of vCPU 0x0 to 0x40" in window.undo_action.text()
    controller.undo_stack.undo()
    assert controller.scenario.vcpus[0].xapic_id == 0
    assert text(model, 0, "xapic_id") == "0x0"
    assert phys_map_ids(controller) == before
    controller.undo_stack.redo()
    assert phys_map_ids(controller)[0x40] == 0


def test_repeated_edits_of_one_cell_merge(window):
    stack = window.controller.undo_stack
    edit(window.vcpu_model, 0, "logical_id", "0x3")
    edit(window.vcpu_model, 0, "logical_id", "0x7")
    assert stack.count() == 1
    assert stack.undoText() == "Set logical ID of vCPU 0x0 to 0x7"
    stack.undo()
    assert window.controller.scenario.vcpus[0].logical_id == 1


def _refused(window, qtbot, row, key, value):
    controller = window.controller
    with qtbot.waitSignal(controller.edit_refused) as blocker:
        assert not edit(window.vcpu_model, row, key, value)
    message = blocker.args[0]
    assert window.statusBar().currentMessage().endswith(message)
    return message


def test_out_of_range_xapic_id_is_refused_with_the_range(window, qtbot):
    message = _refused(window, qtbot, 3, "xapic_id", "0x100")
    assert "vcpus[3].xapic_id" in message
    assert "allowed 0..255 (0x0..0xff)" in message
    assert window.controller.scenario.vcpus[3].xapic_id == 2
    assert text(window.vcpu_model, 3, "xapic_id") == "0x2"
    assert window.controller.undo_stack.count() == 0


def test_non_number_is_refused_with_the_range(window, qtbot):
    message = _refused(window, qtbot, 0, "xapic_id", "abc")
    assert "'abc' is not a number" in message
    assert "allowed 0..255 (0x0..0xff)" in message
    assert text(window.vcpu_model, 0, "xapic_id") == "0x0"


def test_duplicate_vcpu_id_is_refused(window, qtbot):
    message = _refused(window, qtbot, 1, "id", "0x0")
    assert "already used" in message
    assert "unique" in message
    assert text(window.vcpu_model, 1, "id") == "0x1"
    assert [v.id for v in window.controller.scenario.vcpus] == [0, 1, 2, 3, 0x123]


def test_vcpu_id_range_is_named(window, qtbot):
    message = _refused(window, qtbot, 1, "id", "0xffffffff")
    assert "allowed 0..0xfffffffe" in message


def test_disabling_an_interrupt_source_is_refused(window, qtbot):
    message = _refused(window, qtbot, 0, "apic", "disabled")  # vCPU 0 sends interrupts 0 and 3
    assert "hardware-disabled" in message
    assert window.controller.scenario.vcpus[0].apic == "xapic"


def test_changing_a_vcpu_id_carries_its_interrupts_and_reset_xapic_id(window):
    controller = window.controller
    assert edit(window.vcpu_model, 0, "id", "0x10")
    assert controller.scenario.vcpus[0].xapic_id == 0x10
    assert controller.scenario.interrupts[0].source == 0x10
    assert text(window.interrupt_model, 0, "source") == "0x10"
    controller.undo_stack.undo()
    assert controller.scenario.vcpus[0].id == 0
    assert controller.scenario.interrupts[0].source == 0


def test_software_enable_checkbox(window):
    model = window.vcpu_model
    index = cell(model, 2, "sw_enabled")
    assert model.flags(index) & Qt.ItemFlag.ItemIsUserCheckable
    assert model.data(index, Qt.ItemDataRole.CheckStateRole) == Qt.CheckState.Checked
    assert model.setData(index, Qt.CheckState.Unchecked.value, Qt.ItemDataRole.CheckStateRole)
    assert window.controller.scenario.vcpus[2].sw_enabled is False
    assert window.controller.undo_stack.undoText() == "Set software enable of vCPU 0x2 to no"


def test_dfr_accepts_names_and_raw_values(window):
    model = window.vcpu_model
    assert edit(model, 0, "dfr", "cluster")
    assert text(model, 0, "dfr") == "cluster"
    assert edit(model, 0, "dfr", "0x12345678")
    assert text(model, 0, "dfr") == "0x12345678"
    assert window.controller.evaluation.result.map.logical_mode in ("disabled", "cluster", "flat")


def test_set_for_selection_is_one_undo_step(window):
    model = window.vcpu_model
    controller = window.controller
    column = cell(model, 0, "apic").column()
    assert model.set_for_rows([1, 2, 3], column, "x2apic")
    assert [v.apic for v in controller.scenario.vcpus] == ["xapic", "x2apic", "x2apic", "x2apic", "xapic"]
    assert controller.undo_stack.count() == 1
    assert controller.undo_stack.undoText() == "Set APIC mode of 3 vCPUs to x2apic"
    controller.undo_stack.undo()
    assert all(v.apic == "xapic" for v in controller.scenario.vcpus)


def test_ctrl_enter_in_an_editor_sets_every_selected_row(window, qtbot):
    window.show()
    panel = window.vcpu_panel
    view = panel.view
    model = window.vcpu_model
    panel.select_rows([0, 1, 2])
    index = cell(model, 0, "arb_prio")
    view.selectionModel().setCurrentIndex(index, QItemSelectionModel.SelectionFlag.NoUpdate)
    view.edit(index)
    qtbot.waitUntil(lambda: view.state() == view.State.EditingState)
    editor = view.indexWidget(index)
    editor.selectAll()
    qtbot.keyClicks(editor, "7")
    qtbot.keyClick(editor, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
    assert [v.arb_prio for v in window.controller.scenario.vcpus] == [7, 7, 7, 0, 0]
    assert window.controller.undo_stack.count() == 1


def test_plain_enter_sets_only_the_cell(window, qtbot):
    window.show()
    panel = window.vcpu_panel
    view = panel.view
    model = window.vcpu_model
    panel.select_rows([0, 1])
    index = cell(model, 1, "arb_prio")
    view.selectionModel().setCurrentIndex(index, QItemSelectionModel.SelectionFlag.NoUpdate)
    view.edit(index)
    qtbot.waitUntil(lambda: view.state() == view.State.EditingState)
    editor = view.indexWidget(index)
    editor.selectAll()
    qtbot.keyClicks(editor, "0x10")
    qtbot.keyClick(editor, Qt.Key.Key_Return)  # Qt commits through a queued call
    qtbot.waitUntil(lambda: view.state() != view.State.EditingState)
    assert [v.arb_prio for v in window.controller.scenario.vcpus] == [0, 16, 0, 0, 0]


def test_set_for_selection_action_asks_once(window, monkeypatch):
    from PySide6.QtWidgets import QInputDialog

    asked = []

    def get_text(parent, title, label, text=""):
        asked.append((label, text))
        return "cluster", True

    monkeypatch.setattr(QInputDialog, "getText", staticmethod(get_text))
    panel = window.vcpu_panel
    panel.select_rows([0, 2])
    panel.view.selectionModel().setCurrentIndex(cell(window.vcpu_model, 0, "dfr"),
                                                QItemSelectionModel.SelectionFlag.NoUpdate)
    panel.actions_by_name["set_selection"].trigger()
    assert "DFR for 2 row(s)" in asked[0][0]
    assert asked[0][1] == "flat"
    assert [v.dfr_model for v in window.controller.scenario.vcpus] == ["cluster", "flat", "cluster", "flat", "flat"]
    assert window.controller.undo_stack.undoText() == "Set DFR of 2 vCPUs to cluster"


def test_add_remove_move_emit_row_signals_and_undo(window, qtbot):
    controller = window.controller
    model = window.vcpu_model
    stack = controller.undo_stack

    with qtbot.waitSignal(model.rowsInserted) as inserted, qtbot.assertNotEmitted(model.modelReset):
        assert edits.add_vcpus(controller, [edits.new_vcpu(controller)])
    assert inserted.args[1:] == [5, 5]
    assert text(model, 5, "id") == "0x124"
    assert stack.undoText() == "Add vCPU 0x124"

    with qtbot.waitSignal(model.rowsMoved) as moved:
        assert edits.move_rows(controller, VCPUS, [5], -1)
    # Moving row 5 up is moving row 4 below it (beginMoveRows(4, 4, before 6)).
    assert moved.args[1:3] == [4, 4]
    assert moved.args[4] == 6
    assert [v.id for v in controller.scenario.vcpus] == [0, 1, 2, 3, 0x124, 0x123]
    assert text(model, 4, "id") == "0x124"
    assert stack.undoText() == "Move vCPU 0x124 up"

    with qtbot.waitSignal(model.rowsRemoved) as removed:
        assert edits.remove_rows(controller, VCPUS, [2, 4])
    assert [v.id for v in controller.scenario.vcpus] == [0, 1, 3, 0x123]
    assert removed.args[1:] in ([4, 4], [2, 2])
    assert model.rowCount() == 4

    stack.undo()  # remove
    assert [v.id for v in controller.scenario.vcpus] == [0, 1, 2, 3, 0x124, 0x123]
    stack.undo()  # move
    assert [v.id for v in controller.scenario.vcpus] == [0, 1, 2, 3, 0x123, 0x124]
    with qtbot.waitSignal(model.rowsRemoved):
        stack.undo()  # add
    assert [v.id for v in controller.scenario.vcpus] == [0, 1, 2, 3, 0x123]
    assert model.rowCount() == 5


def test_moving_a_block_and_creation_order_decides_the_winner(window):
    controller = window.controller
    # vCPU 3 moves before vCPU 2: now it is first to claim phys_map[0x2] on 6.1.
    assert edits.move_rows(controller, VCPUS, [3], -1)
    assert phys_map_ids(controller)[2] == 3
    assert text(window.vcpu_model, 3, "status").startswith("aliased, unreachable")
    assert edits.move_rows(controller, VCPUS, [0, 1], 1)
    assert [v.id for v in controller.scenario.vcpus] == [3, 0, 1, 2, 0x123]
    assert not edits.move_rows(controller, VCPUS, [0, 2], 1)  # not adjacent: refused
    assert "adjacent" in controller.last_refusal


def test_duplicate_gets_a_free_id_and_follows_the_source(window):
    controller = window.controller
    assert edits.duplicate_rows(controller, VCPUS, [1])
    ids = [v.id for v in controller.scenario.vcpus]
    assert ids == [0, 1, 4, 2, 3, 0x123]
    assert controller.scenario.vcpus[2].xapic_id == 4
    assert controller.scenario.vcpus[2].logical_id == 2
    assert controller.undo_stack.undoText() == "Duplicate vCPU 0x1 as 0x4"


def test_removing_an_interrupt_source_is_refused(window):
    assert not edits.remove_rows(window.controller, VCPUS, [1])
    assert "interrupts[1].source" in window.controller.last_refusal
    assert len(window.controller.scenario.vcpus) == 5


def test_panel_actions_use_the_selection(window, qtbot):
    panel = window.vcpu_panel
    controller = window.controller
    panel.select_rows([4])
    panel._on_view_selection_changed()
    panel.actions_by_name["remove"].trigger()
    assert [v.id for v in controller.scenario.vcpus] == [0, 1, 2, 3]
    panel.actions_by_name["add"].trigger()
    assert [v.id for v in controller.scenario.vcpus] == [0, 1, 2, 3, 4]
    assert panel.selected_rows() == [4]


def test_add_n_dialog_pattern(window, qtbot):
    from apicviz.gui.views.add_vcpus_dialog import AddVcpusDialog

    dialog = AddVcpusDialog(window.controller, window)
    qtbot.addWidget(dialog)
    dialog.first.setText("0x200")
    dialog.step.setText("2")
    dialog.count.setValue(3)
    dialog.mode.setCurrentText("x2apic")
    assert dialog.preview.text() == "0x200, 0x202, 0x204"
    dialog.accept()
    assert dialog.result() == dialog.DialogCode.Accepted
    added = window.controller.scenario.vcpus[5:]
    assert [(v.id, v.apic) for v in added] == [(0x200, "x2apic"), (0x202, "x2apic"), (0x204, "x2apic")]
    assert window.controller.undo_stack.undoText() == "Add 3 vCPUs (0x200..0x204)"


def test_add_n_dialog_refuses_duplicates_and_stays_open(window, qtbot):
    from apicviz.gui.views.add_vcpus_dialog import AddVcpusDialog

    dialog = AddVcpusDialog(window.controller, window)
    qtbot.addWidget(dialog)
    dialog.first.setText("0")
    dialog.accept()
    assert dialog.result() != dialog.DialogCode.Accepted
    assert "unique" in dialog.error.text()
    dialog.first.setText("0x1g")
    assert "not a number" in dialog.error.text()
    assert len(window.controller.scenario.vcpus) == 5


def test_table_selection_reaches_the_controller_and_back(window, qtbot):
    controller = window.controller
    panel = window.vcpu_panel
    with qtbot.waitSignal(controller.vcpu_selection_changed) as blocker:
        panel.view.selectRow(2)
    assert blocker.args == [[2]]
    assert controller.selected_vcpus == [2]
    # From elsewhere (the map view): the table follows without echoing back.
    with qtbot.assertNotEmitted(panel.rows_selected):
        controller.select_vcpus([0, 3])
    assert panel.selected_rows() == [0, 3]
    assert controller.selected_vcpus == [0, 3]


def test_selection_follows_rows_when_one_is_removed(window):
    controller = window.controller
    panel = window.vcpu_panel
    controller.select_vcpus([4])
    assert edits.remove_rows(controller, VCPUS, [2])
    assert controller.selected_vcpus == [3]
    assert panel.selected_rows() == [3]


def test_headers_explain_the_registers(window):
    model = window.vcpu_model
    tips = {c.key: model.headerData(i, Qt.Orientation.Horizontal, Qt.ItemDataRole.ToolTipRole)
            for i, c in enumerate(model.columns)}
    assert "APIC_ID register bits 31:24, guest-writable; KVM resets it to vcpu_id & 0xff" in tips["xapic_id"]
    assert all(tips.values())
    irq = window.interrupt_model
    assert all(irq.headerData(i, Qt.Orientation.Horizontal, Qt.ItemDataRole.ToolTipRole)
               for i in range(irq.columnCount()))


def test_ignored_fields_are_greyed_in_x2apic_mode(window):
    model = window.vcpu_model
    assert edit(model, 4, "apic", "x2apic")
    tip = model.data(cell(model, 4, "xapic_id"), Qt.ItemDataRole.ToolTipRole)
    assert "ignored" in tip
    assert text(model, 4, "phys") == "0x123"


def test_keyboard_delete_and_alt_up(window, qtbot):
    window.show()
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow)
    view = window.vcpu_panel.view
    view.setFocus()
    view.selectRow(4)
    qtbot.keyClick(view, Qt.Key.Key_Up, Qt.KeyboardModifier.AltModifier)
    assert [v.id for v in window.controller.scenario.vcpus] == [0, 1, 2, 0x123, 3]
    assert window.vcpu_panel.selected_rows() == [3]
    qtbot.keyClick(view, Qt.Key.Key_Delete)
    assert [v.id for v in window.controller.scenario.vcpus] == [0, 1, 2, 3]
    qtbot.keyClick(view, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert [v.id for v in window.controller.scenario.vcpus] == [0, 1, 2, 0x123, 3]


def test_badges_for_hotplug_only_and_hardware_disabled(window, tmp_path):
    path = tmp_path / "hotplug.apicviz.json"
    path.write_text('{"kvm": {"kernel": "6.1"}, "vcpus": [{"id": 5}, {"id": 261, "xapic_id": 5}, '
                    '{"id": 7, "apic": "disabled"}]}')
    assert window.files.open_path(str(path))
    model = window.vcpu_model
    assert text(model, 0, "status") == "aliased"
    assert text(model, 1, "status") == "aliased, hotplug only"
    assert "hotplug hack" in model.data(cell(model, 1, "status"), Qt.ItemDataRole.ToolTipRole)
    assert text(model, 2, "status") == "hw disabled"
    assert text(model, 2, "phys") == "—"
