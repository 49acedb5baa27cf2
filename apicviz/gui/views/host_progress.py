"""The host check's progress in the status bar: a bar and a Cancel button while a big VM is probed.

A small VM is probed in about 10 ms, which must not flash a bar; only a run
that lasts longer than :data:`SHOW_AFTER_S` shows it. Esc cancels as well
(the window's shortcut, enabled only while the bar is shown).
"""
from __future__ import annotations

from PySide6.QtWidgets import QHBoxLayout, QLabel, QProgressBar, QToolButton, QWidget

from ..controller.controller import Controller

SHOW_AFTER_S = 0.3
PHASES = {"build": "building the VM", "interrupts": "sending interrupts", "sweep": "sweeping destinations"}


class HostProgress(QWidget):
    """'host check: sending interrupts 12/64 (1.4 s) [■■■□□] Cancel'."""

    def __init__(self, controller: Controller, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.controller = controller
        self.label = QLabel(self)
        self.bar = QProgressBar(self)
        self.bar.setMaximumWidth(140)
        self.bar.setTextVisible(False)
        self.cancel_button = QToolButton(self)
        self.cancel_button.setText("Cancel")
        self.cancel_button.setToolTip("Stop this host check (Esc); it runs again after the next edit")
        self.cancel_button.clicked.connect(controller.host_check.cancel)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(4)
        layout.addWidget(self.label)
        layout.addWidget(self.bar)
        layout.addWidget(self.cancel_button)
        self.hide()
        controller.host_check.progress.connect(self._on_progress)
        controller.host_changed.connect(self._on_host_changed)

    def _on_progress(self, phase: str, done: int, total: int, seconds: float) -> None:
        if seconds < SHOW_AFTER_S and self.isHidden():
            return
        if phase == "build" and done < total:
            # The VM is built in one go (no steps to count): a busy bar.
            self.label.setText(f"host check: {PHASES[phase]}, {total:,} vCPUs ({seconds:.1f} s)")
            self.bar.setRange(0, 0)
        else:
            self.label.setText(f"host check: {PHASES.get(phase, phase)} {done:,}/{total:,} ({seconds:.1f} s)")
            self.bar.setRange(0, max(total, 1))
            self.bar.setValue(min(done, total))
        if self.isHidden():
            self.show()

    def _on_host_changed(self, _results: object) -> None:
        if not self.controller.host_check.busy:
            self.hide()
