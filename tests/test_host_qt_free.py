"""apicviz.host talks to the kernel, never to Qt: the probe must run in a worker thread and on servers."""
from __future__ import annotations

import pkgutil
import subprocess
import sys

import pytest

import apicviz.host

QT_PACKAGES = ("PySide6", "shiboken6", "pyqtgraph")


def _host_modules() -> list[str]:
    return [apicviz.host.__name__] + [
        info.name for info in pkgutil.walk_packages(apicviz.host.__path__, prefix="apicviz.host.")]


def test_host_package_has_its_modules() -> None:
    expected = {"kvm_abi", "vm", "deliver", "readback", "host_info", "probe", "stub", "batch", "skips"}
    assert {f"apicviz.host.{m}" for m in expected} <= set(_host_modules())


@pytest.mark.parametrize("module", [*_host_modules(), "apicviz.cli.probe_cmd"])
def test_host_module_imports_no_qt(module: str) -> None:
    code = (
        "import importlib, sys\n"
        f"importlib.import_module({module!r})\n"
        f"bad = sorted(m for m in sys.modules if m.split('.')[0] in {QT_PACKAGES!r})\n"
        "assert not bad, bad\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr
