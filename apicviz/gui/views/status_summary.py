"""The status bar summary: the verdict on one line, in words and colour.

Each chip says its state in text (OK / NONE / DROPPED...) and repeats it in
colour, so a screenshot is readable without colour vision.
"""
from __future__ import annotations

from PySide6.QtCore import QEvent, QSize, Qt
from PySide6.QtWidgets import QLabel, QSizePolicy, QWidget

from ...model import Evaluation, MapResult
from ...model.apic_map import ALIASED_PHYSICAL_ID, ALLOC_FORCED, ALLOC_TOO_LARGE
from ...model.numbers import fmt_id
from ...model.severity import worst
from ...model.sweep import SweepResult
from ..controller.comparison import Results
from ..controller.controller import Controller
from ..controller.host_check import CANCELLED, FAILED
from ..controller.host_results import HostResults
from ..viewmodels.headline import headline
from ..viewmodels.pv_ipi_view import RESULT_TEXT, lost_pv_ipis, pv_ipi_count
from . import palette
from .flow_layout import FlowLayout


def short_reason(res: MapResult) -> str:
    """A few words for why the map is NULL, from the model's reason code (the tooltip has the model's text)."""
    if res.reason_code == ALIASED_PHYSICAL_ID and res.alias_conflict is not None:
        return f"aliased APIC ID {fmt_id(res.alias_conflict[0])}"
    if res.reason_code == ALLOC_FORCED:
        return "allocation failed (forced)"
    if res.reason_code == ALLOC_TOO_LARGE:
        return f"too big for kvmalloc (max_apic_id {fmt_id(res.max_apic_id)})"
    return "NULL"


