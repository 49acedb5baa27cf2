"""Explain panel: why each vCPU did or did not get the selected interrupt, in words."""
from __future__ import annotations

import html

from PySide6.QtWidgets import QTextBrowser, QVBoxLayout, QWidget

from ...model.errors import shorten
from ...model.explain import explain_route
from ..controller.controller import Controller
from ..viewmodels.columns import MAX_CELL_TEXT


class ExplainView(QWidget):
    """Follows the selected interrupt; the text is the same as ``apicviz eval`` prints."""

    def __init__(self, controller: Controller, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.controller = controller
        self.browser = QTextBrowser(self)
        self.browser.setOpenLinks(False)
        self._html = ""
        layout = QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.addWidget(self.browser)
        controller.result_changed.connect(self._on_result_changed)
        controller.interrupt_selection_changed.connect(self._on_interrupt_changed)
        self._refresh()

    def _on_result_changed(self, _ev: object) -> None:
        self._refresh()

    def _on_interrupt_changed(self, _row: int) -> None:
        self._refresh()

    def text(self) -> str:
        return self.browser.toPlainText()

    def _refresh(self) -> None:
        c = self.controller
        row = c.selected_interrupt
        ev = c.evaluation
        if row < 0 or row >= len(ev.routes):
            self._show(
                "<p style='color:#555'>Select an interrupt to see, step by step, why each vCPU did or did not "
                "get it: the fast path lookup, the slow path rule, and what hardware would do.</p>"
            )
            return
        irq = ev.scenario.interrupts[row]
        parts = [f"<h3>[{row}] {html.escape(shorten(irq.name, MAX_CELL_TEXT) or irq.describe())}</h3>",
                 f"<p><i>{html.escape(irq.describe())}</i></p>"]
        for line in explain_route(ev, row):
            if not line:
                continue
            text = html.escape(line)
            if line.startswith("DROPPED") or "DROPPED —" in line:
                text = f"<span style='color:#b00020;font-weight:bold'>{text}</span>"
            elif line.startswith("Extra") or "EXTRA —" in line:
                text = f"<span style='color:#a15c00;font-weight:bold'>{text}</span>"
            parts.append(f"<p style='margin:2px 0'>{text}</p>")
        self._show("".join(parts))

    def _show(self, html_text: str) -> None:
        """Lay the text out again only when it changed (most edits do not touch the selected route)."""
        if html_text != self._html:
            self._html = html_text
            self.browser.setHtml(html_text)
