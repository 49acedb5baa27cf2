"""The window fits 1280x800 at 100 % and 1920x1080 at 200 %: no column, header or chip cut (issue 10 item 2).

The checks measure widgets: each visible column's section against the
header text's QFontMetrics.horizontalAdvance and the cells' size hint, and
its place inside the viewport; each status chip's width against its text.
The offscreen platform has two screens (tests/gui/screens.json): a 1280x800
laptop at (0, 0) and a 1920x1080 projector beside it.
"""
from __future__ import annotations

import struct
import subprocess
import sys
from pathlib import Path

import pytest
from gui_helpers import cell
from PySide6.QtCore import QRect, Qt
from PySide6.QtGui import QGuiApplication

from apicviz.gui.shell import layout, settings
from apicviz.gui.shell.app import create_main_window
from apicviz.gui.shell.examples_menu import example_files, open_example
from apicviz.gui.shell.fit_scroll import FitScrollArea
from apicviz.gui.viewmodels.columns import column_index
from apicviz.model import scenario_from_dict

DEFAULT_VCPU_COLUMNS = {"vCPU ID", "Mode", "xAPIC ID", "Logical ID", "DFR", "SW on", "Status"}
ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "apicviz" / "resources" / "examples"


def screen(name: str):
    found = [s for s in QGuiApplication.screens() if s.name() == name]
    assert found, f"offscreen screen {name!r} missing: is tests/gui/screens.json in use?"
    return found[0]


def settle(qapp, rounds: int = 6) -> None:
    for _ in range(rounds):
        qapp.processEvents()


def show_on(window, qapp, name: str, size: tuple[int, int] | None = None) -> None:
    """Show the window on a screen, as the window manager would (its frame inside the screen)."""
    geometry = screen(name).availableGeometry()
    window.move(geometry.topLeft())
    if size is not None:
        window.resize(*size)
    window.show()
    settle(qapp)
    layout.fit_to_screen(window)
    settle(qapp)


def shown_titles(panel) -> set[str]:
    header = panel.view.horizontalHeader()
    return {c.title for i, c in enumerate(panel.model.columns) if not header.isSectionHidden(i)}


def assert_nothing_cut(window) -> None:
    assert shown_titles(window.vcpu_panel) >= DEFAULT_VCPU_COLUMNS
    assert window.vcpu_panel.cut_columns() == []
    assert window.interrupt_panel.cut_columns() == []
    assert window.summary.elided_chips() == []
    for chip in window.summary.chips:
        if chip.isHidden():
            continue  # the host check's chips, while no check is on: not laid out
        text_w = chip.fontMetrics().horizontalAdvance(chip.text())
        assert chip.contentsRect().width() >= text_w, chip.text()
        assert window.summary.rect().contains(chip.geometry()), chip.text()
    assert window.statusBar().height() >= window.summary.heightForWidth(window.summary.width())
    info = window.map_view.info
    assert info.wordWrap()
    assert info.height() >= info.heightForWidth(info.width())
    assert layout.available_rect(window).contains(window.frameGeometry())


def settled(window, qapp, qtbot) -> None:
    """The window as the user sees it once it is still: the sweep is in and the status bar laid out."""
    qtbot.waitUntil(lambda: window.controller.sweeps.fresh and not window.controller.sweeps.busy, timeout=10000)
    settle(qapp)


@pytest.fixture
def laptop(window, qapp, qtbot):
    show_on(window, qapp, "laptop")
    settled(window, qapp, qtbot)  # the status bar's height depends on the sweep's chips
    return window


def test_default_layout_at_1280x800_cuts_nothing(laptop, qapp):
    frame = layout.frame_extra(laptop)
    assert laptop.width() + frame.width() == 1280
    assert laptop.height() + frame.height() == 800
    assert_nothing_cut(laptop)
    assert "Under kernel B" not in shown_titles(laptop.interrupt_panel)  # only while comparing
    assert laptop.lesson_dock.isVisible()
    assert laptop.lesson_view.height() > 5 * laptop.fontMetrics().height()


@pytest.mark.parametrize("path", example_files(), ids=lambda p: p.name[:2])
def test_every_example_fits_1280x800(laptop, qapp, qtbot, path):
    open_example(laptop, laptop.controller, path)
    laptop.controller.select_interrupt(0)
    settled(laptop, qapp, qtbot)
    assert_nothing_cut(laptop)


