"""The sweep's heat map: matrix values, pixels (on screen and exported), hover, click → Explain, export.

The VM of most tests: 6.1, vCPUs 0, 0x23 and 0x123 (xAPIC ID 0x23). vCPU
0x123 loses phys_map[0x23] to 0x23, so physical 0x23 from an MSI or an
xAPIC IPI reaches 0x23 only while the slow path and hardware add 0x123:
KVM inconsistent (red). Physical 0x5 names nobody: everyone agrees.
"""
from __future__ import annotations

import base64
import re
import xml.dom.minidom

import numpy as np
from PySide6.QtCore import QEvent, QPoint, QPointF, Qt
from PySide6.QtGui import QColor, QImage, QMouseEvent
from PySide6.QtWidgets import QApplication

from apicviz.gui.controller.controller import Controller
from apicviz.gui.viewmodels.sweep_heatmap import NOT_SENT, HeatMatrix
from apicviz.gui.views import palette
from apicviz.gui.views.explain_view import ExplainView
from apicviz.gui.views.sweep_view import SweepView
from apicviz.model import evaluate, scenario_from_dict
from apicviz.model.severity import SEVERITY_RANK
from apicviz.model.sweep import IPI_X2APIC, IPI_XAPIC, MSI, PV_XAPIC, SweepMessage, SweepResult, SweepRow, sweep

RED = palette.SEVERITY["kvm_inconsistent"][2]
AGREE = palette.SEVERITY["agree"][2]


def scenario(vcpus: list[dict], kernel: str = "6.1", **kvm):
    return scenario_from_dict({"format": "apicviz-scenario", "version": 1, "kvm": {"kernel": kernel, **kvm},
                               "vcpus": vcpus})


ALIASED = [{"id": 0}, {"id": 0x23}, {"id": 0x123, "xapic_id": 0x23}]


def make(qtbot, vcpus=ALIASED, **kw) -> tuple[Controller, SweepView]:
    ctrl = Controller(scenario(vcpus, **kw))
    view = SweepView(ctrl)
    qtbot.addWidget(view)
    view.resize(1200, 320)
    view.show()
    qtbot.waitExposed(view)
    ctrl.ensure_sweep()
    return ctrl, view


def test_matrix_of_a_known_destination():
    m = HeatMatrix(sweep(evaluate(scenario(ALIASED))))
    assert m.rows == [("physical", MSI), ("physical", IPI_XAPIC), ("physical", PV_XAPIC), ("logical", MSI),
                      ("logical", IPI_XAPIC)]
    c = m.column_of(0x23)
    assert c is not None
    assert m.column_label(c) == "0x23"
    # The PV IPI to 0x23 reads the same slot: vCPU 0x123 is lost there too.
    assert list(m.values[:3, c]) == [SEVERITY_RANK["kvm_inconsistent"]] * 3
    assert list(m.values[:, m.column_of(5)]) == [SEVERITY_RANK["agree"]] * 5
    # No ICR or MSI sends 0x123 (an xAPIC ICR has 8 bits, an MSI without 32-bit IDs too); a PV IPI names
    # any APIC ID and reaches vCPU 0x123 at its hotplug slot, where hardware adds vCPU 0x23 (by design).
    big = m.column_of(0x123)
    assert big is not None
    assert list(m.values[[0, 1, 3, 4], big]) == [NOT_SENT] * 4
    assert m.values[2, big] == SEVERITY_RANK["kvm_by_design"]
    cell = m.cell(0, c)
    assert cell is not None
    assert cell.severity == "kvm_inconsistent"
    assert cell.row is not None
    assert cell.message == SweepMessage("physical", 0x23, MSI)


def test_columns_are_the_routed_destinations_only_with_ids_near_2_32():
    """4096 x2APIC vCPUs up to 0xfffffffe: columns stay a few thousand, no per-APIC-ID array."""
    ids = [i * 0x100000 for i in range(4095)] + [0xFFFFFFFE]
    vcpus = [{"id": i, "apic": "x2apic"} for i in ids]
    result = sweep(evaluate(scenario(vcpus, kernel="upstream", x2apic_api={"use_32bit_ids": True})))
    m = HeatMatrix(result)
    assert m.values.shape[1] == len({d.dest for d in result.destinations}) < 20000
    assert m.values.dtype == np.int8
    big = m.column_of(0xFFFFFFFE)
    assert big is not None
    assert m.values[m.rows.index(("physical", IPI_X2APIC)), big] == SEVERITY_RANK["agree"]
    # an unnamed ID is no column of its own: its class column (first member 0x101) stands for it
    assert m.column_of(0x100001) is None
    cls = m.column_of(0x101)
    assert cls is not None
    assert m.counts[cls] > 1000
    assert m.column_label(cls).startswith("0x101 +")
    # logical rows do not send physical-only values: a vCPU ID above 0xff is not a logical destination here
    assert m.values[m.rows.index(("logical", MSI)), m.column_of(0x100000 * 7)] == NOT_SENT


def test_pixels_on_screen_and_in_the_exported_png(qtbot, tmp_path):
    _ctrl, view = make(qtbot)
    heat = view.heatmap
    c = heat.matrix.column_of(0x23)
    scene = heat.scene_pos_of(0, c)
    shown = heat.plot.grab().toImage()
    at = heat.plot.mapFromScene(scene)
    assert QColor(shown.pixel(at)) == QColor(RED)
    agree_at = heat.plot.mapFromScene(heat.scene_pos_of(0, heat.matrix.column_of(5)))
    assert QColor(shown.pixel(agree_at)) == QColor(AGREE)
    path = tmp_path / "heat.png"
    heat.export_png(str(path))
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    png = QImage(str(path))
    assert not png.isNull()
    origin = heat.plot.getPlotItem().sceneBoundingRect().topLeft()
    assert QColor(png.pixel(int(scene.x() - origin.x()), int(scene.y() - origin.y()))) == QColor(RED)


