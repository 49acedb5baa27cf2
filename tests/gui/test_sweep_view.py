"""The sweep view: rows, dropped highlighting, filters, class rows, row selection."""
from __future__ import annotations

import re

from PySide6.QtCore import QItemSelectionModel, Qt
from PySide6.QtGui import QColor

from apicviz.gui.controller.controller import Controller
from apicviz.gui.views import palette
from apicviz.gui.views.sweep_model import FILTER_ALL, FILTER_DROPPED, FILTER_FAST_SLOW, FILTER_INCONSISTENT, dest_text
from apicviz.gui.views.sweep_view import PAGE_TABLE, SweepView
from apicviz.model import scenario_from_dict


def make_controller(vcpus: list[dict], kernel: str = "6.1", **kvm) -> Controller:
    return Controller(scenario_from_dict({
        "format": "apicviz-scenario", "version": 1, "kvm": {"kernel": kernel, **kvm}, "vcpus": vcpus,
    }))


def make_view(qtbot, ctrl: Controller) -> SweepView:
    view = SweepView(ctrl)
    qtbot.addWidget(view)
    view.resize(1200, 400)
    view.show()
    view.set_page(PAGE_TABLE)
    ctrl.ensure_sweep()
    return view


def aliased_controller() -> Controller:
    """6.1: vCPU 0x123 (xAPIC ID 0x23) loses slot 0x23, so physical 0x23 is dropped for it."""
    return make_controller([{"id": 0}, {"id": 0x23}, {"id": 0x123, "xapic_id": 0x23}])


def test_rows_and_summary(qtbot):
    ctrl = aliased_controller()
    view = make_view(qtbot, ctrl)
    result = ctrl.sweep_result
    assert result is not None
    assert result.rows
    assert view.model.rowCount() == len(result.rows)
    # one line with the counts; the full sentence in its tooltip
    counts = result.by_severity()
    line = view.summary.text()
    assert line.startswith(f"{len(result.rows)} of {result.checked:,} messages disagree (")
    assert f"{counts['kvm_inconsistent']} KVM inconsistent" in line
    assert line.endswith(f"· {result.dropped_deliveries} dropped deliveries")
    assert "\n" not in line
    assert not view.summary.wordWrap()
    assert view.summary.toolTip() == result.summary(ctrl.evaluation)
    assert view.buttons[FILTER_ALL].text() == f"All ({len(result.rows)})"
    row = next(i for i, r in enumerate(view.visible_rows()) if r.dest == 0x23 and r.dest_mode == "physical")
    assert view.cell_text(row, "Destination") == "0x23"
    assert view.cell_text(row, "Dropped") == "DROPPED 0x123"
    assert view.cell_text(row, "KVM path") == "fast (≠ slow)"
    assert view.cell_text(row, "Hardware targets") == "0x23, 0x123"


def test_rows_are_coloured_by_severity_class_with_text(qtbot):
    ctrl = aliased_controller()
    view = make_view(qtbot, ctrl)
    for i, r in enumerate(view.visible_rows()):
        bg = view.proxy.index(i, 0).data(Qt.ItemDataRole.BackgroundRole)
        assert bg == QColor(palette.SEVERITY[r.severity][0])
        if r.route.dropped:
            assert view.cell_text(i, "Dropped").startswith("DROPPED ")
        else:
            assert view.cell_text(i, "Dropped") == "—"
    # Physical 0x23: the map gives slot 0x23 to vCPU 0x23 only; the slow path and hardware add 0x123.
    row = next(i for i, r in enumerate(view.visible_rows()) if r.dest == 0x23 and r.dest_mode == "physical")
    assert view.cell_text(row, "Class") == "KVM inconsistent: map ≠ slow path"
    # The colour reaches the screen: that row's background pixels are the palette's red fill.
    rect = view.table.visualRect(view.proxy.index(row, 2))
    img = view.table.viewport().grab().toImage()
    assert QColor(img.pixel(rect.right() - 3, rect.center().y())) == QColor(palette.SEVERITY["kvm_inconsistent"][0])


