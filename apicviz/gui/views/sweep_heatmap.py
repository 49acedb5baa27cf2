"""The sweep as a zoomable heat map (pyqtgraph): every destination, every sender, coloured by severity class.

One ``ImageItem`` over a compressed x axis (:class:`~apicviz.gui.viewmodels.sweep_heatmap.HeatMatrix`):
the wheel zooms along the destinations, hover names the cell, a click asks
the controller to explain that destination (the Explain dock follows), and
the plot exports to PNG or SVG through pyqtgraph's exporters.
"""
from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from pyqtgraph.exporters import ImageExporter
from PySide6.QtCore import QPointF, Qt
from PySide6.QtGui import QFontMetrics
from PySide6.QtWidgets import QFileDialog, QHBoxLayout, QLabel, QPushButton, QSizePolicy, QVBoxLayout, QWidget

from ...model.severity import SEVERITY_NAME, SEVERITY_ORDER
from ...model.sweep import SweepResult
from ..controller.controller import Controller
from ..viewmodels.sweep_heatmap import NOT_SENT, HeatMatrix
from . import palette
from .svg_export import export_svg

NOT_SENT_TEXT = "not sent"


def colour_table() -> np.ndarray:
    """RGBA per cell value + 1 (``NOT_SENT`` first, then the severity ranks), from the palette by class code."""
    names = [palette.SEVERITY_NONE_SOLID] + [palette.SEVERITY[code][2] for code in SEVERITY_ORDER]
    out = np.zeros((len(names), 4), dtype=np.uint8)
    for i, name in enumerate(names):
        c = palette.qcolor(name)
        out[i] = (c.red(), c.green(), c.blue(), 255)
    return out


