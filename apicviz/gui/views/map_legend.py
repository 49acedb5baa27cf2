"""The legend: every fill, letter, border and glyph of the map, drawn by the grid's own painter.

Swatches are painted with :class:`~apicviz.gui.views.slot_painter.SlotPainter` on
sample slots, so the legend cannot drift from what the grid shows.
"""
from __future__ import annotations

from PySide6.QtCore import QRectF
from PySide6.QtGui import QPainter, QPaintEvent
from PySide6.QtWidgets import QGridLayout, QLabel, QSizePolicy, QWidget

from ..viewmodels.map_slots import (
    BEYOND,
    CHANGED,
    DIRECT,
    DROPPED,
    EMPTY,
    EXTRA,
    HOST,
    HOTPLUG,
    LOGICAL,
    SENDER,
    TARGET,
    WOULD,
    SlotInfo,
)
from . import palette
from .slot_painter import SlotPainter

SWATCH_W, SWATCH_H = 56, 27

#: (sample slot, short text, longer tooltip)
ENTRIES: list[tuple[SlotInfo, str, str]] = [
    (SlotInfo(0x5, DIRECT, 5, 0x5), "1:1 — vCPU at its own APIC ID",
     "Small text: the APIC ID of the slot; bold: the vCPU ID it points to (hex)."),
    (SlotInfo(0x123, HOTPLUG, 1, 0x123), "H — hotplug hack",
     "x2APIC ID of an xAPIC-mode vCPU above 0xff (4.11+; 6.3+ only with 32-bit IDs). Dashed border."),
    (SlotInfo(0x1, LOGICAL, 2, 0x100000), "L — x2APIC logical step",
     "Overwritten by the x2APIC logical step: the vCPU's LDR wrapped (ID ≥ 2^20). Dotted border."),
    (SlotInfo(0x23, DIRECT, 3, 0x23, losers=[4]), "+N — aliased, N lost",
     "Several vCPUs have this APIC ID; the slot keeps one, the others (listed on hover) lost it. Hatched."),
    (SlotInfo(0x7, EMPTY), "empty slot", "No vCPU: the fast path delivers a physical message here to nobody."),
    (SlotInfo(0x1ff, BEYOND), "beyond max_apic_id",
     "Outside the map: the fast path drops a physical message sent here."),
    (SlotInfo(0x9, WOULD, 6, 0x9), "no map: would sit here",
     "KVM has no optimized map; greyed, hatched: where the vCPU would sit (its effective APIC ID)."),
    (SlotInfo(0x23, WOULD, 3, 0x23, losers=[4], conflict=True), "no map: aliased pair",
     "The collision that made KVM (6.3+) discard the whole map. Cross-hatched."),
    (SlotInfo(0x3, DIRECT, 3, 0x3, markers=[(TARGET, 3)]), "✓ target (delivered)",
     "Selected interrupt: KVM delivers to this vCPU. Green circle."),
    (SlotInfo(0x4, DIRECT, 4, 0x4, markers=[(DROPPED, 4)]), "✗ DROPPED",
     "Selected interrupt: hardware would deliver here, KVM does not. Red square, thick border."),
    (SlotInfo(0x5, DIRECT, 5, 0x5, markers=[(EXTRA, 5)]), "! extra",
     "Selected interrupt: KVM delivers here although hardware would not. Orange triangle."),
    (SlotInfo(0x0, DIRECT, 0, 0x0, markers=[(SENDER, 0)]), "S sender", "The vCPU that sent the selected IPI."),
    (SlotInfo(0x7, DIRECT, 7, 0x7, markers=[(CHANGED, -1)]), "Δ changes under B",
     "Shown while the Compare kernels tab is open: this slot's vCPU differs under kernel B. Purple diamond."),
    (SlotInfo(0x9, DIRECT, 9, 0x9, markers=[(HOST, -1)]), "≠ a real kernel differs",
     ("Shown while KVM > Check on this host (or on another kernel) is on: that kernel accepted or refused this\n"
      "vCPU unlike the map, or unlike the model for that kernel — for the selected interrupt, or for any\n"
      "interrupt when none is selected. Hover the slot for which and why. Blue hexagon.")),
    (SlotInfo(0x6, DIRECT, 6, 0x6, read=True), "read by fast path",
     "Dashed blue frame: the slot(s) KVM's fast path looked up for the selected interrupt."),
    (SlotInfo(0x8, DIRECT, 8, 0x8, selected=True), "selected vCPU", "Thick black frame: the selected vCPU(s)."),
    (SlotInfo(0x2, DIRECT, 2, 0x2, pv_reach=True), "P — PV IPI reaches it",
     ("Shown while the scenario has PV IPIs: a PV IPI (KVM_HC_SEND_IPI) to this APIC ID reaches the vCPU in\n"
      "the slot (occupied phys_map slots up to max_apic_id). No P anywhere: the map is NULL (or the kernel is\n"
      "older than 4.19), so every PV IPI fails; a vCPU that lost its slot is never reached by one.")),
]


class Swatch(QWidget):
    """One sample slot, painted exactly as the grid paints it."""

    def __init__(self, info: SlotInfo, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.info = info
        self.painter = SlotPainter(self.font())
        self.painter.set_size(SWATCH_W, SWATCH_H)
        self.setFixedSize(SWATCH_W + 6, SWATCH_H + 6)

    def paintEvent(self, event: QPaintEvent) -> None:
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        self.painter.paint(p, QRectF(3, 3, SWATCH_W, SWATCH_H), self.info)


class MapLegend(QWidget):
    """Two columns of swatch + words; hover a row for the longer explanation."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        grid = QGridLayout(self)
        grid.setContentsMargins(0, 0, 0, 0)
        grid.setHorizontalSpacing(4)
        grid.setVerticalSpacing(0)
        self.labels: list[QLabel] = []
        half = (len(ENTRIES) + 1) // 2
        for n, (info, text, tip) in enumerate(ENTRIES):
            row, col = n % half, (n // half) * 2
            sw = Swatch(info)
            label = QLabel(text)
            label.setWordWrap(True)
            label.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Preferred)
            for w in (sw, label):
                w.setToolTip(tip)
            grid.addWidget(sw, row, col)
            grid.addWidget(label, row, col + 1)
            self.labels.append(label)
        hint = QLabel("Wheel: zoom · drag: pan · Shift+wheel: scroll · click a slot: select its vCPU")
        hint.setWordWrap(True)
        hint.setStyleSheet(f"QLabel {{ color: {palette.HINT_TEXT}; }}")
        grid.addWidget(hint, half, 0, 1, 4)
        grid.setColumnStretch(1, 1)
        grid.setColumnStretch(3, 1)

    def texts(self) -> list[str]:
        return [label.text() for label in self.labels]
