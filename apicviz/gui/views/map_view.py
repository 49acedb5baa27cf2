"""The map view: KVM's physical APIC map, its logical map, the legend and the selected route.

Assembles :class:`~apicviz.gui.views.slot_grid.SlotGrid`,
:class:`~apicviz.gui.views.logical_view.LogicalView` and
:class:`~apicviz.gui.views.map_legend.MapLegend` under a banner (no optimized map,
aliased IDs) and a one-line caption for the selected interrupt. It only reads
the controller: clicks become ``controller.select_vcpus``.
"""
from __future__ import annotations

import html

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QScrollArea,
    QSizePolicy,
    QSplitter,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from ...model import Evaluation, ScenarioError
from ...model.errors import shorten
from ...model.numbers import U32_MAX, fmt_id, id_list, parse_int
from ..controller.comparison import Results
from ..viewmodels.columns import MAX_CELL_TEXT
from ..viewmodels.host_verdict import DIFFERS
from ..viewmodels.map_slots import MapSlots, SlotInfo
from . import palette
from .logical_view import LogicalView
from .map_legend import MapLegend
from .slot_grid import SlotGrid

#: From this width the logical map and the legend get a column beside the grid.
WIDE_FROM = 1100


#: IDs the caption under the map lists before it counts the rest.
CAPTION_IDS = 8


def _ids(ev: Evaluation, idxs: list[int]) -> str:
    return id_list(ev.ids(idxs), CAPTION_IDS)


