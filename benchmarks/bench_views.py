"""How long the map and sweep views take to follow an edit, for 16, 256 and 4096 vCPUs.

Builds a Controller with N vCPUs (IDs below 0x100 in xAPIC mode, the rest in
x2APIC mode, kernel 6.1), shows MapView and SweepView in a 1280x800 window,
then repeatedly changes one vCPU's xAPIC ID, calls ``controller.rerun()`` and
processes events (which repaints). Prints the median milliseconds of:

* ``model``  — ``evaluate()`` alone (not the views' cost);
* ``views``  — the result_changed handlers (MapSlots, logical view, texts);
* ``paint``  — processing the queued repaint;
* ``total``  — rerun() + processEvents(), what the user waits for;
* ``sweep``  — the coalesced destination sweep and the table update (runs after).

Then, for 4096 vCPUs (IDs 0..4095, and IDs spread up to 0xfffffffe), the
Sweep tab's heat map: ``matrix`` — HeatMatrix from a finished sweep (the
Qt-free view-model), ``image`` — SweepHeatmap.show_result (matrix, colour
lookup, ImageItem, axes) plus the repaint.

Targets: total ≤ 16 ms at 256 vCPUs, ≤ 100 ms at 4096; heat map ≤ 50 ms at 4096.

    QT_QPA_PLATFORM=offscreen .venv/bin/python benchmarks/bench_views.py [N ...]
"""
from __future__ import annotations

import os
import statistics
import sys
import time

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QMainWindow, QSplitter

from apicviz.gui.controller.controller import Controller
from apicviz.gui.viewmodels.sweep_heatmap import HeatMatrix
from apicviz.gui.views.map_view import MapView
from apicviz.gui.views.sweep_heatmap import SweepHeatmap
from apicviz.gui.views.sweep_view import SweepView
from apicviz.model import evaluate, scenario_from_dict
from apicviz.model.sweep import sweep

REPEATS = 15


def build(n: int) -> Controller:
    vcpus = [{"id": i, "apic": "xapic" if i < 0x100 else "x2apic", "logical_id": 1 << (i % 8) if i < 8 else 0}
             for i in range(n)]
    return Controller(scenario_from_dict({
        "format": "apicviz-scenario", "version": 1, "kvm": {"kernel": "6.1"}, "vcpus": vcpus,
        "interrupts": [{"name": "IPI to 1", "source": 0, "dest": 1}],
    }))


def bench(app: QApplication, n: int) -> dict[str, float]:
    ctrl = build(n)
    win = QMainWindow()
    split = QSplitter(Qt.Orientation.Vertical)
    view = MapView(ctrl)
    split.addWidget(view)
    split.addWidget(SweepView(ctrl))
    win.setCentralWidget(split)
    win.resize(1280, 800)
    win.show()
    ctrl.select_interrupt(0)
    ctrl.ensure_sweep()
    app.processEvents()
    handler_ms: list[float] = []

    def timed_handler(_ev) -> None:
        handler_ms.append(time.perf_counter())

    # Bracket the views' handlers: connected first and last around the views' own slots.
    ctrl.result_changed.disconnect()
    ctrl.result_changed.connect(timed_handler)
    ctrl.result_changed.connect(view._on_result_changed)
    ctrl.result_changed.connect(lambda ev: split.widget(1)._on_result_changed(ev))
    ctrl.result_changed.connect(timed_handler)
    samples: dict[str, list[float]] = {k: [] for k in ("model", "views", "paint", "total", "sweep")}
    # The sweep normally follows 30 ms after an edit; hold it back so "paint" is only the repaint,
    # then run it (ensure_sweep) and time it on its own.
    ctrl.sweeps.set_delay(60_000)
    for rep in range(REPEATS):
        ctrl.scenario.vcpus[1].xapic_id = 0x80 if rep % 2 == 0 else 1  # alternately alias vCPU 1 with 0x80
        t0 = time.perf_counter()
        evaluate(ctrl.scenario)
        samples["model"].append((time.perf_counter() - t0) * 1000)
        handler_ms.clear()
        t0 = time.perf_counter()
        ctrl.rerun()
        t1 = time.perf_counter()
        app.processEvents()
        t2 = time.perf_counter()
        samples["views"].append((handler_ms[1] - handler_ms[0]) * 1000)
        samples["paint"].append((t2 - t1) * 1000)
        samples["total"].append((t2 - t0) * 1000)
        t0 = time.perf_counter()
        ctrl.ensure_sweep()
        app.processEvents()
        samples["sweep"].append((time.perf_counter() - t0) * 1000)
    win.close()
    win.deleteLater()
    return {k: statistics.median(v) for k, v in samples.items()}


def bench_heatmap(app: QApplication, ids: list[int]) -> dict[str, float]:
    """The heat map of a finished sweep: matrix alone, and matrix + image + repaint in a shown widget."""
    vcpus = [{"id": i, "apic": "x2apic" if i > 0xFF or k % 2 else "xapic"} for k, i in enumerate(ids)]
    ctrl = Controller(scenario_from_dict({
        "format": "apicviz-scenario", "version": 1,
        "kvm": {"kernel": "upstream", "x2apic_api": {"use_32bit_ids": True}}, "vcpus": vcpus}))
    result = sweep(ctrl.evaluation)
    heat = SweepHeatmap(ctrl)
    heat.resize(1280, 260)
    heat.show()
    app.processEvents()
    matrix_ms, image_ms = [], []
    for _ in range(REPEATS):
        t0 = time.perf_counter()
        HeatMatrix(result)
        matrix_ms.append((time.perf_counter() - t0) * 1000)
        t0 = time.perf_counter()
        heat.show_result(result)
        app.processEvents()
        image_ms.append((time.perf_counter() - t0) * 1000)
    columns = heat.matrix.shape[1] if heat.matrix is not None else 0
    heat.close()
    heat.deleteLater()
    return {"matrix": statistics.median(matrix_ms), "image": statistics.median(image_ms), "columns": columns}


def main(argv: list[str]) -> int:
    app = QApplication.instance() or QApplication([])
    sizes = [int(a) for a in argv] or [16, 256, 4096]
    print(f"{'vCPUs':>6} {'model':>8} {'views':>8} {'paint':>8} {'total':>8} {'sweep':>8}   (median ms of {REPEATS})")
    for n in sizes:
        r = bench(app, n)  # type: ignore[arg-type]
        print(f"{n:>6} {r['model']:>8.1f} {r['views']:>8.1f} {r['paint']:>8.1f} {r['total']:>8.1f} {r['sweep']:>8.1f}")
    print(f"\nheat map, 4096 vCPUs {'matrix':>8} {'image':>8} {'columns':>8}   (median ms of {REPEATS})")
    spread = [k * 0x100000 for k in range(4095)] + [0xFFFFFFFE]
    for label, ids in (("IDs 0..0xfff", list(range(4096))), ("IDs to 2^32", spread)):
        h = bench_heatmap(app, ids)  # type: ignore[arg-type]
        print(f"{label:>20} {h['matrix']:>8.1f} {h['image']:>8.1f} {int(h['columns']):>8}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