def test_inconsistent_filter_and_by_design_rows(qtbot):
    """Upstream, 32-bit IDs, one xAPIC vCPU: MSIs above 0xff miss it only because KVM does not truncate (amber)."""
    ctrl = make_controller([{"id": 0}, {"id": 0x100, "apic": "x2apic"}], kernel="upstream",
                           x2apic_api={"use_32bit_ids": True})
    view = make_view(qtbot, ctrl)
    rows = view.visible_rows()
    amber = [i for i, r in enumerate(rows) if r.verdict.reasons == ["no_8bit_truncation"]]
    assert amber
    assert view.cell_text(amber[0], "Class") == "by design: no 8-bit truncation"
    view.set_filter(FILTER_INCONSISTENT)
    assert all(r.severity == "kvm_inconsistent" for r in view.visible_rows())
    red = sum(1 for r in rows if r.severity == "kvm_inconsistent")
    assert len(view.visible_rows()) == red < len(rows)
    assert view.buttons[FILTER_INCONSISTENT].text() == f"Inconsistent ({red})"


def test_filter_buttons(qtbot):
    # A raw DFR (neither flat nor cluster) counts as cluster in the map but matches nothing
    # in the slow path or on hardware: logical rows with extra deliveries, not dropped ones.
    raw = 0x12345678
    # 32-bit IDs (no effect on 6.1's map) let MSIs name 0x100 and up: rows where only hardware disagrees.
    ctrl = make_controller([{"id": 0, "logical_id": 1, "dfr": raw}, {"id": 1, "logical_id": 2, "dfr": raw},
                            {"id": 0x23}, {"id": 0x123, "xapic_id": 0x23}], x2apic_api={"use_32bit_ids": True})
    view = make_view(qtbot, ctrl)
    total = len(view.visible_rows())
    qtbot.mouseClick(view.buttons[FILTER_DROPPED], Qt.MouseButton.LeftButton)
    dropped = view.visible_rows()
    assert dropped
    assert all(r.route.dropped for r in dropped)
    assert len(dropped) < total
    assert view.buttons[FILTER_DROPPED].text() == f"Dropped ({len(dropped)})"
    qtbot.mouseClick(view.buttons[FILTER_FAST_SLOW], Qt.MouseButton.LeftButton)
    fast_slow = view.visible_rows()
    assert fast_slow
    assert all(r.fast_vs_slow for r in fast_slow)
    assert len(fast_slow) < total
    assert view.buttons[FILTER_FAST_SLOW].isChecked()
    assert not view.buttons[FILTER_DROPPED].isChecked()
    view.set_filter(FILTER_ALL)
    assert len(view.visible_rows()) == total


def test_class_row_text(qtbot):
    # xAPIC vCPU 0 and x2APIC vCPU 0x300: MSIs to unnamed IDs 0x100..0x2ff ≡ 0 mod 0x100 reach vCPU 0
    # on hardware (it sees the low 8 bits) but nobody through KVM's map.
    ctrl = make_controller([{"id": 0}, {"id": 0x300, "apic": "x2apic"}])
    view = make_view(qtbot, ctrl)
    classes = [(i, r) for i, r in enumerate(view.visible_rows()) if r.count > 1]
    assert classes
    i, r = classes[0]
    text = view.cell_text(i, "Destination")
    assert text == dest_text(r)
    assert re.fullmatch(r"0x[0-9a-f]+ \+[\d,]+ more ≡ 0x[0-9a-f]+ mod 0x100", text)


def test_new_sweep_updates_rows_without_reset(qtbot):
    ctrl = aliased_controller()
    view = make_view(qtbot, ctrl)
    resets = []
    view.model.modelReset.connect(lambda: resets.append(1))
    ctrl.scenario.vcpus[2].xapic_id = 0x42  # no more alias
    ctrl.rerun()
    ctrl.ensure_sweep()
    assert not resets
    assert view.model.rowCount() == len(ctrl.sweep_result.rows)
    assert not any(r.dest == 0x23 and r.route.dropped for r in view.visible_rows())


def test_selecting_a_row_selects_its_vcpus(qtbot):
    ctrl = aliased_controller()
    view = make_view(qtbot, ctrl)
    row = next(i for i, r in enumerate(view.visible_rows()) if r.dest == 0x23 and r.dest_mode == "physical")
    view.table.selectionModel().select(view.proxy.index(row, 0),
                                       QItemSelectionModel.SelectionFlag.ClearAndSelect
                                       | QItemSelectionModel.SelectionFlag.Rows)
    assert ctrl.selected_vcpus == [1, 2]  # target 0x23 and dropped 0x123