def test_300_vcpus_with_an_interrupt_selected_fit(laptop, qapp):
    vcpus = [{"id": i, "apic": "x2apic" if i >= 255 else "xapic"} for i in range(300)]
    data = {"kvm": {"kernel": "6.1"}, "vcpus": vcpus,
            "interrupts": [{"name": "IPI to 0x123", "source": 260, "dest_mode": "physical", "dest": 0x123},
                           {"name": "broadcast", "source": 1, "dest_mode": "physical", "dest": 0xFF}]}
    laptop.controller.set_scenario(scenario_from_dict(data), None)
    laptop.controller.select_interrupt(1)
    settle(qapp)
    assert_nothing_cut(laptop)


def test_kernel_b_column_only_while_comparing(laptop, qtbot):
    panel = laptop.interrupt_panel
    laptop.compare_dock.raise_()
    laptop.compare_view.set_kernel("upstream")
    qtbot.waitUntil(lambda: "Under kernel B" in shown_titles(panel))
    laptop.compare_dock.close()
    qtbot.waitUntil(lambda: "Under kernel B" not in shown_titles(panel))
    assert panel.column_menu().actions()  # the others can be shown and hidden; B's follows the tab
    assert "Under kernel B" not in [a.text() for a in panel.column_menu().actions()]


@pytest.fixture
def zoomed(window, qapp):
    """The window with its zoom put back afterwards (the application font is shared by every test)."""
    yield window
    window.zoom.reset.trigger()
    settle(qapp)


def test_200_percent_on_1920x1080_cuts_nothing(zoomed, qapp):
    window = zoomed
    show_on(window, qapp, "projector", (1920, 1080))
    assert window.screen().name() == "projector"
    window.zoom.set_factor(2.0)
    settle(qapp, 12)
    assert window.zoom.factor == 2.0
    assert window.summary.kernel.font().pointSizeF() == pytest.approx(qapp.font().pointSizeF())  # chips zoom too
    assert_nothing_cut(window)
    names = window.interrupt_panel.view.horizontalHeader()
    assert not names.isSectionHidden(column_index(window.interrupt_model.columns, "name"))
    assert window.interrupt_panel.name_chars >= 36  # the example's longest name stays whole


def test_zoom_never_makes_the_window_larger_than_the_screen(zoomed, qapp):
    laptop = zoomed
    show_on(laptop, qapp, "laptop")
    for _ in range(10):
        laptop.zoom.zoom_in.trigger()
        settle(qapp, 8)
        assert layout.available_rect(laptop).contains(laptop.frameGeometry())
        assert layout.fits_screen_minimum(laptop)
    assert laptop.zoom.factor >= 1.25  # it did zoom, as far as the screen allows
    assert "does not fit this screen" in laptop.statusBar().currentMessage()  # and said where it stopped


def _main_docks(window) -> dict[str, tuple[bool, bool, int, int]]:
    return {d.objectName(): (d.isVisible(), d.isFloating(), d.width(), d.height())
            for d in (window.vcpu_dock, window.lesson_dock, window.interrupt_dock, window.kvm_dock)}


def _same_docks(a: dict, b: dict, slack: int = 12) -> bool:
    """Same placement, sizes within a few pixels (the status bar's rows may differ by a pixel or two)."""
    return a.keys() == b.keys() and all(
        a[k][:2] == b[k][:2] and abs(a[k][2] - b[k][2]) <= slack and abs(a[k][3] - b[k][3]) <= slack for k in a)


FLOATING_NOISE = "This plugin does not support raise()"


@pytest.mark.qt_log_ignore("This plugin does not support propagateSizeHints", FLOATING_NOISE)
def test_reset_layout_restores_the_default(laptop, qapp, qtbot):
    fresh = _main_docks(laptop)
    fresh_status = laptop.statusBar().height()
    laptop.resizeDocks([laptop.vcpu_dock], [120], Qt.Orientation.Horizontal)
    laptop.vcpu_panel.set_column_shown(column_index(laptop.vcpu_model.columns, "dfr"), False)
    laptop.kvm_dock.setFloating(True)
    laptop.interrupt_dock.hide()
    laptop.resize(900, 600)
    settle(qapp)
    assert laptop.vcpu_panel.cut_columns() or "DFR" not in shown_titles(laptop.vcpu_panel)
    laptop.reset_layout_action.trigger()
    settle(qapp, 10)
    settled(laptop, qapp, qtbot)
    assert (laptop.width(), laptop.height()) == layout.default_size(laptop)
    assert not laptop.kvm_dock.isFloating()
    assert laptop.interrupt_dock.isVisible()
    assert _same_docks(_main_docks(laptop), fresh), (_main_docks(laptop), fresh, "status bar",
                                                     laptop.statusBar().height(), fresh_status)
    assert_nothing_cut(laptop)