def test_svg_export_is_valid_and_embeds_the_cells(qtbot, tmp_path):
    _ctrl, view = make(qtbot)
    path = tmp_path / "heat.svg"
    view.heatmap.export_svg(str(path))
    doc = xml.dom.minidom.parse(str(path))  # well-formed XML
    assert doc.documentElement.tagName == "svg"
    images = doc.getElementsByTagName("image")
    assert images, "the cells are an embedded image"
    href = images[0].getAttribute("xlink:href") or images[0].getAttribute("href")
    data = re.sub(r"^data:image/png;base64,", "", href)
    cells = QImage.fromData(base64.b64decode(data))
    assert not cells.isNull()
    m = view.heatmap.matrix
    assert (cells.width(), cells.height()) == (m.shape[1], m.shape[0])  # one image pixel per cell
    assert QColor(cells.pixel(m.column_of(0x23), 0)) == QColor(RED)
    assert QColor(cells.pixel(m.column_of(5), 0)) == QColor(AGREE)


def test_hover_names_the_cell(qtbot):
    _ctrl, view = make(qtbot)
    heat = view.heatmap
    c = heat.matrix.column_of(0x23)
    pos = heat.plot.mapFromScene(heat.scene_pos_of(1, c))
    viewport = heat.plot.viewport()
    # A real move event, delivered at once (QTest's mouseMove sends none when the pointer is already there).
    move = QMouseEvent(QEvent.Type.MouseMove, QPointF(pos), QPointF(viewport.mapToGlobal(pos)),
                       Qt.MouseButton.NoButton, Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(viewport, move)
    qtbot.waitUntil(lambda: "0x23" in heat.hover.text())
    text = heat.hover.text()
    assert text.startswith("xAPIC IPI to physical 0x23: KVM inconsistent (map ≠ slow path)")
    assert "dropped 0x123" in text
    assert "slow path → 0x23, 0x123" in text


def test_click_explains_that_destination(qtbot):
    ctrl, view = make(qtbot)
    explain = ExplainView(ctrl)
    qtbot.addWidget(explain)
    ctrl.select_interrupt(-1)
    heat = view.heatmap
    pos = heat.plot.mapFromScene(heat.scene_pos_of(0, heat.matrix.column_of(0x23)))
    qtbot.mouseClick(heat.plot.viewport(), Qt.MouseButton.LeftButton, pos=QPoint(pos.x(), pos.y()))
    qtbot.waitUntil(lambda: ctrl.selected_destination is not None)
    assert ctrl.selected_destination == SweepMessage("physical", 0x23, MSI)
    assert ctrl.selected_vcpus == [1, 2]  # target 0x23 and dropped 0x123, outlined on the map
    text = explain.text()
    assert "Sweep: MSI to physical 0x23 (fixed)" in text
    assert "DROPPED: 0x123 should get it but do not." in text
    assert "Severity: kvm_inconsistent" in text
    # an edit keeps the explanation of that destination up to date
    ctrl.scenario.vcpus[2].xapic_id = 0x42
    ctrl.rerun()
    assert "DROPPED" not in explain.text()
    assert "Sweep: MSI to physical 0x23" in explain.text()
    # selecting an interrupt takes the Explain dock back
    ctrl.scenario.interrupts.append(scenario_from_dict({"vcpus": [{"id": 0}], "interrupts": [
        {"source": 0, "dest": 0}]}).interrupts[0])
    ctrl.rerun()
    ctrl.select_interrupt(0)
    assert ctrl.selected_destination is None
    assert "Sweep:" not in explain.text()


def test_rebuilt_only_when_shown(qtbot):
    ctrl, view = make(qtbot)
    view.set_page("table")
    before = view.heatmap.matrix
    ctrl.scenario.vcpus[2].xapic_id = 0x42
    ctrl.rerun()
    ctrl.ensure_sweep()
    assert view.heatmap.matrix is before  # hidden: nothing rebuilt
    view.set_page("heatmap")
    m = view.heatmap.matrix
    assert m is not before
    assert m.values[0, m.column_of(0x23)] == SEVERITY_RANK["agree"]


def test_a_sender_kind_the_view_does_not_know_gets_its_own_row():
    """Rows are the sweep's own: a new kind (as PV IPIs add) is appended, never a crash or a lost row."""
    result = sweep(evaluate(scenario(ALIASED)))
    red = next(r for r in result.rows if r.dest == 0x23 and r.dest_mode == "physical")
    extra = SweepResult(rows=[*result.rows, SweepRow("physical", ("future-kind",), 0x777, red.route)],
                        destinations=result.destinations)
    m = HeatMatrix(extra)
    assert m.rows[-1] == ("physical", "future-kind")
    assert m.row_label(len(m.rows) - 1) == "future-kind physical"
    c = m.column_of(0x777)
    assert c is not None
    assert m.values[-1, c] == SEVERITY_RANK["kvm_inconsistent"]
    assert (m.values[-1, np.arange(m.shape[1]) != c] == NOT_SENT).all()
