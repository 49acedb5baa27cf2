"""The physical map as a virtualized grid: 16 APIC ID slots per row, zoom and pan.

Only the rows :class:`~apicviz.gui.viewmodels.map_slots.MapSlots` chooses are laid out
(one y offset per row or gap band), and a repaint touches only the bands in
the viewport, so 4096 vCPUs or an ID near 2^32 cost the same as a small VM.
Row labels and the column header stay put while the cells scroll under them.
"""
from __future__ import annotations

import math
from bisect import bisect_right

from PySide6.QtCore import QEvent, QPoint, QPointF, QRect, QRectF, QSize, Qt, QTimer, Signal
from PySide6.QtGui import QFont, QFontMetricsF, QMouseEvent, QPainter, QPaintEvent, QResizeEvent, QWheelEvent
from PySide6.QtWidgets import QAbstractScrollArea, QApplication, QToolTip, QWidget

from ..viewmodels.map_slots import COLUMNS, MapSlots, SlotInfo
from . import palette
from .slot_painter import FULL_FROM, LINE_FROM, LOD_OVERVIEW, SlotPainter, has_outline, paint_overview

ASPECT = 2.0  # cell width / height: an ID, badges and glyphs must fit side by side
MIN_ASPECT, MAX_ASPECT = 1.7, 2.6  # fit() may widen cells to use the width
SPACING = 2.0
MIN_CELL, MAX_CELL = 3.0, 80.0
FIT_MIN, FIT_MAX = 8.0, 40.0
ZOOM_STEP = 1.2
THIN_H = 7.0  # an empty row drawn as a colour strip when space is short
#: Outlines (selection, dropped, flash) reach this far beyond a cell: a changed cell repaints this much around it.
DIRTY_MARGIN = 6
#: More changed cells than this on screen repaint the whole view (one paint is cheaper than many rects).
MAX_DIRTY_CELLS = 48


