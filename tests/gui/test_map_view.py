"""The map view: slot states, the no-map banner, selection, route overlay, scale."""
from __future__ import annotations

import tracemalloc
from collections import Counter

import pytest
from PySide6.QtCore import QPoint, QPointF, QRect, Qt
from PySide6.QtGui import QColor, QImage, QWheelEvent

from apicviz.gui.controller.controller import Controller
from apicviz.gui.views import palette
from apicviz.gui.views.map_legend import ENTRIES
from apicviz.gui.views.map_view import MapView
from apicviz.gui.views.slot_painter import LOD_OVERVIEW
from apicviz.model import scenario_from_dict


def make_controller(vcpus: list[dict], interrupts: list[dict] = (), kernel: str = "upstream", **kvm) -> Controller:
    return Controller(scenario_from_dict({
        "format": "apicviz-scenario", "version": 1, "kvm": {"kernel": kernel, **kvm},
        "vcpus": vcpus, "interrupts": list(interrupts),
    }))


def make_view(qtbot, ctrl: Controller, size=(1100, 700)) -> MapView:
    view = MapView(ctrl)
    qtbot.addWidget(view)
    view.resize(*size)
    view.show()
    qtbot.waitExposed(view)
    return view


def dominant(img: QImage, r: QRect) -> QColor:
    """The most frequent colour inside a slot (its fill; text and hatch are minorities)."""
    inner = r.adjusted(4, 4, -4, -4)
    counts = Counter(img.pixel(x, y) for x in range(inner.left(), inner.right())
                     for y in range(inner.top(), inner.bottom()))
    return QColor.fromRgb(counts.most_common(1)[0][0])


def hotplug_controller(**extra) -> Controller:
    """vCPU 0 (1:1), 0x23 and 0x123 (xAPIC ID 0x23): 0x123 gets a hotplug slot and loses 0x23."""
    return make_controller(
        [{"id": 0}, {"id": 0x23}, {"id": 0x123, "xapic_id": 0x23}],
        [{"name": "IPI to 0x23", "source": 0, "dest": 0x23}],
        kernel="6.1", x2apic_api={"use_32bit_ids": True}, **extra)


def test_one_to_one_slot(qtbot):
    ctrl = make_controller([{"id": i, "logical_id": 1 << i} for i in range(4)])
    view = make_view(qtbot, ctrl)
    s = view.slot_info(2)
    assert (s.state, s.look, s.vcpu, s.vcpu_id) == ("direct", "direct", 2, 2)
    assert s.text() == "0x2 → 0x2"
    assert view.slot_info(0x10).state == "empty"
    assert view.slot_info(0x10).shown  # rows 0x00-0xf0 are always drawn
    assert view.banner_level == "ok"
    assert "NO OPTIMIZED MAP" not in view.banner_text()
    assert "flat" in view.logical_mode_text()
    img = view.grab().toImage()
    assert dominant(img, view.slot_rect(2)) == QColor(palette.LOOKS["direct"][0])
    assert dominant(img, view.slot_rect(0x10)) == QColor(palette.LOOKS["empty"][0])


def test_hotplug_and_aliased_slots(qtbot):
    ctrl = hotplug_controller()
    view = make_view(qtbot, ctrl)
    hot = view.slot_info(0x123)
    assert (hot.state, hot.vcpu_id, hot.kind_badge) == ("hotplug", 0x123, "H")
    alias = view.slot_info(0x23)
    assert (alias.state, alias.look, alias.vcpu_id) == ("direct", "aliased", 0x23)
    assert (alias.losers, alias.alias_badge) == ([2], "+1")
    tip = view.slots.tooltip(0x23)
    assert "vCPU 0x123" in tip
    assert "lost" in tip
    assert "still in the map at 0x123" in tip
    assert "hotplug hack" in view.slots.tooltip(0x123)
    assert view.slot_info(0x130).state == "beyond"  # max_apic_id is 0x123
    assert view.banner_level == "aliased"
    assert "Aliased APIC ID</b> 0x23 (+1)" in view.banner_text()
    img = view.grab().toImage()
    colours = {a: dominant(img, view.slot_rect(a)).name() for a in (0, 0x23, 0x123)}
    assert len(set(colours.values())) == 3, colours
    assert colours[0x123] == QColor(palette.LOOKS["hotplug"][0]).name()


