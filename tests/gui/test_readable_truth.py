"""Readable truth, no contradictions (issue 10 item 4): step-through map, explain words, editing, glyphs, Help."""
from __future__ import annotations

from pathlib import Path

import pytest
from gui_helpers import cell
from PySide6.QtCore import Qt
from PySide6.QtGui import QKeySequence, QRawFont
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QLineEdit

from apicviz.gui.shell.examples_menu import example_files, open_example
from apicviz.model import evaluate, load_scenario, scenario_from_dict
from apicviz.model.apic_map import recalculate
from apicviz.model.explain import explain_route
from apicviz.model.replay import built_so_far

EXAMPLES = Path(__file__).resolve().parents[2] / "apicviz" / "resources" / "examples"
ALIASED_61 = EXAMPLES / "02-aliased-xapic-id-6.1.apicviz.json"
ALIASED_UP = EXAMPLES / "03-aliased-xapic-id-upstream.apicviz.json"


# ----- the step-through shows the map as built so far -----------------------------------------

@pytest.mark.parametrize("path", example_files(), ids=lambda p: p.name[:2])
def test_replaying_every_step_gives_the_finished_map(path):
    scenario = load_scenario(path)
    trace: list = []
    result = recalculate(scenario, trace)
    last = built_so_far(trace, len(trace) - 1)
    if result.map is None:
        assert last.gave_up is not None or not trace or trace[-1].action in ("alias", "alloc")
    else:
        assert last.phys_map == result.map.phys_map
        assert last.slot_kind == result.map.slot_kind
    assert built_so_far(trace, -1).phys_map == {}


def test_step_through_draws_the_half_built_map(window, qapp, qtbot):
    open_example(window, window.controller, ALIASED_61)  # vCPUs 0 and 1 both xAPIC ID 0, vCPU 2 at 2
    window.show()
    window.step_dock.raise_()
    qtbot.waitUntil(lambda: bool(window.step_view.steps))
    steps, view = window.step_view, window.map_view
    assert view.slot_info(0).vcpu_id == 0
    assert view.slot_info(2).vcpu_id == 2
    steps.go(0)
    assert view.slot_info(0).vcpu_id == 0
    assert view.slot_info(2).state == "empty"  # vCPU 2 has not been written yet
    assert not view.slot_info(0).losers  # the lost slot belongs to a later step
    assert "Step 1 of" in view.banner_text()
    flat = [c for row in view.logical.data.rows for c in row.cells]
    assert [c.vcpu_id for c in flat if c.vcpu is not None] == []  # no logical slot written at step 1
    steps.go(1)  # vCPU 0 → flat logical bit 0
    flat = [c for row in view.logical.data.rows for c in row.cells]
    assert [c.vcpu_id for c in flat if c.vcpu is not None] == [0]
    steps.go(len(steps.steps) - 1)
    assert view.slot_info(2).vcpu_id == 2
    assert view.slot_info(0).losers == [1]
    window.interrupt_dock.raise_()  # the tab is left: the finished map again
    qtbot.waitUntil(lambda: "Step" not in view.banner_text())
    assert view.slot_info(2).vcpu_id == 2


def test_step_through_before_kvm_gives_the_map_up(window, qtbot):
    open_example(window, window.controller, ALIASED_UP)
    window.show()
    window.step_dock.raise_()
    qtbot.waitUntil(lambda: bool(window.step_view.steps))
    steps, view = window.step_view, window.map_view
    steps.go(0)
    assert view.slot_info(0).state == "direct"  # a map exists while it is being built
    steps.go(len(steps.steps) - 1)  # the alias: KVM discards the map
    assert "NO OPTIMIZED MAP" in view.banner_text()


# ----- Explain: targets and accepted in words that do not contradict ---------------------------

@pytest.mark.parametrize("path", example_files(), ids=lambda p: p.name[:2])
def test_explain_never_says_discards_and_accepts_of_one_vcpu(path):
    ev = evaluate(load_scenario(path))
    for n, _irq in enumerate(ev.scenario.interrupts):
        route = ev.routes[n]
        lines = explain_route(ev, n)
        text = "\n".join(lines)
        assert "gets it" not in text
        for idx, v in enumerate(ev.scenario.vcpus):
            own = [line for line in lines if line.startswith(f"• vCPU {v.id:#x} ")]
            for line in own:
                if "discards" in line:
                    assert idx in route.targets
                    assert idx not in route.accepted
                    assert "accepts it" not in line
                if "is sent it and accepts it" in line:
                    assert idx in route.accepted


def test_explain_keeps_sent_and_accepted_apart():
    scenario = scenario_from_dict({"kvm": {"kernel": "6.1"},
                                   "vcpus": [{"id": 0}, {"id": 1, "sw_enabled": False}],
                                   "interrupts": [{"source": 0, "shorthand": "all"}]})
    ev = evaluate(scenario)
    text = "\n".join(explain_route(ev, 0))
    assert "sends it to 0x0, 0x1 (accepted by 0x0)" in text
    assert ("• vCPU 0x1 (xAPIC ID 0x1, logical 0x0 flat, software-disabled) is sent it, but its "
            "software-disabled APIC discards a fixed message (not accepted)") in text
    assert "vCPU 0x0 (xAPIC ID 0x0, logical 0x0 flat) is sent it and accepts it" in text


# ----- editing: a typed value replaces the old text; one Ctrl+Enter is one undo step -----------

def _open_editor(window, qtbot, row: int, key: str):
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow)
    view = window.vcpu_panel.view
    index = cell(window.vcpu_model, row, key)
    view.setFocus()
    view.setCurrentIndex(index)
    return view, index


