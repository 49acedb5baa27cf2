"""What the host check costs the window: edits stay as fast, answers land in a frame.

Run: .venv/bin/python benchmarks/bench_host_check.py  (offscreen; needs /dev/kvm). For 16, 256 and
1024 vCPUs with 64 interrupts it reports, median of the repetitions:

* edit-to-repaint of the whole window with the check off and on (the probe runs later, in a worker:
  an edit only marks the Host column as being rechecked);
* answer-to-repaint: the GUI thread's work when a probe's answer comes in (column, chip, map marks);
* edit-to-answer: from an edit until the Host column shows the kernel's answer (debounce + probe + repaint).

A measurement, not a test: it reports, it never fails. Load average is printed beside the numbers.
"""
from __future__ import annotations

import os
import statistics
import sys
import time

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtCore import QCoreApplication, QEvent, Qt

from apicviz.gui.controller.host_check import DONE
from apicviz.gui.shell.app import create_application, create_main_window
from apicviz.gui.viewmodels.columns import column_index
from apicviz.host.host_info import KvmUnavailable, host_info
from apicviz.model import Interrupt, Scenario, Vcpu

INTERRUPTS = 64


def scenario(n: int) -> Scenario:
    vcpus = [Vcpu(i, "xapic" if i < 8 else "x2apic", logical_id=1 << i if i < 8 else 0) for i in range(n)]
    irqs = [Interrupt(f"irq {k}", None if k % 2 else (8 + k) % n, "physical", k % n, "none", "fixed", 0x40 + k)
            for k in range(INTERRUPTS)]
    sc = Scenario(title=f"bench {n}", vcpus=vcpus, interrupts=irqs)
    sc.kvm.use_32bit_ids = True
    return sc


def settle(app) -> None:
    for _ in range(3):
        app.processEvents()
        QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)


def edit_times(app, window, reps: int) -> list[float]:
    model = window.interrupt_model
    col = column_index(model.columns, "vector")
    times = []
    for rep in range(reps):
        t = time.perf_counter()
        model.setData(model.index(1, col), str(0x80 + rep % 2), Qt.ItemDataRole.EditRole)
        app.processEvents()
        app.processEvents()
        times.append((time.perf_counter() - t) * 1000)
    return times


def measure(n: int, reps: int) -> tuple[float, float, float, float]:
    app = create_application(["bench"], remember_settings=False)
    window = create_main_window(scenario=scenario(n), remember_settings=False)
    window.resize(1280, 800)
    window.show()
    settle(app)
    controller = window.controller
    controller.sweeps.set_delay(60_000)  # the sweep is timed elsewhere
    off = statistics.median(edit_times(app, window, reps))
    controller.set_host_check(True)
    controller.host_check.wait(60)
    settle(app)
    on = statistics.median(edit_times(app, window, reps))
    scheduler = controller.host_check
    scheduler.wait(60)
    settle(app)
    answers: list[float] = []
    arrivals: list[float] = []
    publish = scheduler._set_status

    def timed_publish(status) -> None:  # the answer's signal runs every view's update synchronously
        t = time.perf_counter()
        publish(status)
        if status.state == DONE:
            arrivals.append((time.perf_counter() - t) * 1000)

    scheduler._set_status = timed_publish  # type: ignore[method-assign]
    model = window.interrupt_model
    vector = column_index(model.columns, "vector")
    for rep in range(reps):
        t0 = time.perf_counter()
        model.setData(model.index(1, vector), str(0x90 + rep % 2), Qt.ItemDataRole.EditRole)
        while not (controller.host_results.host.state == DONE and controller.host_results.host.fresh):
            app.processEvents()
            time.sleep(0.0005)
        app.processEvents()
        answers.append((time.perf_counter() - t0) * 1000)
    controller.undo_stack.clear()
    window.close()
    return off, on, statistics.median(arrivals) if arrivals else float("nan"), statistics.median(answers)


def main() -> None:
    try:
        info = host_info()
    except KvmUnavailable as exc:
        print(f"no usable /dev/kvm: {exc}")
        sys.exit(0)
    reps = 3 if "--quick" in sys.argv else 9
    print(f"host Linux {info.release}; load average {os.getloadavg()[0]:.1f}; {INTERRUPTS} interrupts")
    print("| vCPUs | edit-to-repaint, check off | check on | answer-to-repaint | edit-to-answer |")
    print("|---:|---:|---:|---:|---:|")
    for n in (16, 256, 1024):
        off, on, arrival, answer = measure(n, reps)
        print(f"| {n} | {off:.1f} ms | {on:.1f} ms | {arrival:.1f} ms | {answer:.0f} ms |")
    print(f"load average after: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