def _saved_layout(window, qapp, spoil) -> None:
    show_on(window, qapp, "laptop")
    spoil(window)
    settle(qapp)
    window.save_layout()


@pytest.mark.qt_log_ignore("This plugin does not support propagateSizeHints", FLOATING_NOISE)
def test_a_layout_that_does_not_fit_is_replaced_and_forgotten(window, qapp, qtbot):
    """A panel the window manager left off every screen: the checked layout falls back to the default."""
    _saved_layout(window, qapp, lambda w: w.kvm_dock.hide())
    again = create_main_window()
    qtbot.addWidget(again)
    show_on(again, qapp, "laptop")
    assert again._state_restored
    again.vcpu_dock.setFloating(True)
    again.vcpu_dock.move(-5000, -5000)  # where a real window manager may leave it
    settle(qapp)
    assert again.check_restored_layout()  # the problems it found
    settle(qapp, 10)
    assert not again.vcpu_dock.isFloating()
    assert again.kvm_dock.isVisibleTo(again)
    assert_nothing_cut(again)
    assert "saved window layout did not fit" in again.statusBar().currentMessage()
    assert settings.window_state() is None  # forgotten: the next start is the default
    third = create_main_window()
    qtbot.addWidget(third)
    assert third._state_restored is False


@pytest.mark.parametrize("key", ["window/state", "window/geometry"])
def test_a_corrupt_saved_layout_is_dropped(window, qapp, qtbot, key):
    from PySide6.QtCore import QByteArray

    _saved_layout(window, qapp, lambda w: w.interrupt_dock.hide())
    settings.settings().setValue(key, QByteArray(b"\x00\xff not a Qt state \x01" * 4))
    again = create_main_window()
    qtbot.addWidget(again)
    assert not again._state_restored
    assert again.interrupt_dock.isVisibleTo(again)
    assert settings.window_state() is None
    show_on(again, qapp, "laptop")
    assert_nothing_cut(again)


def test_a_window_saved_bigger_than_the_screens_comes_back_fitted(window, qapp, qtbot):
    _saved_layout(window, qapp, lambda w: w.setGeometry(QRect(0, 0, 4000, 2500)))
    again = create_main_window()
    qtbot.addWidget(again)
    again.show()
    settle(qapp, 10)
    assert layout.available_rect(again).contains(again.frameGeometry())
    assert_nothing_cut(again)


def test_a_good_saved_layout_comes_back(window, qapp, qtbot):
    _saved_layout(window, qapp, lambda w: w.interrupt_dock.hide())
    again = create_main_window()
    qtbot.addWidget(again)
    show_on(again, qapp, "laptop")
    assert again._state_restored
    assert not again.interrupt_dock.isVisible()
    assert settings.window_state() is not None


def test_a_layout_of_an_older_version_is_not_restored(window, qapp, qtbot):
    _saved_layout(window, qapp, lambda w: w.interrupt_dock.hide())
    settings.settings().setValue("window/layout_version", layout.LAYOUT_VERSION - 1)
    again = create_main_window()
    qtbot.addWidget(again)
    assert not again._state_restored
    assert again.interrupt_dock.isVisibleTo(again)


def test_x2apic_vcpus_show_their_derived_logical_id_read_only(window):
    data = {"vcpus": [{"id": 0}, {"id": 0x23, "apic": "x2apic", "logical_id": 0}]}
    window.controller.set_scenario(scenario_from_dict(data), None)
    model = window.vcpu_model
    index = cell(model, 1, "logical_id")
    assert index.data() == "0x20008"  # cluster 0x2, bit 3: ((0x23 >> 4) << 16) | 1 << 3
    assert not model.flags(index) & Qt.ItemFlag.ItemIsEditable
    assert index.data(Qt.ItemDataRole.ForegroundRole).color().name() == "#8a8a8a"  # greyed
    assert "read-only" in index.data(Qt.ItemDataRole.ToolTipRole)
    assert not model.setData(index, "0x5")
    assert "derived" in window.controller.last_refusal
    assert model.flags(cell(model, 0, "logical_id")) & Qt.ItemFlag.ItemIsEditable  # xAPIC: editable


