"""File > Attach to QEMU…: read a running VM over QMP without freezing the window.

The dialog asks for the QMP socket (``unix:PATH`` or a path) and whether to
take the modes from a migration snapshot. The attach runs in a worker
thread (every step is bounded by QMP timeouts); the window polls it, shows a
busy progress dialog meanwhile, and then either opens the result as a new,
untitled scenario — its notes say which QEMU, socket and time it came from —
or shows why it failed, leaving the current scenario as it was.
"""
from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from PySide6.QtCore import QObject, Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMessageBox,
    QProgressDialog,
    QPushButton,
    QWidget,
)

from ...importers.common import ImportResult
from ...model import ScenarioError
from ..controller.workers import Worker

POLL_MS = 50


@dataclass
class _Job:
    """One attach in a worker thread; the worker fills ``result`` or ``error`` and sets ``done``."""

    address: str
    from_migration: bool
    done: threading.Event = field(default_factory=threading.Event)
    result: ImportResult | None = None
    error: str | None = None

    def run(self) -> None:
        from ...qemu.attach import attach

        try:
            self.result = attach(self.address, mode_from_migration=self.from_migration)
        except ScenarioError as exc:  # QmpError included: dead, busy, foreign socket, timeout, refused migration
            self.error = str(exc)
        except Exception as exc:  # noqa: BLE001 - a bug of ours must not vanish in a thread
            self.error = f"internal error: {type(exc).__name__}: {exc}"
        finally:
            self.done.set()


class AttachRunner(QObject):
    """Runs one attach off the GUI thread and reports back on it (``succeeded`` or ``failed``)."""

    succeeded = Signal(object)  # ImportResult
    failed = Signal(str)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._job: _Job | None = None
        self._worker: Worker | None = None
        self._poll = QTimer(self)
        self._poll.setInterval(POLL_MS)
        self._poll.timeout.connect(self._collect)

    @property
    def busy(self) -> bool:
        return self._job is not None

    def start(self, address: str, from_migration: bool) -> None:
        if self._job is not None:
            raise RuntimeError("an attach is already running")
        self._job = _Job(address, from_migration)
        self._worker = Worker(self._job.run, "apicviz-attach")
        self._worker.start()
        self._poll.start()

    def _collect(self) -> None:
        job = self._job
        if job is None or not job.done.is_set():
            return
        self._job = None
        self._poll.stop()
        if self._worker is not None:
            self._worker.finished()
            self._worker = None
        if job.result is not None:
            self.succeeded.emit(job.result)
        else:
            self.failed.emit(job.error or "the attach failed without a reason")


class AttachDialog(QDialog):
    """Socket path and the migration choice."""

    def __init__(self, parent: QWidget | None = None, last_socket: str = "") -> None:
        super().__init__(parent)
        self.setWindowTitle("Attach to QEMU")
        self.socket = QLineEdit(self)
        self.socket.setPlaceholderText("unix:/path/to/qmp.sock or /path/to/qmp.sock")
        self.socket.setToolTip("QEMU's QMP socket: start QEMU with -qmp unix:PATH,server=on,wait=off")
        self.socket.setText(last_socket)
        browse = QPushButton("Browse…", self)
        browse.clicked.connect(self._browse)
        row = QHBoxLayout()
        row.addWidget(self.socket, 1)
        row.addWidget(browse)
        self.migration = QCheckBox("Read the APIC modes from a migration snapshot", self)
        self.migration.setToolTip("IA32_APIC_BASE is only in the migration stream: QEMU pauses the VM while it "
                                  "writes its RAM to a temporary file, then apicviz resumes it")
        note = QLabel("QEMU serves one QMP client at a time: close other QMP sessions first. Without the snapshot "
                      "the modes are inferred, and the notes say for which vCPUs and how.", self)
        note.setWordWrap(True)
        form = QFormLayout(self)
        form.addRow("QMP socket:", row)
        form.addRow("", self.migration)
        form.addRow(note)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel, self)
        buttons.button(QDialogButtonBox.StandardButton.Ok).setText("Attach")
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        form.addRow(buttons)
        self.resize(560, 180)

    def _browse(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "QMP socket", "", "All files (*)")
        if path:
            self.socket.setText(path)

    def address(self) -> str:
        text = self.socket.text().strip()
        if not text:
            raise ScenarioError("QMP socket", "give the socket path (unix:PATH or PATH)")
        return text


def attach_interactively(parent: QWidget, controller, may_replace: Callable[[], bool],
                         message: Callable[[str], None] | None = None, last_socket: str = "",
                         remember: Callable[[str], None] | None = None) -> AttachRunner | None:
    """Ask, then attach in the background; the runner is returned so callers (tests) can wait for it."""
    dialog = AttachDialog(parent, last_socket)
    while dialog.exec() == QDialog.DialogCode.Accepted:
        try:
            address = dialog.address()
        except ScenarioError as exc:
            QMessageBox.warning(parent, "Attach to QEMU", str(exc))
            continue
        if not may_replace():
            return None
        if remember:
            remember(address)
        return _start(parent, controller, address, dialog.migration.isChecked(), message)
    return None


def _start(parent: QWidget, controller, address: str, from_migration: bool,
           message: Callable[[str], None] | None) -> AttachRunner:
    runner = AttachRunner(parent)
    busy = QProgressDialog(f"Reading the vCPUs of the QEMU at {address}…"
                           + ("\nTaking a migration snapshot (the VM pauses meanwhile)…" if from_migration else ""),
                           "", 0, 0, parent)
    busy.setWindowTitle("Attach to QEMU")
    busy.setCancelButton(None)  # every step is bounded by a timeout; a half-done migration must finish and resume
    busy.setWindowModality(Qt.WindowModality.WindowModal)
    busy.setMinimumDuration(0)
    busy.show()

    def done(result: ImportResult) -> None:
        busy.close()
        controller.set_scenario(result.scenario, None)
        if message:
            message(f"Attached to {address}: {len(result.scenario.vcpus)} vCPUs (untitled; the notes say where "
                    f"it came from)")
        if result.warnings:
            shown = "\n".join(f"• {w}" for w in result.warnings[:12])
            more = f"\n… and {len(result.warnings) - 12} more (in the notes)" if len(result.warnings) > 12 else ""
            QMessageBox.information(parent, "Attached with warnings", shown + more)

    def failed(text: str) -> None:
        busy.close()
        if message:
            message(f"Not attached: {text}")
        QMessageBox.critical(parent, "Cannot attach to QEMU", f"{text}\n\nThe current scenario is unchanged.")

    runner.succeeded.connect(done)
    runner.failed.connect(failed)
    runner.start(address, from_migration)
    return runner


__all__ = ["AttachDialog", "AttachRunner", "attach_interactively"]
