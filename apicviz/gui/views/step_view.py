"""Step through the map recalculation one vCPU at a time.

Replays the :class:`~apicviz.model.apic_map.Step` records that
``recalculate(..., trace=...)`` writes: the slot being written, the
collision, and the moment KVM gives up the map. Stepping selects the vCPU
concerned, so the map view highlights where it lands.
"""
from __future__ import annotations

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QKeySequence
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from ...model.apic_map import Step
from ...model.replay import BuiltSoFar, built_so_far
from ..controller.controller import Controller
from . import palette

_COLOURS = {
    "alias": palette.DROPPED_TEXT,
    "alloc": palette.DROPPED_TEXT,
    "logical-disable": palette.WARN_TEXT,
    "phys-skip": palette.WARN_TEXT,
    "phys-overwrite": palette.WARN_TEXT,
}
_MARKS = {"alias": "✗ ", "alloc": "✗ ", "logical-disable": "! ", "phys-skip": "! ", "phys-overwrite": "! "}


class StepView(QWidget):
    """Next/previous/play through the recalculation of the current scenario."""

    #: The map as built up to the current step (model.replay.BuiltSoFar), or None: show the finished map.
    progress_changed = Signal(object)

    def __init__(self, controller: Controller, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.controller = controller
        self.steps: list[Step] = []
        self.position = -1
        self._stale = True
        self._active = False
        self.list = QListWidget(self)
        self.list.setWordWrap(True)
        self.list.currentRowChanged.connect(self._on_row_changed)
        self.caption = QLabel(self)
        self.caption.setWordWrap(True)
        self.caption.setTextFormat(Qt.TextFormat.PlainText)
        buttons = QHBoxLayout()
        self.first_btn = QPushButton("⇤ Start", self)
        self.prev_btn = QPushButton("◀ Previous", self)
        self.play_btn = QPushButton("▶ Play", self)
        self.next_btn = QPushButton("Next ▶", self)
        self.prev_btn.setShortcut(QKeySequence("Alt+Left"))
        self.next_btn.setShortcut(QKeySequence("Alt+Right"))
        self.prev_btn.setToolTip("Previous step (Alt+Left)")
        self.next_btn.setToolTip("Next step (Alt+Right)")
        self.play_btn.setToolTip("Replay the recalculation, one step every 0.7 s")
        for b in (self.first_btn, self.prev_btn, self.play_btn, self.next_btn):
            buttons.addWidget(b)
        self.first_btn.clicked.connect(lambda: self.go(0))
        self.prev_btn.clicked.connect(lambda: self.go(self.position - 1))
        self.next_btn.clicked.connect(lambda: self.go(self.position + 1))
        self.play_btn.clicked.connect(self.toggle_play)
        self.timer = QTimer(self)
        self.timer.setInterval(700)
        self.timer.timeout.connect(self._on_tick)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.addLayout(buttons)
        layout.addWidget(self.caption)
        layout.addWidget(self.list, 1)
        controller.result_changed.connect(self._on_result_changed)

    def _on_result_changed(self, _ev: object) -> None:
        # Tracing a 4096-vCPU map costs tens of ms: only do it while the tab is shown.
        if self._active:
            self._reload()
        else:
            self._stale = True

    def set_active(self, active: bool) -> None:
        """The dock's tab became current (or not); a tabbed-away dock still counts as 'visible' to Qt."""
        self._active = active
        if active and self._stale:
            self._reload()
        self.progress_changed.emit(self.built())  # away: the map shows the finished result again

    def _reload(self) -> None:
        self._stale = False
        if self.timer.isActive():
            self.toggle_play()
        trace = self.controller.recalculation_steps()
        self.steps = trace
        self.list.blockSignals(True)
        self.list.clear()
        vcpus = self.controller.evaluation.scenario.vcpus
        for n, step in enumerate(trace):
            who = f"vCPU {vcpus[step.vcpu].id:#x}" if step.vcpu >= 0 else "map"
            item = QListWidgetItem(f"{n + 1}. {_MARKS.get(step.action, '')}{step.text}")
            item.setToolTip(f"{who}: {step.action}")
            colour = _COLOURS.get(step.action)
            if colour:
                item.setForeground(palette.qcolor(colour))
            self.list.addItem(item)
        self.list.blockSignals(False)
        self.position = -1
        self._update_caption()
        self.progress_changed.emit(None)

    def go(self, position: int) -> None:
        if not self.steps:
            return
        position = max(0, min(position, len(self.steps) - 1))
        self.list.setCurrentRow(position)

    def toggle_play(self) -> None:
        if self.timer.isActive():
            self.timer.stop()
        else:
            if self.position >= len(self.steps) - 1:
                self.go(0)
            self.timer.start()
        self.play_btn.setText("❚❚ Pause" if self.timer.isActive() else "▶ Play")

    def _on_tick(self) -> None:
        if self.position >= len(self.steps) - 1:
            self.toggle_play()
            return
        self.go(self.position + 1)

    def _on_row_changed(self, row: int) -> None:
        self.position = row
        self._update_caption()
        self.progress_changed.emit(self.built())
        if 0 <= row < len(self.steps) and self.steps[row].vcpu >= 0:
            self.controller.select_vcpus([self.steps[row].vcpu])

    def built(self) -> BuiltSoFar | None:
        """The half-built map at the current step; None before the first step or while the tab is away."""
        if not self._active or not 0 <= self.position < len(self.steps):
            return None
        return built_so_far(self.steps, self.position)

    def _update_caption(self) -> None:
        total = len(self.steps)
        if self.position < 0:
            res = self.controller.evaluation.result
            end = "KVM gives up the map" if res.status == "none" else "an optimized map is installed"
            self.caption.setText(f"{total} steps, in vCPU creation order; at the end {end}. Press Next to start.")
            return
        step = self.steps[self.position]
        self.caption.setText(f"Step {self.position + 1} of {total}: {step.text}")

    def current_step(self) -> Step | None:
        return self.steps[self.position] if 0 <= self.position < len(self.steps) else None