class Chip(QLabel):
    """A rounded label with a level (ok/bad/warn/info) or a severity class code."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setTextFormat(Qt.TextFormat.PlainText)
        # Always as wide as its text: the summary wraps chips onto another row instead of cutting one.
        self.setSizePolicy(QSizePolicy.Policy.Fixed, QSizePolicy.Policy.Fixed)
        self.level = ""

    def show_state(self, text: str, level: str, tip: str = "") -> None:
        """Text, tooltip and colour of a level (palette.CHIP_LEVELS)."""
        fill, text_colour = palette.CHIP_LEVELS[level]
        self._show(level, text, tip, palette.chip_css(fill, text_colour, bold=level == "bad"))

    def show_severity(self, text: str, code: str, tip: str = "") -> None:
        """Coloured by the severity class ``code`` (palette.SEVERITY); ``level`` becomes the code."""
        self._show(code, text, tip, palette.severity_css(code))

    def _show(self, level: str, text: str, tip: str, css: str) -> None:
        """Each of text, tooltip and style is set only when it changes (a style sheet costs a re-polish)."""
        self.level = level
        if css != self.styleSheet():
            self.setStyleSheet(css)
        if text != self.text():
            self.setText(text)
        tip = tip or text
        if tip != self.toolTip():
            self.setToolTip(tip)


class StatusSummary(QWidget):
    """Headline (worst severity class), kernel, map status, logical mode, APICv inhibits, aliases, dropped, sweep."""

    def __init__(self, controller: Controller, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.controller = controller
        # The rows' height is set from the width by _check_rows (a fixed height: Qt's height-for-width
        # handling would grow the whole window instead of the status bar).
        self.flow = FlowLayout(self, spacing=4)
        self.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Fixed)
        self.headline = Chip(self)
        self.kernel = Chip(self)
        self.map = Chip(self)
        self.logical = Chip(self)
        self.inhibits = Chip(self)
        self.aliases = Chip(self)
        self.dropped = Chip(self)
        self.pv_ipi = Chip(self)  # shown only while the scenario has PV IPIs
        self.sweep = Chip(self)
        #: This host's check and another kernel's answer (hidden while there is none).
        self.host = Chip(self)
        self.other_kernel = Chip(self)
        self.chips = [self.headline, self.kernel, self.map, self.logical, self.inhibits, self.aliases,
                      self.dropped, self.pv_ipi, self.sweep, self.host, self.other_kernel]
        for chip in self.chips:
            self.flow.addWidget(chip)
        controller.result_changed.connect(self._on_result_changed)
        controller.sweep_changed.connect(self._on_sweep_changed)
        controller.host_changed.connect(self._on_host_changed)
        self._on_result_changed(controller.results)
        self._on_host_changed(controller.host_results)

    def heightForWidth(self, width: int) -> int:
        return self.flow.heightForWidth(width)

    def sizeHint(self) -> QSize:
        hint = self.flow.sizeHint()
        return QSize(hint.width(), self.flow.heightForWidth(self.width()) if self.width() > 0 else hint.height())

    def minimumSizeHint(self) -> QSize:
        return QSize(self.flow.minimumSize().width(), self.height())

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self._check_rows()

    def event(self, event: QEvent) -> bool:
        handled = super().event(event)
        if event.type() in (QEvent.Type.LayoutRequest, QEvent.Type.FontChange):
            self._check_rows()  # a chip changed size (new text, zoomed font): maybe another row
        return handled

    def _check_rows(self) -> None:
        want = self.flow.heightForWidth(max(1, self.width()))
        if want != self.height() or want != self.minimumHeight():
            self.setFixedHeight(want)

    def elided_chips(self) -> list[Chip]:
        """Chips narrower than their text (none, by design; what the layout tests check)."""
        out = []
        for chip in self.chips:
            if chip.isHidden():
                continue
            m = chip.contentsMargins()
            need = chip.fontMetrics().horizontalAdvance(chip.text()) + m.left() + m.right()
            if chip.width() < need or chip.geometry().right() > self.width() - 1 or chip.y() < 0 \
                    or chip.geometry().bottom() > self.height() - 1:
                out.append(chip)
        return out

    def text(self) -> str:
        """All chips as one line (what tests and screenshots read)."""
        return " | ".join(chip.toolTip().split("\n")[0] if chip is self.map else chip.text() for chip in self.chips
                          if not chip.isHidden())

    def _show_headline(self, ev: Evaluation, result: SweepResult | None) -> None:
        h = headline(ev, result)
        self.headline.show_severity(h.text, h.code, h.tip)

    def _on_result_changed(self, results: Results) -> None:
        ev = results.evaluation
        self._show_headline(ev, None)
        res = ev.result
        self.kernel.show_state(f"kernel {ev.scenario.kvm.kernel} ({res.behaviour.name})", "info",
                               f"kernel {ev.scenario.kvm.kernel}: KVM behaviour range {res.behaviour.name} "
                               f"({res.behaviour.kernels})")
        if res.status == "optimized":
            self.map.show_state("✔ map: optimized", "ok", f"map: optimized (max_apic_id {res.max_apic_id:#x})")
        else:
            reason = res.reason or ""
            self.map.show_state(f"✖ map NONE: {short_reason(res)}", "bad",
                                f"map: NONE (no optimized map) — {reason}")
        mode = res.map.logical_mode if res.map is not None else "no map"
        bad_logical = res.map is None or mode in ("disabled", "none")
        self.logical.show_state(f"logical: {mode}", "warn" if bad_logical else "ok",
                                f"logical mode: {mode}" + (f"\n{res.logical_reason}" if res.logical_reason else ""))
        inhibits = sorted(res.apicv_inhibits)
        if inhibits:
            self.inhibits.show_state(f"⚠ inhibits: {len(inhibits)}", "warn",
                                     "APICv inhibits: " + ", ".join(inhibits))
        else:
            self.inhibits.show_state("inhibits: none", "ok", "APICv inhibits: none")
        n_alias = len(ev.aliases_physical) + len(ev.aliases_logical)
        if n_alias:
            self.aliases.show_state(f"⚠ aliased IDs: {n_alias}", "warn",
                                    f"aliased IDs: {len(ev.aliases_physical)} physical, "
                                    f"{len(ev.aliases_logical)} logical")
        else:
            self.aliases.show_state("aliased IDs: 0", "ok")
        n_irq = len(ev.routes)
        bad = [n for n, r in enumerate(ev.routes) if r.dropped]
        if bad:
            code = worst([ev.verdict(n).severity for n in bad])
            self.dropped.show_severity(f"{'✖' if code == 'kvm_inconsistent' else '⚠'} DROPPED: {len(bad)} of {n_irq} "
                                       f"interrupts", code,
                                       f"dropped: {ev.dropped_count} deliveries in {len(bad)} of {n_irq} interrupts "
                                       f"(worst class: {code})")
        else:
            self.dropped.show_state(f"dropped: 0/{n_irq}", "ok", f"dropped: 0 of {n_irq} interrupts")
        self._show_pv_ipis(ev)
        self.sweep.show_state("sweep: …", "info", "sweep: running")
        self._check_rows()

    def _show_pv_ipis(self, ev: Evaluation) -> None:
        """'✖ PV IPI: 2 lost': PV IPIs some vCPU should get but does not (hidden without PV IPIs)."""
        total = pv_ipi_count(ev)
        self.pv_ipi.setVisible(total > 0)
        if not total:
            self.pv_ipi.clear()
            return
        lost = lost_pv_ipis(ev)
        if not lost:
            self.pv_ipi.show_state(f"PV IPI: 0/{total} lost", "ok", f"PV IPIs: none of {total} lost")
            return
        code = worst([ev.verdict(n).severity for n in lost])
        results = sorted({ev.routes[n].pv_ipi_result or "" for n in lost})
        glyph = "✖" if code == "kvm_inconsistent" else "⚠"
        self.pv_ipi.show_severity(f"{glyph} PV IPI: {len(lost)} lost", code,
                                  f"PV IPIs (KVM_HC_SEND_IPI): {len(lost)} of {total} miss a vCPU that should get "
                                  f"them ({', '.join(RESULT_TEXT[r] for r in results)}); the guest is not told "
                                  f"unless the hypercall fails")

    def _on_sweep_changed(self, result: SweepResult) -> None:
        self._show_headline(self.controller.evaluation, result)
        rows = len(result.rows)
        dropped = result.dropped_deliveries
        counts = result.by_severity()
        tip = (f"sweep of every destination: {result.checked:,} checked; {rows} disagree "
               f"(KVM vs hardware or fast vs slow path): "
               + ", ".join(f"{counts[c]} {c}" for c in counts if counts[c])
               + f"; {result.fast_slow_disagreements:,} fast/slow disagreements; {dropped:,} dropped deliveries")
        if rows:
            code = result.severity
            glyph = "✖" if code == "kvm_inconsistent" else "⚠"
            self.sweep.show_severity(f"{glyph} sweep: {rows} disagree, {dropped:,} dropped", code, tip)
        else:
            self.sweep.show_state("sweep: 0 disagree", "ok", tip)
        self._check_rows()

    def _on_host_changed(self, results: HostResults) -> None:
        """The host check's chip (while on) and another kernel's (while its answer is kept)."""
        host = results.host
        verdict = host.verdict
        if not results.host_on:
            self.host.hide()
        else:
            if host.state == CANCELLED:
                self.host.show_state(f"{verdict.short if verdict else 'host'}: cancelled", "info",
                                     "The host check was cancelled; it runs again after the next edit "
                                     "(KVM > Check on this host turns it off).")
            elif host.state == FAILED:
                self.host.show_state("✖ host check failed", "bad", host.message)
            elif verdict is None:
                self.host.show_state("host: checking…", "info", "The host check is running on /dev/kvm")
            else:
                tip = verdict.tip()
                if not host.fresh:
                    tip = "(checking again after the last edit…)\n" + tip
                self.host.show_state(verdict.summary(), verdict.level, tip)
            self.host.show()
        kernel = results.kernel
        if kernel is None:
            self.other_kernel.hide()
        else:
            if results.kernel_current:
                self.other_kernel.show_state(kernel.summary(), kernel.level, kernel.tip())
            else:
                self.other_kernel.show_state(f"{kernel.short}: out of date", "info",
                                             f"{kernel.label}: the scenario changed since this kernel was run; "
                                             "run it again (KVM > Check on another kernel…) or undo the edits.\n"
                                             + kernel.tip())
            self.other_kernel.show()
        self._check_rows()

