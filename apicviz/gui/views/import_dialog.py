"""File > Import: KVM lapic state pages or QEMU ``info lapic`` text, with IDs and modes supplied."""
from __future__ import annotations

from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPushButton,
    QWidget,
)

from ...importers.common import ImportResult, parse_id_list, parse_mode_list
from ...importers.kvm_lapic_state import KVM_APIC_REG_SIZE, import_lapic_sources
from ...importers.qemu_info_lapic import MAX_INFO_LAPIC_BYTES, import_info_lapic
from ...model import ScenarioError
from ...model.errors import dialog_text
from ...model.file_io import read_all_bounded
from ...model.numbers import parse_int
from ...model.scenario import MAX_VCPUS

KVM, QEMU = "KVM_GET_LAPIC pages (struct kvm_lapic_state, 1024 bytes each)", "QEMU HMP 'info lapic' text"


class ImportDialog(QDialog):
    """Collects the inputs; :meth:`run_import` does the work and never touches the open scenario."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Import APIC state")
        self.kind = QComboBox(self)
        self.kind.addItems([KVM, QEMU])
        self.files = QLineEdit(self)
        self.files.setPlaceholderText("file(s); several are read in order")
        browse = QPushButton("Browse…", self)
        browse.clicked.connect(self._browse)
        row = QHBoxLayout()
        row.addWidget(self.files, 1)
        row.addWidget(browse)
        self.ids = QLineEdit(self)
        self.ids.setPlaceholderText("default 0, 1, 2… e.g. 0,1,0x123")
        self.ids.setToolTip("vCPU IDs (= x2APIC IDs), one per vCPU in order; hex or decimal")
        self.modes = QLineEdit(self)
        self.modes_label = QLabel(self)
        self.use_32bit = QCheckBox("KVM_X2APIC_API_USE_32BIT_IDS was enabled", self)
        self.note = QLabel(self)
        self.note.setWordWrap(True)
        form = QFormLayout(self)
        form.addRow("Format:", self.kind)
        form.addRow("Input:", row)
        form.addRow("vCPU IDs:", self.ids)
        form.addRow(self.modes_label, self.modes)
        form.addRow("", self.use_32bit)
        form.addRow(self.note)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel, self)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        form.addRow(buttons)
        self.kind.currentIndexChanged.connect(self._on_kind_changed)
        self._on_kind_changed()
        self.resize(620, 260)

    def _on_kind_changed(self) -> None:
        if self.kind.currentText() == KVM:
            self.modes_label.setText("IA32_APIC_BASE:")
            self.modes.setPlaceholderText("e.g. 0xfee00900 (xAPIC) or 0xfee00d00 (x2APIC); one, or one per vCPU")
            self.modes.setToolTip("MSR values: bit 11 enables the APIC, bit 10 selects x2APIC. Empty: xAPIC")
            self.note.setText("The APIC ID, LDR, DFR and SPIV registers are read from each page.")
        else:
            self.modes_label.setText("APIC mode:")
            self.modes.setPlaceholderText("xapic, x2apic or disabled; one, or one per CPU")
            self.modes.setToolTip("'info lapic' prints neither the APIC ID nor the mode: supply them here")
            self.note.setText("'info lapic' prints neither the APIC ID nor the APIC mode: by default the vCPU ID "
                              "is the CPU index and the mode xAPIC. Supply both above if you know them.")

    def _browse(self) -> None:
        paths, _ = QFileDialog.getOpenFileNames(self, "Choose input", "", "All files (*)")
        if paths:
            self.files.setText(";".join(paths))

    def paths(self) -> list[str]:
        return [p.strip() for p in self.files.text().split(";") if p.strip()]

    def run_import(self) -> ImportResult:
        """Parse everything first; raises ScenarioError with the file and line or byte offset."""
        paths = self.paths()
        if not paths:
            raise ScenarioError("input", "choose at least one file")
        ids = parse_id_list(self.ids.text()) if self.ids.text().strip() else None
        if self.kind.currentText() == KVM:
            sources = read_all_bounded(paths, MAX_VCPUS * KVM_APIC_REG_SIZE, f"{MAX_VCPUS} kvm_lapic_state pages",
                                       max_files=MAX_VCPUS)
        elif len(paths) != 1:
            raise ScenarioError("input", "give one 'info lapic' text file (several CPUs may be in it)")
        else:
            sources = read_all_bounded(paths, MAX_INFO_LAPIC_BYTES, "an `info lapic` dump", max_files=1)
        if self.kind.currentText() == KVM:
            bases = None
            if self.modes.text().strip():
                bases = [parse_int(x, f"IA32_APIC_BASE[{n}]", 0, 2**64 - 1)
                         for n, x in enumerate(self.modes.text().split(","))]
            return import_lapic_sources(sources, ids, bases, self.use_32bit.isChecked())
        name, data = sources[0]
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ScenarioError("input",
                                f"{name}: byte {exc.start} is not UTF-8 text; is this a binary file?") from None
        modes = parse_mode_list(self.modes.text()) if self.modes.text().strip() else None
        result = import_info_lapic(text, ids, modes, name)
        result.scenario.kvm.use_32bit_ids = self.use_32bit.isChecked()
        return result


def import_interactively(parent: QWidget, controller, may_replace) -> bool:
    """Show the dialog; only a complete, valid import replaces the scenario."""
    dialog = ImportDialog(parent)
    while dialog.exec() == QDialog.DialogCode.Accepted:
        try:
            result = dialog.run_import()
        except ScenarioError as exc:
            QMessageBox.critical(parent, "Import failed", dialog_text(
                str(exc), "Nothing was imported; the current scenario is unchanged."))
            continue
        if not may_replace():
            return False
        controller.set_scenario(result.scenario, None)
        if result.warnings:
            shown = "\n".join(f"• {w}" for w in result.warnings[:15])
            more = f"\n… and {len(result.warnings) - 15} more (in the notes)" if len(result.warnings) > 15 else ""
            QMessageBox.information(parent, "Imported with warnings", dialog_text(shown + more))
        return True
    return False


__all__ = ["ImportDialog", "import_interactively"]