def test_no_map_banner_and_would_be_slots(qtbot):
    ctrl = make_controller([{"id": 0}, {"id": 1}, {"id": 5, "xapic_id": 1}], kernel="upstream")
    view = make_view(qtbot, ctrl)
    banner = view.banner_text()
    assert view.banner_level == "none"
    assert "NO OPTIMIZED MAP" in banner
    assert "aliased APIC ID 0x1" in banner
    assert "slow path" in banner
    conflict = view.slot_info(1)
    assert (conflict.state, conflict.conflict, conflict.vcpu_id, conflict.losers) == ("would", True, 1, [2])
    assert view.slot_info(0).state == "would"
    assert not view.slot_info(0).conflict
    assert view.slot_info(5).state == "empty"  # vCPU 5 sits at its xAPIC ID 1, not at 5
    assert "no optimized map" in view.logical_mode_text()
    img = view.grab().toImage()
    assert dominant(img, view.slot_rect(0)) != dominant(img, view.slot_rect(1))
    assert dominant(img, view.slot_rect(0)) != QColor(palette.LOOKS["direct"][0])


def test_click_selects_vcpu_and_outlines_it(qtbot):
    ctrl = make_controller([{"id": i} for i in range(4)])
    view = make_view(qtbot, ctrl)
    r = view.grid.slot_rect(3)
    qtbot.mouseClick(view.grid.viewport(), Qt.MouseButton.LeftButton, pos=r.center().toPoint())
    assert ctrl.selected_vcpus == [3]
    assert view.slot_info(3).selected
    assert not view.slot_info(2).selected
    img = view.grab().toImage()
    edge = view.slot_rect(3)
    assert QColor(img.pixel(edge.left() - 1, edge.center().y())).lightness() < 60  # thick black frame
    ctrl.select_vcpus([1])
    assert view.slot_info(1).selected
    assert not view.slot_info(3).selected


def test_selected_interrupt_marks_dropped(qtbot):
    ctrl = hotplug_controller()
    view = make_view(qtbot, ctrl)
    assert view.caption_text() == ""
    ctrl.select_interrupt(0)
    route = ctrl.evaluation.routes[0]
    assert route.path == "fast"
    assert route.targets == [1]
    assert route.dropped == [2]
    at_23 = view.slot_info(0x23)
    assert at_23.read
    assert ("target", 1) in at_23.markers
    assert ("dropped", 2) in at_23.markers
    assert view.slot_info(0x123).marker_kinds == ["dropped"]
    assert view.slot_info(0).marker_kinds == ["sender"]
    assert "✗" in view.slot_info(0x123).text()
    caption = view.caption_text()
    assert "DROPPED 0x123" in caption
    assert "fast path" in caption
    img = view.grab().toImage()
    r = view.slot_rect(0x123)
    frame = QColor(img.pixel(r.left() + 2, r.center().y()))
    assert frame.name() == QColor(palette.VERMILLION).name()
    ctrl.select_interrupt(-1)
    assert view.caption_text() == ""
    assert view.slot_info(0x123).markers == []


def test_repaints_on_result_changed(qtbot):
    ctrl = make_controller([{"id": 0}, {"id": 1}], kernel="6.1")
    view = make_view(qtbot, ctrl)
    assert view.slot_info(1).vcpu_id == 1
    ctrl.scenario.vcpus[1].xapic_id = 0x42
    ctrl.rerun()
    assert view.slot_info(1).state == "empty"
    assert view.slot_info(0x42).vcpu_id == 1


def test_logical_view_modes(qtbot):
    ctrl = make_controller([{"id": 0, "logical_id": 1}, {"id": 1, "apic": "x2apic"}], kernel="6.1")
    view = make_view(qtbot, ctrl)
    text = view.logical_mode_text().lower()
    assert "disabled" in text
    assert "mixed logical modes" in text
    assert "slow path" in text
    ctrl2 = make_controller([{"id": 0, "logical_id": 0x11, "dfr": "cluster"},
                             {"id": 1, "logical_id": 0x12, "dfr": "cluster"}])
    view2 = make_view(qtbot, ctrl2)
    assert "cluster" in view2.logical_mode_text()
    assert [r.label for r in view2.logical.data.rows] == ["cluster 1"]
    assert [c.vcpu for c in view2.logical.data.rows[0].cells] == [0, 1, None, None]


