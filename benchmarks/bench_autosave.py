"""Cost of the autosave journal per edit, and what a synchronous fdatasync per edit would add.

Run: .venv/bin/python benchmarks/bench_autosave.py  (offscreen; prints a Markdown table).

For each VM size: the time of one edit in the window (a vCPU table cell set
through the model, as a delegate does) with autosave off and on, the time of
``Journal.record`` alone (the write() that makes the edit survive kill -9),
and of ``os.fdatasync`` on the journal — which the journal runs on a
background thread, so it is not part of an edit's latency.
"""
from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtCore import QSettings, Qt

SIZES = (16, 512, 4096)
EDITS = 40


def median_ms(samples: list[float]) -> float:
    return statistics.median(samples) * 1000


def window_edit_ms(n: int, folder: Path) -> tuple[float, float]:
    """Median edit time of one window without and with an autosaver, alternating blocks of edits."""
    from apicviz.gui.shell.app import create_application, create_main_window
    from apicviz.gui.shell.autosave import Autosaver
    from apicviz.gui.shell.housekeeping import install_idle_gc
    from apicviz.gui.viewmodels.columns import column_index
    from apicviz.model import Scenario, Vcpu

    app = create_application(["bench"])
    scenario = Scenario(vcpus=[Vcpu(id=i, apic="xapic" if i < 0x100 else "x2apic") for i in range(n)])
    window = create_main_window(scenario=scenario, remember_settings=False)
    install_idle_gc(window.controller)  # the collector policy the app runs with (launch.py)
    window.resize(1280, 800)
    window.show()
    app.processEvents()
    model = window.vcpu_model
    index = model.index(0, column_index(model.columns, "logical_id"))
    samples: dict[bool, list[float]] = {False: [], True: []}
    saver: Autosaver | None = None
    for block in range(8):
        on = block % 2 == 1
        if on and saver is None:
            saver = Autosaver(window.controller, folder)
        elif not on and saver is not None:
            saver.discard()
            saver.deleteLater()
            saver = None
            app.processEvents()
        for k in range(EDITS // 4):
            start = time.perf_counter()
            model.setData(index, hex((block * 50 + k) % 200 + 1), Qt.ItemDataRole.EditRole)
            app.processEvents()
            samples[on].append(time.perf_counter() - start)
    if saver is not None:
        saver.discard()
    window.controller.undo_stack.setClean()
    window.close()
    app.processEvents()
    return median_ms(samples[False]), median_ms(samples[True])


def journal_ms(n: int, folder: Path) -> tuple[float, float]:
    from apicviz.gui.shell.journal import Journal
    from apicviz.model import Scenario, Vcpu

    scenario = Scenario(vcpus=[Vcpu(id=i, apic="xapic" if i < 0x100 else "x2apic") for i in range(n)])
    journal = Journal(folder)
    journal._syncer.request = lambda fd: None  # type: ignore[method-assign]  # measure the sync here instead
    journal.record(scenario, None)
    record, sync = [], []
    for k in range(EDITS):
        scenario.vcpus[0].logical_id = k % 200 + 1
        start = time.perf_counter()
        journal.record(scenario, None)
        record.append(time.perf_counter() - start)
        start = time.perf_counter()
        os.fdatasync(journal._fd)  # type: ignore[arg-type]
        sync.append(time.perf_counter() - start)
    journal.close()
    return median_ms(record), median_ms(sync)


def main() -> None:
    with tempfile.TemporaryDirectory(dir=os.path.expanduser("~")) as tmp:
        QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, tmp)
        folder = Path(tmp) / "autosave"
        print(f"autosave folder on the same file system as {os.path.expanduser('~')}; median of {EDITS} edits")
        print()
        print("| vCPUs | edit, autosave off (ms) | edit, autosave on (ms) | Journal.record (ms) "
              "| fdatasync, off the GUI thread (ms) |")
        print("|---|---|---|---|---|")
        for n in SIZES:
            off, on = window_edit_ms(n, folder)
            record, sync = journal_ms(n, folder)
            print(f"| {n} | {off:.1f} | {on:.1f} | {record:.2f} | {sync:.2f} |")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
