"""Compare the VM under a second kernel or flag set: what changes in the map and routes."""
from __future__ import annotations

import html

from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

from ...model.compare import Comparison, route_fields
from ...model.errors import shorten
from ...model.kernels import KERNEL_CHOICES
from ...model.numbers import fmt_id, id_list
from ..controller.comparison import CompareSettings
from ..controller.controller import Controller
from ..viewmodels.columns import MAX_CELL_TEXT
from ..viewmodels.host_verdict import DIFFERS, SKIPPED, HostVerdict
from . import palette


def _ids(values: list[int]) -> str:
    return id_list(values, limit=None, empty="—")


class CompareView(QWidget):
    """Chooses kernel B and lists every difference from the current setting (A).

    The controller evaluates B (once per edit, while this tab is shown or its
    marks are on); the dock only asks for it and displays it.
    """

    def __init__(self, controller: Controller, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.controller = controller
        self._active = False
        self._engaged = False
        self._shown: Comparison | None = None
        self._shown_kernels: object = None
        self.kernel = QComboBox(self)
        self.kernel.addItems(list(KERNEL_CHOICES))
        self.kernel.setToolTip("Kernel B: the current scenario is evaluated again with this kernel")
        self.use_32bit = QCheckBox("32-bit IDs", self)
        self.use_32bit.setToolTip("KVM_X2APIC_API_USE_32BIT_IDS for kernel B")
        self.quirk_off = QCheckBox("broadcast quirk off", self)
        self.quirk_off.setToolTip("KVM_X2APIC_API_DISABLE_BROADCAST_QUIRK for kernel B")
        self.mark = QCheckBox("Mark on map and table", self)
        self.mark.setChecked(True)
        self.mark.setToolTip("Δ on map slots that change under kernel B, and B's route in the interrupts table\n"
                             "(stays while you switch tabs; close this dock or untick to stop)")
        self.mark.toggled.connect(lambda _on: self._sync_use())
        self.highlight = QPushButton("Select changed vCPUs", self)
        self.highlight.setToolTip("Select (and highlight on the map) the vCPUs whose slots or deliveries change")
        self.highlight.clicked.connect(self._on_highlight)
        top = QHBoxLayout()
        top.addWidget(QLabel("Compare with kernel:", self))
        top.addWidget(self.kernel)
        top.addWidget(self.use_32bit)
        top.addWidget(self.quirk_off)
        top.addStretch(1)
        top.addWidget(self.mark)
        top.addWidget(self.highlight)
        self.browser = QTextBrowser(self)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.addLayout(top)
        layout.addWidget(self.browser, 1)
        self._show_settings()
        self.kernel.currentTextChanged.connect(self._on_settings_edited)
        self.use_32bit.toggled.connect(self._on_settings_edited)
        self.quirk_off.toggled.connect(self._on_settings_edited)
        controller.result_changed.connect(self._on_result_changed)
        controller.comparison_changed.connect(self._on_comparison_changed)
        controller.host_changed.connect(self._on_host_changed)
        controller.scenario_replaced.connect(self._show_settings)

    # ----- kernel B: chosen here, kept by the controller ------------------------------------

    def _show_settings(self) -> None:
        """Show the controller's kernel B (a new scenario gets its default: the other side of 6.3)."""
        settings = self.controller.compare_settings
        for w in (self.kernel, self.use_32bit, self.quirk_off):
            w.blockSignals(True)
        self.kernel.setCurrentText(settings.kernel)
        self.use_32bit.setChecked(settings.use_32bit_ids)
        self.quirk_off.setChecked(settings.disable_broadcast_quirk)
        for w in (self.kernel, self.use_32bit, self.quirk_off):
            w.blockSignals(False)
        self._shown = None

    def _on_settings_edited(self) -> None:
        self.controller.set_compare_settings(CompareSettings(
            self.kernel.currentText(), self.use_32bit.isChecked(), self.quirk_off.isChecked()))

    def set_kernel(self, kernel: str) -> None:
        self.kernel.setCurrentText(kernel)

    # ----- who looks at B -------------------------------------------------------------------

    @property
    def _marking(self) -> bool:
        """Differences are marked on the map and the interrupts table from the first look at this tab
        until the dock is closed or the box is unticked (each edit then costs a second evaluation)."""
        return self._engaged and self.mark.isChecked()

    def set_active(self, active: bool, closed: bool = False) -> None:
        """The dock's tab became current (or not), or the dock was closed."""
        self._active = active
        if active:
            self._engaged = True
        if closed:
            self._engaged = False
        self._sync_use()

    def _sync_use(self) -> None:
        self.controller.set_comparison_use(self._active, self._marking)
        self._render_if_shown()

    # ----- display ----------------------------------------------------------------------------

    @property
    def comparison(self) -> Comparison | None:
        """The comparison the controller keeps (None while nobody compares)."""
        return self.controller.comparison

    def _on_result_changed(self, _results: object) -> None:
        self._render_if_shown()

    def _on_comparison_changed(self, _comparison: object) -> None:
        self._render_if_shown()

    def _render_if_shown(self) -> None:
        """Only a shown tab renders; a hidden one renders when it is shown or read."""
        if self._active:
            self._render()

    def _render(self) -> Comparison:
        comp = self.controller.current_comparison()
        kernels = self.controller.host_results
        if comp is not self._shown or kernels is not self._shown_kernels:
            self._shown = comp
            self._shown_kernels = kernels
            self.browser.setHtml(self._html(comp))
        return comp

    def _on_host_changed(self, _results: object) -> None:
        self._render_if_shown()

    def real_kernels(self) -> list[tuple[HostVerdict, bool]]:
        """The real kernels' answers shown beside A and B: (verdict, belongs to the scenario as it is now)."""
        results = self.controller.host_results
        out = []
        host = results.host.verdict if results.host_on else None
        if host is not None:
            out.append((host, results.host.fresh))
        if results.kernel is not None and results.kernel_current:
            out.append((results.kernel, True))
        return out

    def text(self) -> str:
        self._render()
        return self.browser.toPlainText()

    def changed_vcpus(self) -> list[int]:
        comp = self._render()
        index_of = comp.a.router.index_of
        ids: set[int] = set()
        for a, b in comp.slots.values():
            ids.update(v for v in (a, b) if v is not None)
        for ch in comp.routes:
            for key in ("targets", "dropped", "extra"):
                ids.update(set(ch.before[key]) ^ set(ch.after[key]))
        return sorted(index_of[i] for i in ids if i in index_of)

    def _on_highlight(self) -> None:
        self.controller.select_vcpus(self.changed_vcpus())

    def _html(self, comp: Comparison) -> str:
        a, b = html.escape(comp.label_a), html.escape(comp.label_b)
        parts = [f"<h3>A: {a} &nbsp;→&nbsp; B: {b}</h3>"]
        heads = comp.header_changes()
        if heads:
            parts.append("<ul>" + "".join(f"<li><b>{html.escape(h)}</b></li>" for h in heads) + "</ul>")
        if not comp.changed:
            parts.append("<p>No difference: both kernels build the same map and route every interrupt alike.</p>")
        ra, rb = comp.a.result.map, comp.b.result.map
        gone = ra or rb
        if (ra is None) != (rb is None) and gone is not None:
            parts.append(f"<p>Every phys_map slot ({len(gone.phys_map)} occupied) "
                         f"{'disappears with the map' if rb is None else 'appears with the map'}.</p>")
        elif comp.slots:
            rows = "".join(
                f"<tr><td>{fmt_id(s)}</td><td>{'empty' if x is None else fmt_id(x)}</td>"
                f"<td>{'empty' if y is None else fmt_id(y)}</td></tr>"
                for s, (x, y) in list(comp.slots.items())[:64])
            parts.append("<p><b>phys_map slots that change</b></p><table border='1' cellpadding='3' "
                         f"cellspacing='0'><tr><th>slot</th><th>A</th><th>B</th></tr>{rows}</table>")
        ev = comp.a
        route_rows: list[str] = []
        changed_routes = {ch.index for ch in comp.routes}
        kernels = self.real_kernels()
        for n, irq in enumerate(ev.scenario.interrupts):
            x, y = route_fields(comp.a, n), route_fields(comp.b, n)
            changed = n in changed_routes
            style = f" style='background:{palette.CHANGED_ROW}'" if changed else ""
            mark = "≠ " if changed else ""
            route_rows.append(
                f"<tr{style}><td>{mark}[{n}] {html.escape(shorten(irq.name, MAX_CELL_TEXT) or irq.describe())}</td>"
                f"<td>{x['path']}: {_ids(x['targets'])}</td><td>{_drop(x['dropped'])}</td>"
                f"<td>{y['path']}: {_ids(y['targets'])}</td><td>{_drop(y['dropped'])}</td>"
                + "".join(_kernel_cell(v, n, fresh) for v, fresh in kernels) + "</tr>")
        if route_rows:
            kernel_heads = "".join(f"<th>{html.escape(_kernel_title(v))}{'' if fresh else ' (checking…)'}</th>"
                                   for v, fresh in kernels)
            legend = (" Real kernels: the vCPUs that accepted the message there; ✓ as the model predicts for that "
                      "kernel's version and settings, ≠ contradicts it, – cannot be expressed there."
                      if kernels else "")
            parts.append(f"<p><a name='interrupts'></a><b>Interrupts</b> (≠ marks a changed route).{legend}</p>"
                         "<table border='1' cellpadding='3' cellspacing='0'><tr><th>interrupt</th>"
                         f"<th>A route</th><th>A dropped</th><th>B route</th><th>B dropped</th>{kernel_heads}</tr>"
                         f"{''.join(route_rows)}</table>")
        parts.extend(_kernel_notes(v) for v, _fresh in kernels)
        parts.append(f"<p>Dropped deliveries among the interrupts: A {comp.a.dropped_count}, "
                     f"B {comp.b.dropped_count}.</p>")
        return "".join(parts)


def _kernel_title(verdict: HostVerdict) -> str:
    return f"{verdict.label} (this host)" if verdict.source == "host" else verdict.label


def _kernel_cell(verdict: HostVerdict, n: int, fresh: bool) -> str:
    """A real kernel's accepted vCPUs for interrupt ``n``: ✓ as its model predicts, ≠ not, – not expressible."""
    row = verdict.row(n)
    if row is None or (not fresh and n >= len(verdict.evaluation.scenario.interrupts)):
        return "<td>…</td>"
    text = html.escape(row.text)
    if row.state == DIFFERS:
        text = palette.rich(text, palette.DROPPED_TEXT)
    return f"<td>{text}</td>"


def _kernel_notes(verdict: HostVerdict) -> str:
    """Under the table: which kernel it was, how it was set up, and why rows were skipped."""
    head = f"<b>{html.escape(_kernel_title(verdict))}</b>: {html.escape(verdict.counts())}"
    lines = [f"{head} — {html.escape(verdict.header)}"]
    if verdict.notes:
        lines.append("The scenario's own settings differ there: " + html.escape("; ".join(verdict.notes)) + ".")
    skips = [r for r in verdict.rows if r.state == SKIPPED]
    lines += [f"– [{r.index}] {html.escape(r.reason)}" for r in skips[:12]]
    return "<p>" + "<br>".join(lines) + "</p>"


def _drop(values: list[int]) -> str:
    if not values:
        return "—"
    return palette.rich(f"DROPPED {_ids(values)}", palette.DROPPED_TEXT)
