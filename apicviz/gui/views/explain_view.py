"""Explain panel: why each vCPU did or did not get the selected interrupt (or sweep message), in words.

The lines come typed from the model (:class:`~apicviz.model.explain.ExplainLine`);
their colour is the palette's for the line's severity class, never a guess
from the words.
"""
from __future__ import annotations

import html

from PySide6.QtWidgets import QTextBrowser, QVBoxLayout, QWidget

from ...model import Interrupt
from ...model.errors import shorten
from ...model.explain import ExplainLine, explain_lines, explain_message
from ...model.severity import AGREE
from ..controller.controller import Controller
from ..viewmodels.columns import MAX_CELL_TEXT
from . import palette


def line_html(line: ExplainLine) -> str:
    """One paragraph; lines about a disagreement in the palette's text colour of their class."""
    text = html.escape(line.text)
    code = line.severity
    if code is not None and code != AGREE and (line.kind in ("dropped", "extra", "severity", "finding")
                                               or line.mark in ("dropped", "extra")):
        fill, colour, _solid = palette.SEVERITY[code]
        weight = "bold" if line.kind != "finding" else "normal"
        text = f"<span style='background:{fill}; color:{colour}; font-weight:{weight}'>{text}</span>"
    return f"<p style='margin:2px 0'>{text}</p>"


class ExplainView(QWidget):
    """Follows the selected interrupt or sweep message; the text is the same as ``apicviz eval`` prints."""

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
        controller.destination_selected.connect(self._on_destination_selected)
        self._refresh()

    def _on_result_changed(self, _ev: object) -> None:
        self._refresh()

    def _on_interrupt_changed(self, _row: int) -> None:
        self._refresh()

    def _on_destination_selected(self, _message: object) -> None:
        self._refresh()

    def text(self) -> str:
        return self.browser.toPlainText()

    def _refresh(self) -> None:
        c = self.controller
        ev = c.evaluation
        picked = c.destination_route()
        if picked is not None:
            irq, route = picked
            self._show_message("Sweep: " + irq.name, irq, explain_message(ev, irq, route))
            return
        row = c.selected_interrupt
        if row < 0 or row >= len(ev.routes):
            self._show(
                f"<p style='color:{palette.HINT_TEXT}'>Select an interrupt (or a cell of the sweep's heat map) "
                "to see, step by step, why each vCPU did or did not get it: the fast path lookup, the slow path "
                "rule, and what hardware would do.</p>"
            )
            return
        irq = ev.scenario.interrupts[row]
        self._show_message(f"[{row}] {shorten(irq.name, MAX_CELL_TEXT) or irq.describe()}", irq,
                           explain_lines(ev, row))

    def _show_message(self, title: str, irq: Interrupt, lines: list[ExplainLine]) -> None:
        parts = [f"<h3>{html.escape(title)}</h3>", f"<p><i>{html.escape(irq.describe())}</i></p>"]
        parts += [line_html(line) for line in lines if line.text]
        self._show("".join(parts))

    def _show(self, html_text: str) -> None:
        """Lay the text out again only when it changed (most edits do not touch the selected route)."""
        if html_text != self._html:
            self._html = html_text
            self.browser.setHtml(html_text)



