"""The KVM panel: each widget change is an undo command that changes the routing."""
from __future__ import annotations

from gui_helpers import edit, text

from apicviz.gui.controller import edits


def _routes(controller):
    ev = controller.evaluation
    return [(r.path, ev.ids(r.targets), ev.ids(r.dropped)) for r in ev.routes]


def test_kernel_switch_changes_the_routing_of_the_example(window):
    controller = window.controller
    panel = window.kvm_panel
    assert panel.kernel.currentText() == "6.1"
    assert panel.behaviour.text() == "behaviour 5.3-6.2"
    on_61 = _routes(controller)
    assert on_61[0] == ("fast", [2], [3])

    panel.kernel.setCurrentText("upstream")
    on_upstream = _routes(controller)
    assert on_upstream != on_61
    assert on_upstream[0] == ("slow", [2, 3], [])
    assert controller.evaluation.result.status == "none"
    assert panel.behaviour.text() == "behaviour 6.3+"
    assert "kernel upstream (6.3+)" in window.summary.text()
    assert "NONE" in window.summary.text()
    assert "inhibits: 3" in window.summary.text()
    assert text(window.interrupt_model, 0, "path") == "slow"

    assert controller.undo_stack.undoText() == "Set kernel to upstream"
    controller.undo_stack.undo()
    assert panel.kernel.currentText() == "6.1"
    assert _routes(controller) == on_61
    assert controller.undo_stack.count() == 1  # the combo following undo pushed nothing


def test_32bit_ids_bring_the_map_back_on_upstream(window):
    controller = window.controller
    window.kvm_panel.kernel.setCurrentText("upstream")
    assert controller.evaluation.result.status == "none"
    window.kvm_panel.flags["use_32bit_ids"].setChecked(True)
    assert controller.scenario.kvm.use_32bit_ids
    assert controller.evaluation.result.status == "optimized"
    assert controller.undo_stack.undoText().startswith("Turn on 32-bit x2APIC IDs")
    controller.undo_stack.undo()
    assert not window.kvm_panel.flags["use_32bit_ids"].isChecked()


def test_map_allocation_failure(window):
    window.kvm_panel.flags["map_alloc_fails"].setChecked(True)
    assert window.controller.evaluation.result.status == "none"
    assert "allocation failed" in window.summary.text()


def test_title_typing_merges_into_one_step(window, qtbot):
    controller = window.controller
    title = window.kvm_panel.title
    title.clear()
    qtbot.keyClicks(title, "abc")
    assert controller.scenario.title == "abc"
    assert controller.undo_stack.count() == 1
    assert controller.undo_stack.undoText() == "Edit title"
    controller.undo_stack.undo()
    assert title.text() == "Aliased xAPIC IDs after a guest rewrote APIC_ID"


def test_kernel_outside_the_list_is_shown(window, tmp_path):
    path = tmp_path / "k.apicviz.json"
    path.write_text('{"kvm": {"kernel": "5.19"}, "vcpus": [{"id": 0}]}')
    assert window.files.open_path(str(path))
    assert window.kvm_panel.kernel.currentText() == "5.19"
    assert window.kvm_panel.behaviour.text() == "behaviour 5.3-6.2"
    assert window.controller.undo_stack.count() == 0


def test_smm_checkbox_is_an_undoable_edit(window, qtbot):
    """CONFIG_KVM_SMM off: the SMI keeps its targets and nobody accepts it; before 6.2 it cannot be off."""
    controller = window.controller
    panel = window.kvm_panel
    box = panel.flags["smm"]
    assert box.text() == "KVM built with SMM (CONFIG_KVM_SMM)"
    assert box.isChecked()
    assert not box.isEnabled()
    assert "before 6.2" in box.toolTip()
    assert edits.add_interrupt(controller)
    row = len(controller.scenario.interrupts) - 1
    assert edit(window.interrupt_model, row, "delivery", "smi")
    panel.kernel.setCurrentText("6.3")
    assert box.isEnabled()
    assert "CONFIG_KVM_SMM" in box.toolTip()
    targets = controller.evaluation.routes[row].targets
    assert controller.evaluation.routes[row].accepted == targets != []
    box.setChecked(False)
    assert controller.scenario.kvm.smm is False
    assert controller.undo_stack.undoText() == "Turn off KVM built with SMM (CONFIG_KVM_SMM)"
    assert controller.evaluation.routes[row].targets == targets
    assert controller.evaluation.routes[row].accepted == []
    with qtbot.waitSignal(controller.edit_refused) as blocker:
        panel.kernel.setCurrentText("6.1")  # 6.1 always has SMM: refused, the combo goes back
    assert "kvm.smm" in blocker.args[0]
    assert "6.2" in blocker.args[0]
    assert controller.scenario.kvm.kernel == "6.3"
    assert panel.kernel.currentText() == "6.3"
    controller.undo_stack.undo()
    assert box.isChecked()
    assert controller.scenario.kvm.smm
    assert controller.evaluation.routes[row].accepted == targets
