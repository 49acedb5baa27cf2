"""File > Save and Export Picture respect the file: read-only asks, symlinks stay, devices are refused."""
from __future__ import annotations

import os
import stat

from gui_helpers import edit
from PySide6.QtWidgets import QMessageBox

from apicviz.model import load_scenario


def test_saving_over_a_read_only_file_asks_first(window, tmp_path, dialogs):
    path = tmp_path / "ro.apicviz.json"
    assert window.files.write(str(path))
    path.chmod(0o444)
    edit(window.vcpu_model, 0, "logical_id", "0x3")
    dialogs.answer = QMessageBox.StandardButton.No
    assert not window.files.save_file()
    assert "read-only" in dialogs.texts("question")[-1]
    assert load_scenario(path).vcpus[0].logical_id != 3
    assert window.controller.dirty
    dialogs.answer = QMessageBox.StandardButton.Yes
    assert window.files.save_file()
    assert load_scenario(path).vcpus[0].logical_id == 3
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o444
    assert not window.controller.dirty


def test_saving_to_a_symlink_keeps_the_link(window, tmp_path):
    real = tmp_path / "real.apicviz.json"
    link = tmp_path / "link.apicviz.json"
    assert window.files.write(str(real))
    real.chmod(0o640)
    link.symlink_to(real)
    edit(window.vcpu_model, 0, "logical_id", "0x3")
    assert window.files.write(str(link))
    assert link.is_symlink()
    assert load_scenario(real).vcpus[0].logical_id == 3
    assert stat.S_IMODE(os.stat(real).st_mode) == 0o640


def test_saving_to_a_device_or_fifo_is_refused_with_a_message(window, tmp_path, dialogs):
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    edit(window.vcpu_model, 0, "logical_id", "0x3")
    for target in ("/dev/null", str(fifo)):
        assert not window.files.write(target)
        assert "not a regular file" in dialogs.texts("critical")[-1]
    assert stat.S_ISCHR(os.stat("/dev/null").st_mode)
    assert stat.S_ISFIFO(os.stat(fifo).st_mode)
    assert window.controller.dirty


def test_export_picture_over_a_read_only_png_asks_first(window, tmp_path, dialogs):
    path = tmp_path / "shot.png"
    assert window.share.export(window.map_view, str(path))
    before = path.read_bytes()
    path.chmod(0o444)
    dialogs.answer = QMessageBox.StandardButton.No
    assert not window.share.export(window.map_view, str(path))
    assert path.read_bytes() == before
    dialogs.answer = QMessageBox.StandardButton.Yes
    assert window.share.export(window.map_view, str(path))
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o444
