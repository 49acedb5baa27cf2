"""Saved and exported files get normal permissions: 0644 under umask 022 (issue 10 item 3).

Every way a user writes a file: Save, Save As of an opened example, Export
Picture, and the command line's report, render and import.
"""
from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from PySide6.QtWidgets import QFileDialog

from apicviz.gui.shell.examples_menu import example_files, open_example

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "apicviz" / "resources" / "examples" / "02-aliased-xapic-id-6.1.apicviz.json"
APICVIZ = [sys.executable, "-m", "apicviz"]


@pytest.fixture
def umask_022():
    old = os.umask(0o022)
    yield
    os.umask(old)


def mode(path: Path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_save_save_as_and_export_are_0644(window, tmp_path, monkeypatch, umask_022):
    target = tmp_path / "mine.apicviz.json"
    monkeypatch.setattr(QFileDialog, "getSaveFileName", staticmethod(lambda *a, **k: (str(target), "")))
    open_example(window, window.controller, example_files()[1])
    assert window.files.save_file()  # an example: Save asks for the name, then writes
    assert mode(target) == 0o644
    assert window.files.write(str(tmp_path / "second.apicviz.json"))
    assert mode(tmp_path / "second.apicviz.json") == 0o644
    picture = tmp_path / "shot.png"
    assert window.share.export(window.map_view, str(picture))
    assert mode(picture) == 0o644


def test_command_line_outputs_are_0644(tmp_path, umask_022):
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    outputs = {
        "report.md": ["report", str(EXAMPLE), "-o"],
        "shot.png": ["render", str(EXAMPLE), "-o"],
    }
    for name, args in outputs.items():
        out = tmp_path / name
        proc = subprocess.run(APICVIZ + args + [str(out)], capture_output=True, text=True, timeout=120, env=env,
                              check=False)
        assert proc.returncode == 0, proc.stderr
        assert mode(out) == 0o644, name