class SlotGrid(QAbstractScrollArea):
    """Paints :class:`MapSlots`; emits :attr:`slot_clicked` with the APIC ID under a click."""

    slot_clicked = Signal(int)
    zoom_changed = Signal(float)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.slots: MapSlots | None = None
        self.cell_h = 28.0
        self.aspect = ASPECT
        self.thin_empty = False
        self._wheel_target: float | None = None
        self.auto_fit = True  # until the user zooms, follow the widget's size
        self.painter = SlotPainter(self.font())
        self.header_font = QFont(self.font())
        self.header_font.setPixelSize(11)
        self.gap_font = QFont(self.font())
        self.gap_font.setPixelSize(11)
        self.gap_font.setItalic(True)
        self._bands: list[tuple[str, int, int]] = []
        self._tops: list[float] = []
        self._row_top: dict[int, float] = {}
        self._content_h = 0.0
        self._layout: tuple = ()
        self.label_w = 44.0
        self.header_h = 18.0
        self._press: QPoint | None = None
        self._press_scroll = (0, 0)
        self._panning = False
        self._flash_id: int | None = None
        self._flash_ticks = 0
        self._flash_timer = QTimer(self)
        self._flash_timer.setInterval(180)
        self._flash_timer.timeout.connect(self._on_flash_tick)
        self.setMouseTracking(False)
        self.viewport().setBackgroundRole(self.viewport().backgroundRole())
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setMinimumSize(240, 160)

    # ----- data ---------------------------------------------------------------

    def set_slots(self, slots: MapSlots, dirty: set[int] | None = None) -> None:
        """Show new slots (fitted while the user has not zoomed).

        ``dirty``: the only slots that look different from the previous ones
        (:meth:`MapSlots.dirty_since`); when the layout stays too, only they
        are repainted. None repaints everything.
        """
        self.slots = slots
        if self.auto_fit:
            self._apply_fit(dirty)
        else:
            self.relayout(dirty)

    def relayout(self, dirty: set[int] | None = None) -> None:
        """Recompute band offsets (after new slots, rows or zoom) and repaint (only ``dirty`` if nothing moved)."""
        slots = self.slots
        self._bands = slots.bands() if slots is not None else []
        pitch = self.cell_h + SPACING
        gap = self.gap_height()
        tops: list[float] = []
        row_top: dict[int, float] = {}
        y = 0.0
        thin_pitch = THIN_H + SPACING
        if self.thin_empty and slots is not None:
            # Empty rows shrink to a colour strip so the rows with something to read stay legible.
            self._bands = [("thin", r, r) if k == "row" and slots.row_is_empty(r) else (k, r, last)
                           for k, r, last in self._bands]
        for kind, first, _last in self._bands:
            tops.append(y)
            if kind == "row":
                row_top[first] = y
                y += pitch
            elif kind == "thin":
                row_top[first] = y
                y += thin_pitch
            else:
                y += gap
        self._tops, self._row_top, self._content_h = tops, row_top, y
        fm = QFontMetricsF(self.header_font)
        last_row = self._bands[-1][1] if self._bands else 0
        # Whole pixels everywhere, so cached cell pixmaps land exactly on the grid.
        self.label_w = float(math.ceil(max(fm.horizontalAdvance(self.row_label(last_row)),
                                           fm.horizontalAdvance("0x00")) + 10))
        self.header_h = float(math.ceil(fm.height() + 6))
        self.painter.set_size(self.cell_w, self.cell_h)
        self._update_scrollbars()
        layout = (self._bands, self.cell_h, self.aspect, self.label_w, self.header_h)
        moved, self._layout = layout != self._layout, layout
        if moved or dirty is None:
            self.viewport().update()
        else:
            self._update_slots(dirty)

    def _update_slots(self, apic_ids: set[int]) -> None:
        """Repaint the cells of these slots (and the outlines around them) where they are on screen."""
        vp = self.viewport().rect()
        rects = []
        for apic_id in apic_ids:
            r = self.slot_rect(apic_id)
            if r is None:
                continue
            rect = r.toAlignedRect().adjusted(-DIRTY_MARGIN, -DIRTY_MARGIN, DIRTY_MARGIN, DIRTY_MARGIN)
            if rect.intersects(vp):
                rects.append(rect)
                if len(rects) > MAX_DIRTY_CELLS:
                    self.viewport().update()
                    return
        for rect in rects:
            self.viewport().update(rect)

    @property
    def cell_w(self) -> float:
        return round(self.cell_h * self.aspect)

    def gap_height(self) -> float:
        return float(round(max(16.0, min(self.cell_h * 0.75, 22.0))))

    @staticmethod
    def row_label(row: int) -> str:
        return f"{row << 4:#04x}"

    def _update_scrollbars(self) -> None:
        vp = self.viewport().size()
        content_w = COLUMNS * (self.cell_w + SPACING)
        self.horizontalScrollBar().setRange(0, max(0, int(content_w - (vp.width() - self.label_w) + 4)))
        self.horizontalScrollBar().setPageStep(max(1, vp.width()))
        self.verticalScrollBar().setRange(0, max(0, int(self._content_h - (vp.height() - self.header_h) + 4)))
        self.verticalScrollBar().setPageStep(max(1, vp.height()))
        self.verticalScrollBar().setSingleStep(max(1, int(self.cell_h + SPACING)))

    # ----- geometry -------------------------------------------------------------

    def _origin(self) -> QPointF:
        return QPointF(self.label_w - self.horizontalScrollBar().value(),
                       self.header_h - self.verticalScrollBar().value())

    def slot_rect(self, apic_id: int) -> QRectF | None:
        """The slot's cell in viewport coordinates, or None when its row is not drawn."""
        top = self._row_top.get(apic_id >> 4)
        if top is None:
            return None
        o = self._origin()
        col = apic_id & 0xF
        h = THIN_H if self.row_is_thin(apic_id >> 4) else self.cell_h
        return QRectF(o.x() + col * (self.cell_w + SPACING) + 1, o.y() + top + 1, self.cell_w, h)

    def row_is_thin(self, row: int) -> bool:
        i = bisect_right(self._tops, self._row_top.get(row, -1.0)) - 1
        return 0 <= i < len(self._bands) and self._bands[i][0] == "thin" and self._bands[i][1] == row

    def slot_at(self, pos: QPoint | QPointF) -> int | None:
        """APIC ID of the cell under a viewport position (None on labels, gaps, spacing)."""
        if pos.x() < self.label_w or pos.y() < self.header_h or not self._bands:
            return None
        o = self._origin()
        y = pos.y() - o.y()
        i = bisect_right(self._tops, y) - 1
        if i < 0:
            return None
        kind, row, _ = self._bands[i]
        if kind == "gap" or y - self._tops[i] > (self.cell_h if kind == "row" else THIN_H) + 1:
            return None
        col = int((pos.x() - o.x()) // (self.cell_w + SPACING))
        if not 0 <= col < COLUMNS:
            return None
        return (row << 4) | col

    # ----- zoom and scroll --------------------------------------------------------

    def set_cell_height(self, h: float, anchor: QPointF | None = None, user: bool = True, wheel: bool = False) -> None:
        """Zoom so the content point under ``anchor`` (viewport coordinates) stays put."""
        if not wheel:
            self._wheel_target = None
        h = float(round(max(MIN_CELL, min(MAX_CELL, h))))
        if user:
            self.auto_fit = False
        if abs(h - self.cell_h) < 0.01:
            return
        vp = self.viewport().rect()
        anchor = anchor if anchor is not None else QPointF(vp.center())
        o = self._origin()
        cx, cy = anchor.x() - o.x(), anchor.y() - o.y()
        fy = self._content_y_fraction(cy)
        old_w = self.cell_w + SPACING
        self.cell_h = h
        self.relayout()
        new_x = cx / old_w * (self.cell_w + SPACING)
        new_y = self._content_y_from_fraction(fy)
        self.horizontalScrollBar().setValue(int(new_x - (anchor.x() - self.label_w)))
        self.verticalScrollBar().setValue(int(new_y - (anchor.y() - self.header_h)))
        self.zoom_changed.emit(self.cell_h)

    def _content_y_fraction(self, y: float) -> tuple[int, float]:
        i = max(0, bisect_right(self._tops, y) - 1)
        if not self._tops:
            return 0, 0.0
        h = (self._tops[i + 1] if i + 1 < len(self._tops) else self._content_h) - self._tops[i]
        return i, (y - self._tops[i]) / h if h else 0.0

    def _content_y_from_fraction(self, f: tuple[int, float]) -> float:
        i, frac = f
        if not self._tops:
            return 0.0
        i = min(i, len(self._tops) - 1)
        h = (self._tops[i + 1] if i + 1 < len(self._tops) else self._content_h) - self._tops[i]
        return self._tops[i] + frac * h

    def zoom_in(self) -> None:
        self.set_cell_height(max(self.cell_h * ZOOM_STEP, self.cell_h + 1))

    def zoom_out(self) -> None:
        self.set_cell_height(min(self.cell_h / ZOOM_STEP, self.cell_h - 1))

    def width_fit_height(self) -> float:
        """The tallest cells whose 16 columns fit the view's width (no sideways scrolling)."""
        col_w = int((self.viewport().width() - self.label_w - 6) / COLUMNS - SPACING)
        col_w -= 1 + self.verticalScrollBar().sizeHint().width() // COLUMNS
        return max(MIN_CELL, float(int(col_w / self.aspect) - 1))

    def fit(self) -> None:
        """Largest cells that show every drawn row (8 to 40 px high); resumes following resizes."""
        self.auto_fit = True
        self._apply_fit()

    def _apply_fit(self, dirty: set[int] | None = None) -> None:
        """Fit every drawn row if cells stay labelled; else fill the width and scroll.

        A 4096-vCPU map squeezed into one screen is colour only; labelled
        rows that scroll are the better first view (zoom out for the overview).
        """
        if self.slots is None:
            return
        vp = self.viewport().size()
        bands = self.slots.bands()
        rows = [b[1] for b in bands if b[0] == "row"]
        gaps = len(bands) - len(rows)
        avail_h = vp.height() - self.header_h - gaps * 20 - 4
        by_h = avail_h / max(len(rows), 1) - SPACING
        col_w = int((vp.width() - self.label_w - 6) / COLUMNS - SPACING)
        empty = sum(1 for r in rows if self.slots.row_is_empty(r))
        self.thin_empty = by_h < FULL_FROM and 0 < empty < len(rows)
        if self.thin_empty:
            by_h = (avail_h - empty * (THIN_H + SPACING)) / (len(rows) - empty) - SPACING
        if by_h < LINE_FROM:
            by_h = 28.0
            col_w -= 1 + self.verticalScrollBar().sizeHint().width() // COLUMNS
        h = float(int(max(FIT_MIN, min(FIT_MAX, by_h, col_w / MIN_ASPECT))))
        self.aspect = max(MIN_ASPECT, min(MAX_ASPECT, (col_w - 0.5) / h))
        self.cell_h = h
        self.relayout(dirty)
        self.horizontalScrollBar().setValue(0)
        self.verticalScrollBar().setValue(0)
        self.zoom_changed.emit(self.cell_h)

    def scroll_to_slot(self, apic_id: int, center: bool = True) -> None:
        top = self._row_top.get(apic_id >> 4)
        if top is None:
            return
        vp = self.viewport().size()
        x = (apic_id & 0xF) * (self.cell_w + SPACING)
        view_w, view_h = vp.width() - self.label_w, vp.height() - self.header_h
        hs, vs = self.horizontalScrollBar(), self.verticalScrollBar()
        if center:
            hs.setValue(int(x + self.cell_w / 2 - view_w / 2))
            vs.setValue(int(top + self.cell_h / 2 - view_h / 2))
            return
        if top < vs.value() or top + self.cell_h > vs.value() + view_h:
            vs.setValue(int(top + self.cell_h / 2 - view_h / 2))
        if x < hs.value() or x + self.cell_w > hs.value() + view_w:
            hs.setValue(int(x + self.cell_w / 2 - view_w / 2))

    def is_slot_visible(self, apic_id: int) -> bool:
        r = self.slot_rect(apic_id)
        if r is None:
            return False
        area = QRectF(self.label_w, self.header_h, self.viewport().width() - self.label_w,
                      self.viewport().height() - self.header_h)
        return area.contains(r.center())

    def flash(self, apic_id: int) -> None:
        """Blink a yellow/black frame around a slot (Go to APIC ID)."""
        self._flash_id = apic_id
        self._flash_ticks = 8
        self._flash_timer.start()
        self.viewport().update()

    def _on_flash_tick(self) -> None:
        self._flash_ticks -= 1
        if self._flash_ticks <= 0:
            self._flash_timer.stop()
            self._flash_id = None
        self.viewport().update()

    @property
    def flashing(self) -> int | None:
        return self._flash_id

    # ----- painting ---------------------------------------------------------------

    def paintEvent(self, event: QPaintEvent) -> None:
        p = QPainter(self.viewport())
        vp = self.viewport().rect()
        dirty = QRectF(event.rect())
        p.fillRect(dirty, palette.qcolor(palette.GRID_BACKGROUND))
        slots = self.slots
        if slots is None or not self._bands:
            return
        p.setRenderHint(QPainter.RenderHint.Antialiasing, self.painter.lod != LOD_OVERVIEW)
        o = self._origin()
        pitch_w = self.cell_w + SPACING
        y0 = self.verticalScrollBar().value()
        y1 = y0 + vp.height()
        c0 = max(0, int((self.horizontalScrollBar().value()) // pitch_w))
        c1 = min(COLUMNS, int((self.horizontalScrollBar().value() + vp.width()) // pitch_w) + 1)
        # After an edit only the slots that changed are dirty: paint the cells around them (one more each
        # side, for outlines that reach into neighbours); row labels are worked out as for the whole view.
        c0 = max(c0, int((dirty.left() - o.x()) // pitch_w) - 1)
        c1 = min(c1, int((dirty.right() - o.x()) // pitch_w) + 2)
        reach_top, reach_bottom = dirty.top() - DIRTY_MARGIN, dirty.bottom() + DIRTY_MARGIN
        tops = self._tops
        first = max(0, bisect_right(self._tops, y0) - 1)
        painter = self.painter
        later: list[tuple[QRectF, SlotInfo]] = []
        labels: list[tuple[float, str, bool]] = []
        flash_id = self._flash_id if self._flash_ticks % 2 == 0 else None
        ch, cw = self.cell_h, self.cell_w
        last_label_y = -1e9
        for i in range(first, len(self._bands)):
            top = self._tops[i]
            if top > y1:
                break
            kind, row, last = self._bands[i]
            y = o.y() + top
            bottom = o.y() + (tops[i + 1] if i + 1 < len(tops) else self._content_h)
            inside = y <= reach_bottom and bottom >= reach_top
            cols = range(c0, c1) if inside else range(0)  # outside the dirty area only the row label is reckoned
            if kind == "gap":
                if inside:
                    self._paint_gap(p, QRectF(0, y, vp.width(), self.gap_height()), slots.gap_text(row, last))
                last_label_y = -1e9
                continue
            base = row << 4
            if kind == "thin":
                for col in cols:
                    info = slots.info(base | col)
                    paint_overview(p, QRectF(o.x() + col * pitch_w + 1, y + 1, cw, THIN_H), info)
                if y - last_label_y >= 12:
                    labels.append((y + THIN_H / 2 + 1, self.row_label(row), True))
                    last_label_y = y
                continue
            for col in cols:
                rect = QRectF(o.x() + col * pitch_w + 1, y + 1, cw, ch)
                info = slots.info(base | col)
                painter.paint_body(p, rect, info)
                if has_outline(info) or base | col == flash_id:
                    later.append((rect, info))
            if y - last_label_y >= 12:
                labels.append((y + ch / 2 + 1, self.row_label(row), True))
                last_label_y = y
        for rect, info in later:
            painter.paint_outlines(p, rect, info, info.apic_id == flash_id)
        self._paint_headers(p, vp, o, pitch_w, labels)

    def _paint_gap(self, p: QPainter, r: QRectF, text: str) -> None:
        p.fillRect(r.adjusted(0, 2, 0, -2), palette.qcolor(palette.GAP_FILL))
        p.setPen(palette.qcolor(palette.GAP_TEXT))
        p.setFont(self.gap_font)
        p.drawText(r.adjusted(self.label_w, 0, -4, 0), Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignLeft,
                   QFontMetricsF(self.gap_font).elidedText(text, Qt.TextElideMode.ElideMiddle,
                                                           r.width() - self.label_w - 4))

    def _paint_headers(self, p: QPainter, vp: QRect, o: QPointF, pitch_w: float,
                       labels: list[tuple[float, str, bool]]) -> None:
        bg = palette.qcolor(palette.GRID_BACKGROUND)
        p.fillRect(QRectF(0, 0, vp.width(), self.header_h), bg)
        p.fillRect(QRectF(0, self.header_h, self.label_w, vp.height()), bg)
        p.setFont(self.header_font)
        p.setPen(palette.qcolor(palette.HEADER_TEXT))
        step = 1 if pitch_w >= 9 else 2 if pitch_w >= 5 else 4
        for col in range(0, COLUMNS, step):
            x = o.x() + col * pitch_w
            if x + pitch_w < self.label_w:
                continue
            p.drawText(QRectF(x, 0, max(pitch_w, 10), self.header_h), Qt.AlignmentFlag.AlignCenter, f"{col:x}")
        fm_h = QFontMetricsF(self.header_font).height()
        for cy, text, _ in labels:
            if cy < self.header_h:
                continue
            p.drawText(QRectF(0, cy - fm_h / 2, self.label_w - 5, fm_h),
                       Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter, text)

    # ----- events -----------------------------------------------------------------

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        if self.auto_fit:
            self._apply_fit()
        else:
            self._update_scrollbars()

    def scrollContentsBy(self, dx: int, dy: int) -> None:
        self.viewport().update()

    def wheelEvent(self, event: QWheelEvent) -> None:
        """Wheel zooms around the pointer (as in pyqtgraph); Shift+wheel scrolls."""
        if event.modifiers() & Qt.KeyboardModifier.ShiftModifier:
            delta = event.angleDelta()
            dy = delta.y() or delta.x()
            self.verticalScrollBar().setValue(self.verticalScrollBar().value() - int(dy / 120 * 3 * (self.cell_h + 2)))
            event.accept()
            return
        steps = event.angleDelta().y() / 120.0
        if steps:
            # Touchpads send small steps: accumulate them, cells change by whole pixels.
            target = (self._wheel_target or self.cell_h) * ZOOM_STEP**steps
            self._wheel_target = max(MIN_CELL, min(MAX_CELL, target))
            self.set_cell_height(self._wheel_target, event.position(), wheel=True)
        event.accept()

    def mousePressEvent(self, event: QMouseEvent) -> None:
        if event.button() in (Qt.MouseButton.LeftButton, Qt.MouseButton.MiddleButton):
            self._press = event.position().toPoint()
            self._press_scroll = (self.horizontalScrollBar().value(), self.verticalScrollBar().value())
            self._panning = event.button() == Qt.MouseButton.MiddleButton
            event.accept()
            return
        super().mousePressEvent(event)

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        if self._press is None:
            return
        d = event.position().toPoint() - self._press
        if not self._panning and d.manhattanLength() >= QApplication.startDragDistance():
            self._panning = True
            self.viewport().setCursor(Qt.CursorShape.ClosedHandCursor)
        if self._panning:
            self.horizontalScrollBar().setValue(self._press_scroll[0] - d.x())
            self.verticalScrollBar().setValue(self._press_scroll[1] - d.y())

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        if self._press is None:
            return
        panned = self._panning
        self._press = None
        self._panning = False
        self.viewport().unsetCursor()
        if not panned and event.button() == Qt.MouseButton.LeftButton:
            apic_id = self.slot_at(event.position())
            if apic_id is not None:
                self.slot_clicked.emit(apic_id)

    def viewportEvent(self, event: QEvent) -> bool:
        if event.type() == QEvent.Type.ToolTip and self.slots is not None:
            pos = event.pos()  # type: ignore[attr-defined]
            apic_id = self.slot_at(pos)
            if apic_id is None:
                QToolTip.hideText()
            else:
                rect = self.slot_rect(apic_id)
                QToolTip.showText(event.globalPos(), self.slots.tooltip(apic_id), self.viewport(),  # type: ignore[attr-defined]
                                  rect.toRect() if rect is not None else QRect())
            return True
        return super().viewportEvent(event)

    def sizeHint(self) -> QSize:
        return QSize(int(self.label_w + COLUMNS * (round(26 * ASPECT) + SPACING) + 24), 480)
