"""File > New from QEMU Topology…: the vCPUs QEMU creates for an ``-smp`` value, as a new scenario.

The same rule as ``apicviz import qemu-smp`` (:mod:`apicviz.importers.topology_scenario`):
QEMU 7.2's defaults for missing counts, APIC IDs by its topology rule, the
x2APIC API flags QEMU would set. The dialog previews the APIC IDs as the
user types, so a topology that QEMU would refuse is named before OK.
"""
from __future__ import annotations

from collections.abc import Callable

from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QMessageBox,
    QWidget,
)

from ...importers.common import ImportResult
from ...importers.topology_scenario import import_qemu_smp
from ...model import KERNEL_CHOICES, ScenarioError
from ...model.kernels import parse_kernel
from ...model.numbers import id_list

MODES = {"Default (x2APIC when an APIC ID is 0xff or more)": None, "xAPIC": "xapic", "x2APIC": "x2apic"}
PREVIEW_IDS = 24


class TopologyDialog(QDialog):
    """-smp value, guest mode, kernel; a live preview of the APIC IDs."""

    def __init__(self, parent: QWidget | None = None, kernel: str = "upstream") -> None:
        super().__init__(parent)
        self.setWindowTitle("New from QEMU topology")
        self.smp = QLineEdit(self)
        self.smp.setPlaceholderText("e.g. 6,sockets=2,cores=3 or 288,sockets=2,cores=72,threads=2")
        self.smp.setToolTip("The value of QEMU's -smp: N[,maxcpus=M][,sockets=][,dies=][,cores=][,threads=]")
        self.mode = QComboBox(self)
        self.mode.addItems(list(MODES))
        self.kernel = QComboBox(self)
        self.kernel.setEditable(True)
        self.kernel.addItems(list(KERNEL_CHOICES))
        self.kernel.setCurrentText(kernel)
        self.iommu = QCheckBox("An IOMMU with x2APIC interrupt remapping (intel-iommu eim=on)", self)
        self.all_slots = QCheckBox("Include the hot-pluggable maxcpus slots (as if plugged in slot order)", self)
        self.preview = QLabel(self)
        self.preview.setWordWrap(True)
        self.preview.setMinimumHeight(48)
        form = QFormLayout(self)
        form.addRow("-smp:", self.smp)
        form.addRow("Guest APIC mode:", self.mode)
        form.addRow("Kernel:", self.kernel)
        form.addRow("", self.iommu)
        form.addRow("", self.all_slots)
        form.addRow(self.preview)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok
                                        | QDialogButtonBox.StandardButton.Cancel, self)
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        form.addRow(self.buttons)
        for signal in (self.smp.textChanged, self.mode.currentIndexChanged, self.iommu.toggled,
                       self.all_slots.toggled):
            signal.connect(self._on_input_changed)
        self._on_input_changed()
        self.resize(600, 260)

    def build(self) -> ImportResult:
        """The scenario for the current inputs; ScenarioError names the -smp parameter or kernel at fault."""
        text = self.smp.text().strip()
        if not text:
            raise ScenarioError("-smp", "empty; give at least a CPU count, e.g. 4 or 6,sockets=2,cores=3")
        result = import_qemu_smp(text, MODES[self.mode.currentText()], self.iommu.isChecked(),
                                 self.all_slots.isChecked())
        result.scenario.kvm.kernel = parse_kernel(self.kernel.currentText(), "kernel")
        return result

    def _on_input_changed(self, *_args: object) -> None:
        ok = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        if not self.smp.text().strip():
            self.preview.setText("APIC IDs appear here as you type.")
            ok.setEnabled(False)
            return
        try:
            result = import_qemu_smp(self.smp.text().strip(), MODES[self.mode.currentText()],
                                     self.iommu.isChecked(), self.all_slots.isChecked())
        except ScenarioError as exc:
            self.preview.setText(f"QEMU would refuse this: {exc}")
            ok.setEnabled(False)
            return
        s = result.scenario
        ids = id_list([v.id for v in s.vcpus], PREVIEW_IDS)
        flags = "x2APIC API on" if s.kvm.use_32bit_ids else "x2APIC API off"
        self.preview.setText(f"{len(s.vcpus)} vCPUs, {s.vcpus[0].apic if s.vcpus else 'xapic'}, {flags}: {ids}")
        ok.setEnabled(True)


def new_from_topology_interactively(parent: QWidget, controller, may_replace: Callable[[], bool],
                                    message: Callable[[str], None] | None = None) -> bool:
    """Show the dialog; a valid topology becomes the new, untitled scenario."""
    dialog = TopologyDialog(parent, controller.scenario.kvm.kernel)
    while dialog.exec() == QDialog.DialogCode.Accepted:
        try:
            result = dialog.build()
        except ScenarioError as exc:
            QMessageBox.critical(parent, "New from QEMU topology", f"{exc}\n\nThe current scenario is unchanged.")
            continue
        if not may_replace():
            return False
        controller.set_scenario(result.scenario, None)
        if message:
            message(f"New scenario from -smp {dialog.smp.text().strip()}: {len(result.scenario.vcpus)} vCPUs")
        return True
    return False


__all__ = ["TopologyDialog", "new_from_topology_interactively"]
