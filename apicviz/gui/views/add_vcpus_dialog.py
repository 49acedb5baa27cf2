""""Add N vCPUs": a pattern of IDs (first, step, count) in one APIC mode, one undo step."""
from __future__ import annotations

from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from ...model import ScenarioError, Vcpu
from ...model.numbers import fmt_id, parse_int
from ...model.scenario import APIC_MODES, MAX_VCPU_ID, MAX_VCPUS
from ..controller import edits
from ..controller.controller import Controller
from . import palette


class AddVcpusDialog(QDialog):
    """Stays open with the reason when the pattern is refused (bad number, duplicate ID)."""

    def __init__(self, controller: Controller, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.controller = controller
        self.setWindowTitle("Add vCPUs")
        self.first = QLineEdit(fmt_id(edits.next_free_id(controller)), self)
        self.first.setToolTip(f"vCPU ID of the first new vCPU, hex or decimal, 0..{fmt_id(MAX_VCPU_ID)}")
        self.step = QLineEdit("1", self)
        self.step.setToolTip("Distance between consecutive IDs (e.g. 2 to skip SMT siblings), 1..0x10000")
        self.count = QSpinBox(self)
        self.count.setRange(1, MAX_VCPUS)
        self.count.setValue(4)
        self.mode = QComboBox(self)
        self.mode.addItems(list(APIC_MODES))
        self.mode.setCurrentText(edits.new_vcpu(controller).apic)
        self.preview = QLabel(self)
        self.error = QLabel(self)
        self.error.setWordWrap(True)
        self.error.setStyleSheet(f"color: {palette.DROPPED_TEXT};")
        form = QFormLayout()
        form.addRow("First vCPU ID", self.first)
        form.addRow("Step", self.step)
        form.addRow("Count", self.count)
        form.addRow("APIC mode", self.mode)
        form.addRow("IDs", self.preview)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel, self)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.error)
        layout.addWidget(buttons)
        for w in (self.first, self.step):
            w.textChanged.connect(self._update_preview)
        self.count.valueChanged.connect(self._update_preview)
        self._update_preview()

    def pattern(self) -> list[Vcpu]:
        first = parse_int(self.first.text(), "first vCPU ID", 0, MAX_VCPU_ID)
        step = parse_int(self.step.text(), "step", 1, 0x10000)
        return edits.vcpu_pattern(first, step, self.count.value(), self.mode.currentText())

    def _update_preview(self) -> None:
        try:
            vcpus = self.pattern()
        except ScenarioError as exc:
            self.preview.setText("—")
            self.error.setText(str(exc))
            return
        self.error.setText("")
        ids = [fmt_id(v.id) for v in vcpus]
        self.preview.setText(", ".join(ids) if len(ids) <= 6 else f"{', '.join(ids[:3])}, …, {ids[-1]}")

    def accept(self) -> None:
        try:
            vcpus = self.pattern()
        except ScenarioError as exc:
            self.error.setText(str(exc))
            return
        if edits.add_vcpus(self.controller, vcpus):
            super().accept()
        else:
            self.error.setText(self.controller.last_refusal)
