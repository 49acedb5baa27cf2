"""The KVM side: kernel version, KVM_CAP_X2APIC_API flags, module parameters, title and notes.

Each change is an undo command; the widgets follow ``kvm_changed`` (undo,
open) without echoing a new command back.
"""
from __future__ import annotations

import re

from PySide6.QtGui import QTextOption
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QVBoxLayout,
    QWidget,
)

from ...model import KERNEL_CHOICES, behaviour_for
from ...model.errors import shorten
from ...model.kernels import kernel_at_least
from ...model.scenario import SMM_OPTIONAL_SINCE
from ..controller import edits
from ..controller.controller import Controller

FLAGS = (
    ("use_32bit_ids", "32-bit x2APIC IDs",
     ("KVM_X2APIC_API_USE_32BIT_IDS (kvm->arch.x2apic_format): userspace keeps full 32-bit x2APIC IDs.\n"
     "From 6.3 the hotplug hack (xAPIC vCPUs at their x2APIC ID) needs it, and aliasing no longer drops the map.")),
    ("disable_broadcast_quirk", "Disable broadcast quirk",
     "KVM_X2APIC_API_DISABLE_BROADCAST_QUIRK: an MSI to 0xff is no longer a broadcast for x2APIC vCPUs."),
    ("vector_hashing", "Vector hashing",
     ("kvm.vector_hashing module parameter: lowest-priority messages go to a vCPU picked by hashing the vector\n"
     "(off: by apic_arb_prio).")),
    ("map_alloc_fails", "Map allocation fails",
     "What-if: kvzalloc of the optimized map returns NULL, so every interrupt takes the slow path."),
    ("smm", "KVM built with SMM (CONFIG_KVM_SMM)",
     ("Whether the host's KVM was built with CONFIG_KVM_SMM (optional since Linux 6.2).\n"
     "Without it an SMI still reaches its targets, but no APIC accepts it.\n"
     "Kernels before 6.2 always have SMM support.")),
)
TIPS = {key: tip for key, _text, tip in FLAGS}
SMM_FIXED_TIP = "Kernels before 6.2 always have SMM support: pick 6.2 or later to turn it off."


class KvmPanel(QWidget):
    def __init__(self, controller: Controller, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.controller = controller
        self._updating = False

        self.kernel = QComboBox(self)
        self.kernel.setToolTip("Linux version whose KVM behaviour is modelled (mainline x.y.0; stable trees may "
                               "carry backports)")
        self.kernel.addItems(list(KERNEL_CHOICES))
        self.kernel.currentTextChanged.connect(self._on_kernel_picked)
        self.behaviour = QLabel(self)
        self.behaviour.setToolTip("The behaviour range this kernel falls in: 4.11-5.2, 5.3-6.2 or 6.3+")
        kernel_row = QHBoxLayout()
        kernel_row.addWidget(self.kernel, 1)
        kernel_row.addWidget(self.behaviour)

        self.flags: dict[str, QCheckBox] = {}
        for key, text, tip in FLAGS:
            box = QCheckBox(text, self)
            box.setToolTip(tip)
            box.toggled.connect(lambda checked, k=key: self._on_flag_toggled(k, checked))
            self.flags[key] = box

        self.title = QLineEdit(self)
        self.title.setPlaceholderText("what this scenario shows")
        self.title.textEdited.connect(lambda text: self._on_text_edited("title", text))
        self.notes = QPlainTextEdit(self)
        self.notes.setPlaceholderText("free text, saved with the scenario")
        self.notes.textChanged.connect(self._on_notes_changed)

        # Two columns so the panel fits beside the interrupts table: settings left, text right.
        flags = QGridLayout()
        flags.setContentsMargins(0, 0, 0, 0)
        flags.addWidget(_caption("x2APIC API"), 0, 0)
        flags.addWidget(self.flags["use_32bit_ids"], 1, 0)
        flags.addWidget(self.flags["disable_broadcast_quirk"], 2, 0)
        flags.addWidget(_caption("Module / what-if"), 3, 0)
        flags.addWidget(self.flags["vector_hashing"], 4, 0)
        flags.addWidget(self.flags["map_alloc_fails"], 5, 0)
        flags.addWidget(self.flags["smm"], 6, 0)
        left = QVBoxLayout()
        left.addWidget(_caption("Kernel"))
        left.addLayout(kernel_row)
        left.addLayout(flags)
        left.addStretch(1)
        right = QVBoxLayout()
        right.addWidget(_caption("Title"))
        right.addWidget(self.title)
        right.addWidget(_caption("Notes"))
        right.addWidget(self.notes, 1)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(6, 2, 6, 4)
        layout.addLayout(left, 0)
        layout.addLayout(right, 1)

        controller.kvm_changed.connect(self._on_kvm_changed)
        controller.scenario_replaced.connect(self._on_kvm_changed)
        self._on_kvm_changed()

    def _on_kvm_changed(self) -> None:
        """Show the scenario's values; a kernel outside the list is added to it."""
        s = self.controller.scenario
        self._updating = True
        try:
            if self.kernel.findText(s.kvm.kernel) < 0:
                self.kernel.addItem(s.kvm.kernel)
            self.kernel.setCurrentText(s.kvm.kernel)
            b = behaviour_for(s.kvm.kernel)
            self.behaviour.setText(f"behaviour {b.name}")
            self.behaviour.setToolTip(f"Kernels {b.kernels} share this behaviour of kvm_recalculate_apic_map()")
            for key, box in self.flags.items():
                box.setChecked(getattr(s.kvm, key))
            smm_fixed = s.kvm.smm and not kernel_at_least(s.kvm.kernel, SMM_OPTIONAL_SINCE)
            smm = self.flags["smm"]
            smm.setEnabled(not smm_fixed)
            smm.setToolTip(TIPS["smm"] + ("\n" + SMM_FIXED_TIP if smm_fixed else ""))
            if self.title.text() != s.title:
                self.title.setText(s.title)
                self.title.setCursorPosition(0)
            self.title.setToolTip(shorten(s.title, 500) or "A one-line title, saved with the scenario")
            if self.notes.toPlainText() != s.notes:
                # Qt's word-boundary wrapping of one long unbroken word is quadratic (100k characters: seconds).
                long_word = _LONG_WORD.search(s.notes) is not None
                self.notes.setWordWrapMode(QTextOption.WrapMode.WrapAnywhere if long_word
                                           else QTextOption.WrapMode.WrapAtWordBoundaryOrAnywhere)
                self.notes.setPlainText(s.notes)
        finally:
            self._updating = False

    def _on_kernel_picked(self, text: str) -> None:
        if not self._updating and text and not edits.set_kvm(self.controller, "kernel", text):
            self._on_kvm_changed()

    def _on_flag_toggled(self, key: str, checked: bool) -> None:
        if not self._updating and not edits.set_kvm(self.controller, key, checked):
            self._on_kvm_changed()

    def _on_text_edited(self, field: str, text: str) -> None:
        if not self._updating:
            edits.set_kvm(self.controller, field, text)

    def _on_notes_changed(self) -> None:
        if not self._updating:
            edits.set_kvm(self.controller, "notes", self.notes.toPlainText())



#: A word this long is no prose: wrap the notes anywhere instead of at word boundaries.
_LONG_WORD = re.compile(r"\S{1000}")


def _caption(text: str) -> QLabel:
    label = QLabel(text)
    font = label.font()
    font.setBold(True)
    label.setFont(font)
    return label