def _editor(view) -> QLineEdit:
    found = [e for e in view.viewport().findChildren(QLineEdit) if e.isVisible()]
    assert len(found) == 1, found
    return found[0]


def test_typing_into_a_cell_replaces_its_text(window, qtbot):
    window.show()
    view, index = _open_editor(window, qtbot, 3, "xapic_id")
    assert index.data() == "0x2"
    QTest.keyClicks(view, "5")  # AnyKeyPressed opens the editor with this key
    editor = _editor(view)
    assert editor.text() == "5"  # not "0x25"
    QTest.keyClick(editor, Qt.Key.Key_Return)
    qtbot.wait(20)
    assert window.controller.scenario.vcpus[3].xapic_id == 5, window.controller.last_refusal


def test_typing_into_a_dfr_cell_replaces_it_too(window, qtbot):
    from PySide6.QtWidgets import QComboBox

    window.show()
    view, _index = _open_editor(window, qtbot, 0, "dfr")
    QTest.keyClicks(view, "c")
    combos = [c for c in view.viewport().findChildren(QComboBox) if c.isVisible()]
    assert len(combos) == 1
    QTest.keyClicks(combos[0].lineEdit(), "luster")
    assert combos[0].currentText() == "cluster"  # not "flatcluster"
    QTest.keyClick(combos[0].lineEdit(), Qt.Key.Key_Return)
    qtbot.wait(20)
    assert window.controller.scenario.vcpus[0].dfr_model == "cluster"


def test_double_click_editor_selects_the_whole_value(window, qtbot):
    window.show()
    view, index = _open_editor(window, qtbot, 1, "logical_id")
    view.edit(index)
    editor = _editor(view)
    assert editor.selectedText() == editor.text() == "0x2"
    QTest.keyClicks(editor, "0x40")
    assert editor.text() == "0x40"


def test_one_ctrl_enter_is_one_undo_step(window, qtbot):
    window.show()
    stack = window.controller.undo_stack
    before = stack.count()
    view, _index = _open_editor(window, qtbot, 0, "logical_id")
    window.vcpu_panel.select_rows([0, 1, 2])
    QTest.keyClicks(view, "0")
    editor = _editor(view)
    QTest.keyClicks(editor, "x7")
    assert editor.text() == "0x7"
    QTest.keyClick(editor, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
    qtbot.wait(20)
    assert [v.logical_id for v in window.controller.scenario.vcpus[:3]] == [7, 7, 7]
    assert stack.count() == before + 1
    stack.undo()
    assert [v.logical_id for v in window.controller.scenario.vcpus[:3]] == [1, 2, 4]


# ----- glyphs render with the shipped fonts ------------------------------------------------------

@pytest.mark.parametrize("path", example_files(), ids=lambda p: p.name[:2])
def test_every_glyph_of_the_window_is_in_the_shipped_fonts(window, path):
    from apicviz.gui.shell.glyphs import gui_texts, missing_glyphs

    open_example(window, window.controller, path)
    window.controller.select_interrupt(0)
    window.step_view._reload()
    texts = gui_texts(window)
    assert any("Start" in t for t in texts)
    assert any("Step 1" in t or "1. " in t for t in texts)
    assert missing_glyphs(texts) == {}


def test_every_glyph_in_the_gui_and_model_sources_is_in_the_shipped_fonts():
    """Painters draw glyphs no widget holds as text (✓ ✗ Δ …): every literal of the GUI and the model."""
    from apicviz.gui.shell.glyphs import missing_glyphs, source_texts

    texts = source_texts()
    assert any("Δ" in t for t in texts)  # the scan does see the painters' glyphs
    assert missing_glyphs(texts) == {}


def test_the_glyph_check_finds_a_missing_glyph():
    from apicviz.gui.shell.glyphs import missing_glyphs

    assert "🦜" in missing_glyphs(["a parrot 🦜"])
    assert "⏮" in missing_glyphs(["⏮ Start"])  # the old button: DejaVu has no U+23EE
    raw = QRawFont.fromFont(QApplication.font())
    assert raw.isValid()


# ----- Help: the shortcuts and the docs ----------------------------------------------------------

def test_help_lists_every_shortcut_of_the_window(window):
    from apicviz.gui.shell.help_dialogs import shortcut_rows

    rows = shortcut_rows(window)
    keys = {k for _, k, _ in rows}
    for expected in ("Ctrl+Z", "Ctrl+Shift+C", "Ctrl+E", "Ctrl+=", "Alt+Right", "Ctrl+Return", "Ins", "Ctrl+/"):
        assert expected in keys, expected
    for action in window.findChildren(type(window.undo_action)):
        for seq in action.shortcuts():
            assert seq.toString(QKeySequence.SequenceFormat.PortableText) in keys, action.text()


def test_help_shows_the_shipped_docs(window):
    from apicviz import resources
    from apicviz.gui.shell.help_dialogs import DocViewer

    for name in ("FORMAT.md", "KVM-BEHAVIOUR.md"):
        path = resources.doc_file(name)
        assert path.is_file()
        viewer = DocViewer(name, window)
        assert "apicviz" in viewer.text() or "KVM" in viewer.text()
        assert len(viewer.text()) > 1000
        viewer.close()
    titles = [a.text().replace("&", "") for a in window.help_menu.actions()]
    assert any("Keyboard Shortcuts" in t for t in titles)
    assert any("FORMAT" in t or "File Formats" in t for t in titles)
