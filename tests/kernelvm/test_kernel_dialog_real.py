"""The window side of Check on another kernel…, on Debian's real 6.1 kernel (a throwaway VM; ~40 s here).

With the host check on as well, the Compare tab shows two real kernels beside
the model: this host (6.3+) reaches both aliased vCPUs, the 6.1 kernel only
the first — what the 6.1 scenario's model says.
"""
from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from pathlib import Path

import pytest
from PySide6.QtCore import QSettings, Qt

EXAMPLES = Path(__file__).resolve().parents[2] / "apicviz" / "resources" / "examples"
ALIASED_61 = EXAMPLES / "02-aliased-xapic-id-6.1.apicviz.json"

pytestmark = pytest.mark.qt_log_ignore("This plugin does not support propagateSizeHints")


def test_real_61_in_the_column_and_beside_this_host_in_compare(qtbot, tmp_path: Path, debian_61_deb: Path) -> None:
    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, str(tmp_path / "settings"))
    from apicviz.gui.shell.app import create_main_window
    from apicviz.gui.viewmodels.columns import column_index
    from apicviz.host.host_info import KvmUnavailable, host_info
    from apicviz.model import load_scenario

    window = create_main_window(scenario=load_scenario(ALIASED_61))
    qtbot.addWidget(window)
    window.show()
    controller = window.controller
    try:
        info = host_info()
    except KvmUnavailable:
        info = None
    if info is not None:
        window.kvm_actions.check_host.trigger()
    dialog = window.kvm_actions.open_kernel_dialog()
    dialog.kernel_edit.setText(str(debian_61_deb))
    assert dialog.run()
    qtbot.waitUntil(lambda: not controller.kernel_check.busy, timeout=600_000)
    assert dialog.error_text() == "", dialog.error_text() + "\n" + dialog.details.toPlainText()[-2000:]
    verdict = controller.host_results.kernel
    assert verdict is not None
    assert verdict.label.startswith("Linux 6.1.0-")
    assert verdict.label.endswith("-amd64 (VM)")
    model = window.interrupt_model
    column = column_index(model.columns, "host")
    assert model.headerData(column, Qt.Orientation.Horizontal) == verdict.label
    cells = [model.data(model.index(n, column)) for n in range(model.rowCount())]
    assert cells == ["✓ 0x0", "✓ 0x0", "✓ nobody"], cells  # the real 6.1 keeps the first aliased vCPU only
    assert window.summary.other_kernel.text() == "Linux 6.1 (VM): 3/3 agree"
    compare = window.compare_view
    compare.set_active(True)
    text = compare.text()
    assert verdict.label in text
    if info is not None and info.behaviour == "6.3+":
        qtbot.waitUntil(lambda: controller.host_results.host.fresh, timeout=20_000)
        text = compare.text()
        host = controller.host_results.host.verdict
        assert host is not None
        assert host.label in text
        assert "✓ 0x0, 0x1 (scenario: 0x0)" in text  # this host reaches both; the 6.1 model and kernel do not
    print(f"\nreal 6.1 in the window: {verdict.summary()} in {verdict.probe['vm']['seconds']} s "
          f"({verdict.probe['vm']['accel']})")