class MapView(QWidget):
    """Physical grid beside the logical map and legend; repaints on every result."""

    def __init__(self, controller, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.controller = controller
        self.slots: MapSlots | None = None
        self._goto_id: int | None = None
        self._own_click = False

        self.goto_edit = QLineEdit()
        self.goto_edit.setPlaceholderText("Go to APIC ID…")
        self.goto_edit.setToolTip("Type an APIC ID in hex (0x23) or decimal (35) and press Enter")
        self.goto_edit.setClearButtonEnabled(True)
        self.goto_edit.setMaximumWidth(210)
        self.goto_edit.returnPressed.connect(self._on_goto_entered)
        self.zoom_out_button = self._tool_button("−", "Zoom out (Ctrl+-, wheel)")
        self.zoom_in_button = self._tool_button("+", "Zoom in (Ctrl+=, wheel)")
        self.fit_button = self._tool_button("Fit", "Fit the drawn rows into the view (Ctrl+0)")
        self.zoom_label = QLabel()
        self.zoom_label.setMinimumWidth(70)
        # The map header: its own row, wrapped between its parts (never cut) when the map is narrow.
        self.info = QLabel()
        self.info.setTextFormat(Qt.TextFormat.RichText)
        self.info.setWordWrap(True)
        self.info.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Minimum)
        bar = QHBoxLayout()
        bar.setContentsMargins(0, 0, 0, 0)
        for w in (self.goto_edit, self.zoom_out_button, self.zoom_in_button, self.fit_button, self.zoom_label):
            bar.addWidget(w)
        bar.addStretch(1)

        # One banner, always shown, so an edit that creates an alias does not shift the grid.
        self.banner = self._label(palette.BANNER_OK_CSS)
        self.banner.show()
        self.banner_level = "ok"  # "none" (no optimized map), "aliased" or "ok"
        self.caption = self._label(palette.CAPTION_CSS)

        self.grid = SlotGrid()
        self.grid.slot_clicked.connect(self._on_slot_clicked)
        self.grid.zoom_changed.connect(self._on_zoom_changed)
        self.zoom_in_button.clicked.connect(self.grid.zoom_in)
        self.zoom_out_button.clicked.connect(self.grid.zoom_out)
        self.fit_button.clicked.connect(self.grid.fit)

        self.logical = LogicalView()
        self.logical.vcpu_clicked.connect(lambda idx: self.controller.select_vcpus([idx]))
        self.legend = MapLegend()
        self.legend_box = QFrame()
        self.legend_box.setObjectName("legendBox")
        box_lay = QVBoxLayout(self.legend_box)
        box_lay.setContentsMargins(6, 4, 6, 4)
        box_lay.addWidget(QLabel("<b>Legend</b> (hover an entry for more)"))
        box_lay.addWidget(self.legend)
        self.legend_button = QToolButton()
        self.legend_button.setText("Legend")
        self.legend_button.setCheckable(True)
        self.legend_button.setToolTip("Show what every colour, letter and glyph of the map means")
        self.legend_button.toggled.connect(self._on_legend_toggled)
        bar.insertWidget(5, self.legend_button)

        # Narrow (the main window's centre at 1280x800): the grid takes the whole width, the
        # logical map is a strip under it and the legend an overlay. Wide: both in a side column.
        center = QWidget()
        self.center_lay = QVBoxLayout(center)
        self.center_lay.setContentsMargins(0, 0, 0, 0)
        self.center_lay.setSpacing(3)
        self.center_lay.addWidget(self.grid, 1)
        side = QWidget()
        self.side_lay = QVBoxLayout(side)
        self.side_lay.setContentsMargins(4, 0, 2, 0)
        self.side_lay.addStretch(1)
        self.side = QScrollArea()
        self.side.setWidget(side)
        self.side.setWidgetResizable(True)
        self.side.setFrameShape(QFrame.Shape.NoFrame)
        self.side.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.side.setMinimumWidth(300)

        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        self.splitter.addWidget(center)
        self.splitter.addWidget(self.side)
        self.splitter.setStretchFactor(0, 1)
        self.splitter.setStretchFactor(1, 0)
        self.splitter.setChildrenCollapsible(False)
        self.splitter.setSizes([900, 340])
        self.wide: bool | None = None
        self._set_wide(False)

        lay = QVBoxLayout(self)
        lay.setContentsMargins(4, 4, 4, 4)
        lay.setSpacing(3)
        lay.addLayout(bar)
        lay.addWidget(self.info)
        lay.addWidget(self.banner)
        lay.addWidget(self.caption)
        lay.addWidget(self.splitter, 1)

        # Ctrl+= / Ctrl+- / Ctrl+0 belong to the window's presentation zoom (fonts and map together);
        # the map alone zooms with the wheel and the -/+/Fit buttons.
        controller.result_changed.connect(self._on_result_changed)
        controller.vcpu_selection_changed.connect(self._on_vcpu_selection_changed)
        controller.interrupt_selection_changed.connect(self._on_interrupt_selection_changed)
        controller.comparison_changed.connect(self._on_comparison_changed)
        controller.host_changed.connect(self._on_host_changed)
        self._on_result_changed(controller.results)

    # ----- layout by width ---------------------------------------------------------------

    def _set_wide(self, wide: bool) -> None:
        """Move the logical map and the legend between the side column and the narrow places."""
        if wide == self.wide:
            return
        self.wide = wide
        if wide:
            self.side_lay.insertWidget(0, self.logical)
            self.side_lay.insertWidget(1, self.legend_box)
            self.legend_box.setStyleSheet("")
            self.legend_box.setFrameShape(QFrame.Shape.NoFrame)
            self.legend_box.show()
            self.side.show()
            self.legend_button.hide()
        else:
            self.center_lay.addWidget(self.logical)
            self.legend_box.setParent(self)
            self.legend_box.setFrameShape(QFrame.Shape.StyledPanel)
            self.legend_box.setStyleSheet(palette.LEGEND_CSS)
            self.side.hide()
            self.legend_button.show()
            self._on_legend_toggled(self.legend_button.isChecked())
        self.logical.set_compact(not wide)

    def _on_legend_toggled(self, shown: bool) -> None:
        if self.wide:
            return
        self.legend_box.setVisible(shown)
        if shown:
            self._place_legend()

    def _place_legend(self) -> None:
        """The overlay legend sits in the grid's top-right corner, clear of the scroll bar."""
        size = self.legend_box.sizeHint()
        top_left = self.grid.mapTo(self, self.grid.rect().topLeft())
        x = top_left.x() + self.grid.width() - size.width() - 22
        self.legend_box.setGeometry(max(0, x), top_left.y() + 20, size.width(), size.height())
        self.legend_box.raise_()

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self._set_wide(self.width() >= WIDE_FROM)
        if not self.wide and self.legend_box.isVisible():
            self._place_legend()

    @staticmethod
    def _tool_button(text: str, tip: str) -> QToolButton:
        b = QToolButton()
        b.setText(text)
        b.setToolTip(tip)
        b.setMinimumWidth(28)
        return b

    @staticmethod
    def _label(css: str) -> QLabel:
        label = QLabel()
        label.setWordWrap(True)
        label.setTextFormat(Qt.TextFormat.RichText)
        label.setStyleSheet(css)
        label.hide()
        return label

    # ----- controller signals --------------------------------------------------------

    def set_progress(self, built) -> None:
        """The step-through's half-built map (model.replay.BuiltSoFar), or None for the finished one."""
        if self.slots is None or built is self.slots.progress:
            return
        self.slots.set_progress(built)
        self._apply_overlay()
        self.grid.relayout()
        ev = self.controller.evaluation
        self.logical.show_map(ev, self.slots)
        self._update_texts(ev)

    def _on_result_changed(self, results: Results) -> None:
        ev = results.evaluation
        old, self.slots = self.slots, MapSlots(ev)
        self._apply_overlay()
        self.grid.set_slots(self.slots, self.slots.dirty_since(old) if old is not None else None)
        self.logical.show_map(ev, self.slots)
        self._update_texts(ev)

    def _on_vcpu_selection_changed(self, _selected: list) -> None:
        self._refresh_overlay()
        if not self._own_click and self.slots is not None and self.slots.selected:
            first = min(self.slots.selected)
            if not self.grid.is_slot_visible(first):
                self.grid.scroll_to_slot(first)

    def _on_interrupt_selection_changed(self, _row: int) -> None:
        self._refresh_overlay()
        slots = self.slots
        if slots is not None and slots.route is not None:
            r = slots.route
            focus = [s for idx in r.dropped + r.extra + r.targets for s in slots.slots_of(idx)] or sorted(slots.read)
            if focus and not any(self.grid.is_slot_visible(s) for s in focus):
                self.grid.scroll_to_slot(focus[0])

    def _on_comparison_changed(self, _comparison: object) -> None:
        self._refresh_overlay()

    def _on_host_changed(self, _results: object) -> None:
        self._refresh_overlay()

    def _refresh_overlay(self) -> None:
        if self.slots is None:
            return
        before = self.slots.overlay_state()
        self._apply_overlay()
        self.grid.relayout(self.slots.overlay_dirty(before))
        ev = self.controller.evaluation
        self.logical.show_map(ev, self.slots)
        self._update_caption(ev)

    def _apply_overlay(self) -> None:
        """Selection, the selected interrupt's route, and rows that must be drawn although empty."""
        slots = self.slots
        assert slots is not None
        ev = slots.ev
        ctrl = self.controller
        n = ctrl.selected_interrupt
        route = ev.routes[n] if 0 <= n < len(ev.routes) else None
        extra: set[int] = set()
        sender = None
        if route is not None:
            irq = ev.scenario.interrupts[n]
            sender = route.source  # the route carries its sender and the destination KVM saw (8 bits from xAPIC)
            if irq.shorthand == "none" and not irq.logical and route.dest < U32_MAX:
                extra.add(route.dest)
        if self._goto_id is not None:
            extra.add(self._goto_id)
        slots.set_extra_rows(extra)
        marks = ctrl.marks
        slots.set_changed(marks.slots if marks is not None else {}, marks.label_b if marks is not None else "")
        slots.set_overlay(list(ctrl.selected_vcpus), route, n if route is not None else -1, sender)
        slots.set_host(self._host_marks(n if route is not None else -1))

    def _host_marks(self, interrupt: int) -> dict[int, list[str]]:
        """Slots of the vCPUs a real kernel treated differently (selected interrupt, else any) -> why."""
        verdict = self.controller.host_results.shown
        slots = self.slots
        if verdict is None or slots is None:
            return {}
        index_of = slots.ev.router.index_of
        marks: dict[int, list[str]] = {}
        for vcpu_id in sorted(verdict.marked_vcpus(interrupt)):
            idx = index_of.get(vcpu_id)
            if idx is None:
                continue  # a vCPU removed since the answer came in
            lines = verdict.vcpu_lines(vcpu_id, interrupt)
            for slot in slots.slots_of(idx):
                marks.setdefault(slot, []).extend(lines)
        return marks

    # ----- words -----------------------------------------------------------------------

    def changed_slot_ids(self) -> list[int]:
        """Slots marked Δ (they change under the Compare dock's kernel B)."""
        return sorted(self.slots.changed) if self.slots is not None else []

    def _update_texts(self, ev: Evaluation) -> None:
        res = ev.result
        amap = res.map
        inhibits = ", ".join(res.apicv_inhibits) or "none"
        parts = [f"kernel <b>{html.escape(ev.scenario.kvm.kernel)}</b> ({res.behaviour.name})",
                 f"max_apic_id <b>{fmt_id(res.max_apic_id)}</b>"]
        if amap is not None:
            parts.append(f"phys_map: {len(amap.phys_map):,} slot(s)")
            parts.append(f"logical_mode <b>{amap.logical_mode}</b>")
        parts.append(f"APICv inhibits: {html.escape(inhibits)}")
        # Spaces inside a part do not break: the header wraps only between parts.
        self.info.setText(" · ".join(p.replace(" ", "&nbsp;") for p in parts))
        self.info.setToolTip(" · ".join(parts).replace("<b>", "").replace("</b>", ""))
        slots = self.slots
        aliased = sorted(slots.losers_by_slot) if slots is not None and amap is not None else []
        built = slots.progress if slots is not None else None
        if built is not None and built.gave_up is None and not built.complete:
            level = "ok"
            text = (f"<b>Step {built.upto + 1} of {built.total}</b>: the map as built so far — "
                    f"{len(built.phys_map):,} phys_map slot(s) written; later steps are not drawn yet.")
            tip = "The Step through the recalculation tab replays kvm_recalculate_apic_map(); leave it for the result."
        elif amap is None:
            level = "none"
            text = f"<b>NO OPTIMIZED MAP</b> — {html.escape(res.reason or 'the map pointer is NULL')}."
            tip = ("Grey hatched slots show where each vCPU would sit (its effective APIC ID)"
                   + ("; the cross-hatched slot is the aliased pair that made KVM discard the map."
                      if res.alias_conflict else "."))
        elif aliased:
            level = "aliased"
            shown = ", ".join(f"{fmt_id(s)} (+{len(slots.losers_by_slot[s])})" for s in aliased[:6])  # type: ignore[union-attr]
            more = f" and {len(aliased) - 6} more" if len(aliased) > 6 else ""
            text = (f"<b>⚠ Aliased APIC ID{'s' if len(aliased) > 1 else ''}</b> {shown}{more}: "
                    "KVM keeps one vCPU per slot (hatched, +N); the others cannot be reached through it.")
            tip = "Hover a hatched slot to see which vCPUs lost it and where else they sit."
        else:
            level = "ok"
            text = f"Optimized map: {len(amap.phys_map):,} slot(s) in phys_map, no aliased APIC IDs."
            tip = ""
        if level != self.banner_level:
            self.banner.setStyleSheet({"none": palette.BANNER_NONE_CSS, "aliased": palette.BANNER_WARN_CSS,
                                       "ok": palette.BANNER_OK_CSS}[level])
        self.banner_level = level
        self.banner.setText(text)
        self.banner.setToolTip(tip)
        self._update_caption(ev)

    def _update_caption(self, ev: Evaluation) -> None:
        slots = self.slots
        route = slots.route if slots is not None else None
        if route is None or slots is None:
            self.caption.hide()
            self.caption.setText("")
            return
        n = slots.route_index
        irq = ev.scenario.interrupts[n]
        name = f"#{n} {html.escape(shorten(irq.name, MAX_CELL_TEXT))}" if irq.name else f"#{n}"
        parts = [f"<b>{name}</b>: {html.escape(irq.describe())} — <b>{route.path} path</b> → {_ids(ev, route.targets)}"]
        if route.slow_path_targets != route.targets:
            parts.append(f"slow path alone → {_ids(ev, route.slow_path_targets)}")
        parts.append(f"hardware → {_ids(ev, route.hardware_targets)}")
        if route.dropped:
            parts.append(palette.rich(f"✗ DROPPED {_ids(ev, route.dropped)}", palette.DROPPED_TEXT))
        if route.extra:
            parts.append(palette.rich(f"! extra {_ids(ev, route.extra)}", palette.WARN_TEXT))
        if not route.dropped and not route.extra:
            parts.append(palette.rich("✓ matches hardware", palette.OK_TEXT))
        verdict = self.controller.host_results.shown
        row = verdict.row(n) if verdict is not None else None
        if verdict is not None and row is not None:
            said = html.escape(f"{verdict.label}: {row.text}")
            parts.append(palette.rich(said, palette.DROPPED_TEXT) if row.state == DIFFERS else said)
        self.caption.setText(" · ".join(parts))
        self.caption.setToolTip(route.fast_note)
        self.caption.show()

    # ----- user actions ------------------------------------------------------------------

    def _on_slot_clicked(self, apic_id: int) -> None:
        if self.slots is None:
            return
        holder = self.slots.holders.get(apic_id)
        self._own_click = True
        try:
            self.controller.select_vcpus([holder] if holder is not None else [])
        finally:
            self._own_click = False

    def _on_zoom_changed(self, cell_h: float) -> None:
        self.zoom_label.setText(f"{cell_h:.0f} px" + (" (overview)" if cell_h < 15 else ""))

    def _on_goto_entered(self) -> None:
        try:
            apic_id = parse_int(self.goto_edit.text(), "APIC ID", 0, U32_MAX)
        except ScenarioError as exc:
            self.goto_edit.setStyleSheet(palette.BAD_INPUT_CSS)
            self.goto_edit.setToolTip(str(exc))
            return
        self.goto_edit.setStyleSheet("")
        self.goto_edit.setToolTip("")
        self.go_to(apic_id)

    def go_to(self, apic_id: int) -> None:
        """Draw the slot's row if needed, scroll it to the centre and flash it."""
        self._goto_id = apic_id
        if self.slots is not None:
            self._apply_overlay()
            self.grid.relayout()
        self.grid.scroll_to_slot(apic_id)
        self.grid.flash(apic_id)

    # ----- state for tests and screenshots ---------------------------------------------

    def slot_info(self, apic_id: int) -> SlotInfo:
        """What the grid draws for one slot (state, vCPU, badges, markers, selection)."""
        assert self.slots is not None
        return self.slots.info(apic_id)

    def slot_rect(self, apic_id: int):
        """The slot's cell in this widget's coordinates (QRect), or None when not drawn."""
        r = self.grid.slot_rect(apic_id)
        if r is None:
            return None
        top_left = self.grid.viewport().mapTo(self, r.topLeft().toPoint())
        return r.toRect().translated(top_left - r.topLeft().toPoint())

    def banner_text(self) -> str:
        """The banner's text: no map and why, the aliased IDs, or that the map is clean."""
        return self.banner.text()

    def caption_text(self) -> str:
        return self.caption.text() if not self.caption.isHidden() else ""

    def logical_mode_text(self) -> str:
        return self.logical.mode_text()