def test_go_to_draws_row_and_flashes(qtbot):
    ctrl = make_controller([{"id": 0}])
    view = make_view(qtbot, ctrl)
    assert not view.slot_info(0x5000).shown
    view.goto_edit.setText("0x5000")
    qtbot.keyClick(view.goto_edit, Qt.Key.Key_Return)
    s = view.slot_info(0x5000)
    assert s.shown
    assert s.state == "beyond"
    assert view.grid.flashing == 0x5000
    assert view.grid.is_slot_visible(0x5000)
    view.goto_edit.setText("banana")
    qtbot.keyClick(view.goto_edit, Qt.Key.Key_Return)
    assert "not a number" in view.goto_edit.toolTip()


def test_zoom_buttons_wheel_and_overview(qtbot):
    ctrl = make_controller([{"id": i} for i in range(8)])
    view = make_view(qtbot, ctrl)
    h = view.grid.cell_h
    view.zoom_in_button.click()
    assert view.grid.cell_h > h
    assert not view.grid.auto_fit
    for _ in range(12):
        view.zoom_out_button.click()
    assert view.grid.painter.lod == LOD_OVERVIEW
    assert "overview" in view.zoom_label.text()
    view.grab()  # paints colours only without error
    pos = QPointF(view.grid.viewport().rect().center())
    before = view.grid.cell_h
    wheel = QWheelEvent(pos, view.grid.viewport().mapToGlobal(pos), QPoint(), QPoint(0, 240),
                        Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier, Qt.ScrollPhase.NoScrollPhase, False)
    view.grid.wheelEvent(wheel)
    assert view.grid.cell_h > before
    view.fit_button.click()
    assert view.grid.auto_fit


def test_4096_vcpus(qtbot):
    vcpus = [{"id": i, "apic": "x2apic"} for i in range(4096)]
    ctrl = make_controller(vcpus, [{"source": 0, "dest": 4095}])
    view = make_view(qtbot, ctrl)
    ctrl.select_interrupt(0)
    assert view.slot_info(4095).vcpu_id == 4095
    assert view.slot_info(4095).marker_kinds == ["target"]
    assert view.grid.is_slot_visible(4095)  # scrolled to the target
    assert view.logical.data.mode == "x2apic"
    assert len(view.logical.data.rows) == 256
    view.grid.viewport().repaint()  # paints without error; its time is in benchmarks/bench_views.py


@pytest.mark.parametrize("top", [0xFFFFFFFE, 0x0FFFFF00])
def test_huge_ids_allocate_nothing_per_id(qtbot, top):
    ctrl = make_controller([{"id": 0, "apic": "x2apic"}, {"id": top, "apic": "x2apic"}],
                           [{"source": 0, "dest": top}], x2apic_api={"use_32bit_ids": True})
    tracemalloc.start()
    view = make_view(qtbot, ctrl)
    ctrl.select_interrupt(0)
    view.grab()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert peak < 20_000_000  # nothing per ID; the time is in benchmarks/bench_memory.py
    s = view.slot_info(top)
    assert s.shown
    assert s.vcpu_id == top
    assert s.state == ("would" if top == 0xFFFFFFFE else "direct")  # 0xfffffffe: the map cannot be allocated
    gaps = [b for b in view.slots.bands() if b[0] == "gap"]
    assert len(gaps) == 1
    assert "rows 0x100–" in view.slots.gap_text(gaps[0][1], gaps[0][2])


def test_legend_shows_every_look_and_marker():
    looks = {info.look for info, _, _ in ENTRIES}
    assert set(palette.LOOKS) <= looks
    markers = {k for info, _, _ in ENTRIES for k in info.marker_kinds}
    assert markers == set(palette.MARKERS)


def test_narrow_view_keeps_interesting_rows_readable(qtbot):
    """The main window's centre at 1280x800 (~790x480): empty rows go thin, the rest stay labelled."""
    ctrl = hotplug_controller()
    view = make_view(qtbot, ctrl, size=(790, 480))
    ctrl.select_interrupt(0)
    assert not view.wide
    assert view.logical.compact
    assert view.side.isHidden()
    grid = view.grid
    assert grid.thin_empty
    assert grid.row_is_thin(0x5)
    assert not grid.row_is_thin(0x2)
    assert grid.painter.lod != LOD_OVERVIEW
    for apic_id in (0, 0x23, 0x123):  # sender, target + lost slot, dropped hotplug slot: all on screen
        assert grid.is_slot_visible(apic_id), hex(apic_id)
    assert view.slot_info(0x50).shown  # a thin row is still drawn (0x00-0xf0 are always there)
    assert not view.legend_box.isVisible()
    view.legend_button.click()
    assert view.legend_box.isVisible()
    view.resize(1280, 700)
    assert view.wide
    assert not view.side.isHidden()
    assert not view.logical.compact