class HexAxis(pg.AxisItem):
    """Bottom axis: column positions labelled with their destination in hex (the axis is compressed)."""

    def __init__(self) -> None:
        super().__init__("bottom")
        self.matrix: HeatMatrix | None = None

    def tickStrings(self, values: list[float], scale: float, spacing: float) -> list[str]:
        m = self.matrix
        if m is None:
            return ["" for _ in values]
        out = []
        for v in values:
            c = int(np.floor(v))
            out.append(m.column_label(c) if 0 <= c < m.shape[1] else "")
        return out

    def tickValues(self, minVal: float, maxVal: float, size: float) -> list:  # noqa: N803
        """Column middles only (a label names the cell above it), about one label per 90 px."""
        m = self.matrix
        if m is None or m.shape[1] == 0:
            return []
        lo, hi = max(0, int(np.ceil(minVal - 0.5))), min(m.shape[1] - 1, int(np.floor(maxVal - 0.5)))
        if hi < lo:
            return []
        want = max(1, int(size // 90))
        step = max(1, int(np.ceil((hi - lo + 1) / want)))
        return [(float(step), [c + 0.5 for c in range(lo - lo % step, hi + 1, step) if c >= lo])]


class SweepHeatmap(QWidget):
    """Heat map of :attr:`controller.sweep_result`; rebuilt only when a new sweep arrives (and is shown)."""

    def __init__(self, controller: Controller, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.controller = controller
        self.matrix: HeatMatrix | None = None
        self._pending: SweepResult | None = None
        self.axis = HexAxis()
        self.plot = pg.PlotWidget(background=palette.GRID_BACKGROUND, axisItems={"bottom": self.axis})
        self.plot.setMenuEnabled(True)
        item = self.plot.getPlotItem()
        item.hideButtons()
        item.showGrid(x=False, y=False)
        left = item.getAxis("left")
        # Every row is labelled: pyqtgraph would drop labels once they fill more than 20 % of the axis.
        left.setStyle(textFillLimits=[(0, 0.98)])
        self.view = item.getViewBox()
        self.view.invertY(True)
        self.view.setMouseEnabled(x=True, y=False)
        self.view.setDefaultPadding(0.0)
        self.image = pg.ImageItem(axisOrder="row-major")
        self.plot.addItem(self.image)
        self._lut = colour_table()
        self.hover = QLabel("Hover over a cell for its destination; click it to explain it.")
        self.hover.setWordWrap(False)
        # Long hover texts must never widen the window: the label takes the room it is given.
        self.hover.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.hover.setMinimumWidth(0)
        self.hover.setTextFormat(Qt.TextFormat.PlainText)
        self.png_button = QPushButton("PNG…")
        self.svg_button = QPushButton("SVG…")
        self.png_button.setToolTip("Export the heat map as a PNG picture")
        self.svg_button.setToolTip("Export the heat map as an SVG drawing")
        self.png_button.clicked.connect(lambda: self._ask_export("png"))
        self.svg_button.clicked.connect(lambda: self._ask_export("svg"))
        # One line under the plot: what the pointer is on, the legend, the exports (the rows get the height).
        bar = QHBoxLayout()
        bar.setContentsMargins(0, 0, 0, 0)
        bar.addWidget(self.hover, 1)
        for code in reversed(SEVERITY_ORDER):
            bar.addWidget(self._legend_chip(SEVERITY_NAME[code], palette.SEVERITY[code][2], code))
        bar.addWidget(self._legend_chip(NOT_SENT_TEXT, palette.SEVERITY_NONE_SOLID, None))
        bar.addWidget(self.png_button)
        bar.addWidget(self.svg_button)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(2)
        lay.addWidget(self.plot, 1)
        lay.addLayout(bar)
        scene = self.plot.scene()
        scene.sigMouseMoved.connect(self._on_mouse_moved)
        scene.sigMouseClicked.connect(self._on_mouse_clicked)
        controller.sweep_changed.connect(self._on_sweep_changed)
        if controller.sweep_result is not None:
            self._on_sweep_changed(controller.sweep_result)

    @staticmethod
    def _legend_chip(text: str, colour: str, code: str | None) -> QLabel:
        chip = QLabel(text)
        fg = palette.SEVERITY[code][1] if code is not None and code != "agree" else palette.HEATMAP_TEXT
        fill = palette.SEVERITY[code][0] if code is not None else colour
        chip.setStyleSheet(f"QLabel {{ background:{fill}; color:{fg}; border-left: 10px solid {colour};"
                           f" border-radius:2px; padding:0 4px; }}")
        return chip

    # ----- data ---------------------------------------------------------------------

    def _on_sweep_changed(self, result: SweepResult) -> None:
        if self.isVisible():
            self.show_result(result)
        else:
            self._pending = result  # built when shown: a hidden tab costs nothing per edit

    def showEvent(self, event) -> None:
        super().showEvent(event)
        if self._pending is not None:
            result, self._pending = self._pending, None
            self.show_result(result)

    def show_result(self, result: SweepResult) -> None:
        """Rebuild the matrix and the image; keep the zoom when the columns stay the same."""
        old = self.matrix
        m = self.matrix = HeatMatrix(result)
        self.axis.matrix = m
        rows, cols = m.shape
        rgba = self._lut[m.values.astype(np.int16) - NOT_SENT] if rows and cols else np.zeros((1, 1, 4), np.uint8)
        self.image.setImage(rgba, autoLevels=False)
        self.image.setRect(0, 0, max(cols, 1), max(rows, 1))
        left = self.plot.getPlotItem().getAxis("left")
        labels = [m.row_label(r) for r in range(rows)]
        left.setTicks([[(r + 0.5, label) for r, label in enumerate(labels)]])
        # pyqtgraph drops a label wider than the axis: make room for the longest one.
        metrics = QFontMetrics(left.style.get("tickFont") or self.font())
        left.setWidth(max((metrics.horizontalAdvance(label) for label in labels), default=40) + 18)
        # Every row label legible: the plot never gets less than a text line per row (the window makes room).
        bottom = self.plot.getPlotItem().getAxis("bottom")
        self.plot.setMinimumHeight(max(rows, 1) * (metrics.height() + 1) + int(bottom.height()) + 8)
        self.view.setLimits(xMin=0, xMax=max(cols, 1), yMin=0, yMax=max(rows, 1),
                            minXRange=min(8, max(cols, 1)))
        if old is None or old.shape != m.shape or not np.array_equal(old.dests, m.dests):
            self.view.setRange(xRange=(0, max(cols, 1)), yRange=(0, max(rows, 1)), padding=0)

    # ----- pointer ------------------------------------------------------------------

    def cell_at(self, scene_pos: QPointF) -> tuple[int, int] | None:
        """(row, column) under a scene position, or None outside the image."""
        if self.matrix is None:
            return None
        p = self.view.mapSceneToView(scene_pos)
        r, c = int(np.floor(p.y())), int(np.floor(p.x()))
        rows, cols = self.matrix.shape
        return (r, c) if 0 <= r < rows and 0 <= c < cols else None

    def scene_pos_of(self, r: int, c: int) -> QPointF:
        """Scene position of the middle of cell (row, column) — for tests and keyboard use."""
        return self.view.mapViewToScene(QPointF(c + 0.5, r + 0.5))

    def _on_mouse_moved(self, scene_pos: QPointF) -> None:
        hit = self.cell_at(scene_pos)
        if hit is None or self.matrix is None:
            return
        text = self.matrix.hover_text(*hit, self.controller.evaluation)
        self.hover.setText(text)
        self.hover.setToolTip(text)
        self.plot.setToolTip(text)

    def _on_mouse_clicked(self, event) -> None:
        if event.button() != Qt.MouseButton.LeftButton or self.matrix is None:
            return
        hit = self.cell_at(event.scenePos())
        if hit is None:
            return
        cell = self.matrix.cell(*hit)
        if cell is not None and cell.severity is not None:
            self.controller.select_destination(cell.message)
            if cell.row is not None:  # outline who is involved on the map, as a table row does
                route = cell.row.route
                self.controller.select_vcpus(list(route.targets) + list(route.dropped))

    # ----- export -------------------------------------------------------------------

    def export_png(self, path: str, width: int | None = None) -> None:
        """The plot as a PNG (pyqtgraph's ImageExporter), optionally ``width`` pixels wide."""
        exporter = ImageExporter(self.plot.getPlotItem())
        if width is not None:
            exporter.parameters()["width"] = width
        exporter.export(path)

    def export_svg(self, path: str) -> None:
        """The plot as SVG (pyqtgraph's SVGExporter; the cells are an embedded image)."""
        export_svg(self.plot.getPlotItem(), path)

    def _ask_export(self, kind: str) -> None:
        wanted = "PNG picture (*.png)" if kind == "png" else "SVG drawing (*.svg)"
        path, _filter = QFileDialog.getSaveFileName(self, f"Export heat map as {kind.upper()}",
                                                    f"sweep-heatmap.{kind}", wanted)
        if not path:
            return
        try:
            if kind == "png":
                self.export_png(path)
            else:
                self.export_svg(path)
        except OSError as exc:
            self.hover.setText(f"Export failed: {exc}")
