"""Pictures that carry their scenario, bug reports, explain/compare/step panels, zoom, autosave."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from apicviz.gui.shell.examples_menu import example_files, open_example
from apicviz.model import ScenarioError, load_scenario
from apicviz.model.scenario_file import scenario_to_dict

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "apicviz" / "resources" / "examples"
ALIASED_61 = EXAMPLES / "02-aliased-xapic-id-6.1.apicviz.json"
ALIASED_UP = EXAMPLES / "03-aliased-xapic-id-upstream.apicviz.json"
APICVIZ = [sys.executable, "-m", "apicviz"]


def _open(window, path: Path) -> None:
    assert open_example(window, window.controller, path)


def test_render_embeds_scenario_and_loads_back(tmp_path):
    """`apicviz render` works headless; the PNG opens as the exact scenario it shows."""
    out = tmp_path / "shot.png"
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    proc = subprocess.run([*APICVIZ, "render", str(ALIASED_61), "-o", str(out), "--interrupt", "0"],
                          capture_output=True, text=True, env=env, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert scenario_to_dict(load_scenario(out)) == scenario_to_dict(load_scenario(ALIASED_61))
    from PySide6.QtGui import QImage

    image = QImage(str(out))
    assert (image.width(), image.height()) == (1280, 800)
    assert image.text("apicviz-version")


def test_render_is_deterministic(tmp_path):
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    outs = []
    for n in range(2):
        out = tmp_path / f"{n}.png"
        subprocess.run([*APICVIZ, "render", str(ALIASED_UP), "-o", str(out), "--size", "900x600"],
                       check=True, capture_output=True, env=env, timeout=120)
        outs.append(out.read_bytes())
    assert outs[0] == outs[1]


def test_render_rejects_bad_interrupt_index(tmp_path):
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    proc = subprocess.run([*APICVIZ, "render", str(ALIASED_61), "-o", str(tmp_path / "x.png"), "--interrupt", "9"],
                          capture_output=True, text=True, env=env, timeout=120, check=False)
    assert proc.returncode == 1
    assert "--interrupt" in proc.stderr
    assert "0..2" in proc.stderr
    assert not (tmp_path / "x.png").exists()


def test_png_without_scenario_is_refused_clearly(tmp_path, qapp):
    from PySide6.QtGui import QColor, QImage

    plain = tmp_path / "plain.png"
    image = QImage(20, 20, QImage.Format.Format_RGB32)
    image.fill(QColor("white"))
    assert image.save(str(plain))
    with pytest.raises(ScenarioError, match="without an embedded apicviz scenario"):
        load_scenario(plain)


def test_export_picture_of_map_and_window(window, tmp_path):
    """File > Export Picture: window or map alone; both carry the scenario."""
    _open(window, ALIASED_61)
    for widget, name in ((window, "win.png"), (window.map_view, "map.png")):
        path = tmp_path / name
        assert window.share.export(widget, str(path))
        assert scenario_to_dict(load_scenario(path)) == scenario_to_dict(window.controller.scenario)


def test_copy_bug_report_lists_dropped_vcpus(window, qapp):
    _open(window, ALIASED_61)
    window.share.copy_report.trigger()
    text = qapp.clipboard().text()
    assert "| **dropped** | 0x1 |" in text  # IPI to APIC 0 misses vCPU 1 on 6.1
    assert "```json" in text
    assert '"kernel": "6.1"' in text


def test_explain_panel_names_the_rule(window):
    _open(window, ALIASED_61)
    window.controller.select_interrupt(0)
    text = window.explain_view.text()
    assert "phys_map[0x0] holds vCPU 0x0" in text
    assert "against its xAPIC ID 0x0" in text  # the slow-path rule that matches vCPU 1
    assert "DROPPED" in text


def test_compare_panel_shows_route_change(window):
    _open(window, ALIASED_61)
    window.compare_view.set_kernel("upstream")
    text = window.compare_view.text()
    assert "map: optimized → none" in text
    assert "≠ [0] IPI to APIC 0" in text
    assert 1 in window.compare_view.changed_vcpus()


def test_step_through_reaches_the_discard(window):
    """Upstream: the second vCPU with xAPIC ID 0 makes KVM discard the map; the replay shows that step."""
    _open(window, ALIASED_UP)
    steps = window.step_view
    steps._reload()
    assert [s.action for s in steps.steps][-1] == "alias"
    steps.go(len(steps.steps) - 1)
    assert "discards the whole map" in steps.caption.text()
    assert window.controller.selected_vcpus == [1]
    steps.go(0)
    assert steps.current_step().vcpu == 0


def test_presentation_zoom_scales_fonts_and_map(window, qapp):
    before_font = qapp.font().pointSizeF()
    table = window.vcpu_panel.view
    before_row = table.verticalHeader().defaultSectionSize()
    before_cell = window.map_view.grid.cell_h
    window.zoom.zoom_in.trigger()
    window.zoom.zoom_in.trigger()
    qapp.processEvents()
    assert qapp.font().pointSizeF() > before_font * 1.4
    assert table.verticalHeader().defaultSectionSize() > before_row
    assert window.map_view.grid.cell_h > before_cell
    window.zoom.reset.trigger()
    assert qapp.font().pointSizeF() == pytest.approx(before_font)


def test_every_example_renders(window):
    """Habit 9: every shipped example is smoke-tested in the real window."""
    files = example_files()
    assert len(files) >= 8
    for path in files:
        _open(window, path)
        assert window.controller.scenario.title
        image = window.grab().toImage()
        assert not image.isNull()


def test_map_marks_slots_that_change_under_kernel_b(window, qtbot):
    """With the Compare tab open, the map puts Δ on slots whose vCPU differs under kernel B."""
    _open(window, EXAMPLES / "04-wrap-0x123-and-0x23.apicviz.json")  # 6.1: slots 0x0, 0x23, 0x123
    window.show()
    window.compare_dock.raise_()
    window.compare_view.set_kernel("upstream")  # upstream without 32-bit IDs: no map at all
    qtbot.waitUntil(lambda: window.map_view.changed_slot_ids() == [0x0, 0x23, 0x123])
    assert "Δ under kernel B: vCPU 0x23 → empty" in window.map_view.slots.tooltip(0x23)
    window.interrupt_dock.raise_()  # back to the interrupts tab: the marks stay while comparing
    qtbot.wait(50)
    assert window.map_view.changed_slot_ids() == [0x0, 0x23, 0x123]
    window.compare_view.mark.setChecked(False)  # untick: the marks go
    qtbot.waitUntil(lambda: window.map_view.changed_slot_ids() == [])
    window.compare_view.mark.setChecked(True)
    window.compare_dock.raise_()
    window.compare_view.use_32bit.setChecked(True)  # with 32-bit IDs upstream builds the same map
    qtbot.waitUntil(lambda: window.compare_view.comparison is not None
                    and window.compare_view.comparison.b.result.status == "optimized")
    assert window.map_view.changed_slot_ids() == []


def test_interrupt_table_shows_route_under_kernel_b(window, qtbot):
    """Compare tab open: the interrupts table gains B's route, ≠ where it changes."""
    from apicviz.gui.viewmodels.columns import column_index

    _open(window, ALIASED_61)
    model = window.interrupt_model
    col = column_index(model.columns, "under_b")
    assert model.index(0, col).data() == ""  # nothing compared yet
    window.show()
    window.compare_dock.raise_()
    window.compare_view.set_kernel("upstream")
    qtbot.waitUntil(lambda: model.index(0, col).data().startswith("≠ upstream: slow → 0x0, 0x1"))
    assert model.index(2, col).data().startswith("≠ upstream: slow → nobody")  # path changed, targets did not
    window.interrupt_dock.raise_()  # the table is what the user looks at now: B's column stays
    qtbot.wait(50)
    assert model.index(0, col).data().startswith("≠ upstream")
    window.compare_dock.close()  # closing the Compare dock ends the comparison
    qtbot.waitUntil(lambda: model.index(0, col).data() == "")