def _png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()[:24]
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", data[16:24])


@pytest.mark.parametrize("extra", [[], ["--map-only"]], ids=["window", "map-only"])
def test_render_writes_exactly_the_asked_size(tmp_path, extra):
    out = tmp_path / "shot.png"
    cmd = [sys.executable, "-m", "apicviz", "render", str(EXAMPLES / "02-aliased-xapic-id-6.1.apicviz.json"),
           "-o", str(out), "--size", "1000x700", *extra]
    proc = subprocess.run(cmd, check=False, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert _png_size(out) == (1000, 700)
    assert "(1000x700, scenario embedded)" in proc.stderr


def test_render_refuses_a_size_it_cannot_draw(tmp_path):
    out = tmp_path / "shot.png"
    cmd = [sys.executable, "-m", "apicviz", "render", str(EXAMPLES / "02-aliased-xapic-id-6.1.apicviz.json"),
           "-o", str(out), "--size", "300x200"]
    proc = subprocess.run(cmd, check=False, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1
    assert "--size: 300x200 is smaller than the window can be drawn (at least" in proc.stderr
    assert not out.exists()


def test_a_message_covers_the_chips_even_across_a_zoom(zoomed, qapp):
    window = zoomed
    show_on(window, qapp, "projector", (1920, 1080))
    window.show_message("a passing message")
    settle(qapp)
    assert not window.summary.isVisible()
    window.zoom.zoom_in.trigger()
    settle(qapp, 10)
    assert not window.summary.isVisible()  # not drawn under the message's text
    window.statusBar().clearMessage()
    settle(qapp)
    assert window.summary.isVisible()


def _scroll_bar_shown(dock) -> bool:
    area = dock.widget()
    return area.verticalScrollBar().isVisible() or area.horizontalScrollBar().isVisible()


@pytest.mark.parametrize("path", [EXAMPLES / "04-wrap-0x123-and-0x23.apicviz.json",
                                  EXAMPLES / "11-aliased-xapic-pv-ipi-6.1-vs-6.3.apicviz.json"],
                         ids=lambda p: p.name[:2])
def test_bottom_tabs_fit_1280x800_without_scrolling(laptop, qapp, qtbot, path):
    """Raising the sweep or step tab makes room for it: every heat-map row a text line, no scroll bar."""
    open_example(laptop, laptop.controller, path)
    qtbot.waitUntil(lambda: laptop.controller.sweep_result is not None)
    for dock in (laptop.sweep_dock, laptop.step_dock, laptop.sweep_dock):
        dock.raise_()
        settle(qapp, 12)
        qtbot.waitUntil(lambda d=dock: not _scroll_bar_shown(d), timeout=3000)
        view = dock.widget().widget()
        assert dock.widget().viewport().rect().contains(view.rect()), dock.windowTitle()
    heat = laptop.sweep_view.heatmap
    rows = heat.matrix.shape[0]
    assert rows >= 5  # MSI and IPI rows of each mode, PV IPI rows
    line = heat.fontMetrics().height()
    assert heat.view.sceneBoundingRect().height() >= rows * line  # each row label a whole text line
    summary = laptop.sweep_view.summary
    assert summary.width() >= summary.fontMetrics().horizontalAdvance(summary.text())  # the line is not cut
    assert laptop.map_view.height() > 200  # the map gave way, not away
    assert_nothing_cut(laptop)


def test_making_room_for_a_tab_behind_another_changes_nothing(laptop, qapp, qtbot, monkeypatch):
    """A make-room queued when the sweep tab was raised must not resize its group once another tab is on top."""
    qtbot.waitUntil(lambda: laptop.controller.sweep_result is not None)
    laptop.interrupt_dock.raise_()
    settle(qapp)
    before = _main_docks(laptop)
    monkeypatch.setattr(FitScrollArea, "shortfall", lambda self: 150)  # as if the sweep tab wanted more room
    laptop._make_room(laptop.sweep_dock)
    settle(qapp)
    assert _main_docks(laptop) == before
