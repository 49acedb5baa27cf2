"""Edit-to-repaint latency of the whole main window (every dock), as a user edits a cell.

Run: .venv/bin/python benchmarks/bench_window.py  (offscreen). Targets: ≤ 16 ms at 256 vCPUs, ≤ 33 ms at 4096.
The default tabs only; bench_actions.py opens every tab and times every action.
The sweep is excluded (it follows 30 ms later, in a worker thread from 512 vCPUs on); bench_views.py
times the map and sweep views alone.
"""
from __future__ import annotations

import os
import statistics
import time

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtCore import QCoreApplication, QEvent, Qt

from apicviz.gui.shell.app import create_application, create_main_window
from apicviz.gui.viewmodels.columns import column_index
from apicviz.model import scenario_from_dict


def scenario(n: int):
    vcpus = [{"id": i, "apic": "xapic" if i < 0x100 else "x2apic", "logical_id": 1 << (i % 8) if i < 8 else 0}
             for i in range(n)]
    irqs = [{"source": None, "dest": i % max(n, 1)} for i in range(8)]
    return scenario_from_dict({"kvm": {"kernel": "6.1"}, "vcpus": vcpus, "interrupts": irqs})


def measure(n: int, reps: int = 15) -> float:
    app = create_application(["bench"], remember_settings=False)
    window = create_main_window(scenario=scenario(n), remember_settings=False)
    window.resize(1280, 800)
    window.show()
    for _ in range(3):
        app.processEvents()
        QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
    model = window.vcpu_model
    col = column_index(model.columns, "xapic_id")
    window.controller.sweeps.set_delay(60_000)  # the sweep follows the repaint; timed separately
    times = []
    for rep in range(reps):
        value = "0x80" if rep % 2 == 0 else "0x1"
        t = time.perf_counter()
        model.setData(model.index(1, col), value, Qt.ItemDataRole.EditRole)
        app.processEvents()  # Qt paints what the edit made dirty (UpdateRequest events)
        app.processEvents()
        times.append((time.perf_counter() - t) * 1000)
    window.controller.undo_stack.clear()
    window.close()
    return statistics.median(times)


def main() -> None:
    print("| vCPUs | edit-to-repaint, whole window (median of 15) |")
    print("|---:|---:|")
    for n in (16, 256, 4096):
        print(f"| {n} | {measure(n):.1f} ms |")


if __name__ == "__main__":
    main()
