"""Draws one slot: fill, hatch, border, labels, badges and route glyphs.

Shared by the physical grid, the logical view and the legend, so that a
legend swatch is pixel-for-pixel what the grid draws. Every state has a
non-colour cue too (hatch, border style, letter, glyph shape), because users
attach screenshots to bug reports and some of their readers are colour-blind.
"""
from __future__ import annotations

import math

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QBrush, QColor, QFont, QFontMetricsF, QPainter, QPainterPath, QPen, QPixmap, QPolygonF

from ..viewmodels.map_slots import CHANGED, DROPPED, EXTRA, HOST, SENDER, TARGET, SlotInfo
from . import palette

LOD_FULL, LOD_LINE, LOD_OVERVIEW = 2, 1, 0
CACHE_BYTES = 24 * 1024 * 1024  # rendered cells kept per painter
#: Cell heights (px) from which two lines / one line of text fit.
FULL_FROM, LINE_FROM = 22.0, 14.0

_HATCH = {look: (getattr(Qt.BrushStyle, style), colour) for look, (style, colour) in palette.HATCHES.items()}
_BORDER = {
    "hotplug": (Qt.PenStyle.DashLine, 1.6),
    "logical": (Qt.PenStyle.DotLine, 1.8),
    "aliased": (Qt.PenStyle.SolidLine, 2.0),
    "conflict": (Qt.PenStyle.SolidLine, 2.5),
    "would": (Qt.PenStyle.DashLine, 1.0),
}
_OVERVIEW_FILL = palette.OVERVIEW_FILLS


_LOOK_TOOLS: dict[str, tuple[QColor, QBrush | None, QPen, float]] = {}


def lod_for(cell_h: float) -> int:
    if cell_h >= FULL_FROM:
        return LOD_FULL
    if cell_h >= LINE_FROM:
        return LOD_LINE
    return LOD_OVERVIEW


class SlotPainter:
    """Paints slots of one size; call :meth:`set_size` when the zoom changes."""

    def __init__(self, base: QFont) -> None:
        self.base = QFont(base)
        self._dpr = 1.0
        self._cache: dict[tuple, QPixmap] = {}
        self.w = self.h = 0.0
        self.lod = LOD_FULL
        self.set_size(52.0, 28.0)

    def set_size(self, w: float, h: float) -> None:
        if (w, h) == (self.w, self.h):
            return
        self.w, self.h = w, h
        self.lod = lod_for(h)
        self.id_font = QFont(self.base)
        self.id_font.setPixelSize(max(8, round(h * 0.32)))
        self.vcpu_font = QFont(self.base)
        self.vcpu_font.setPixelSize(max(9, round(h * (0.44 if self.lod == LOD_FULL else 0.62))))
        self.vcpu_font.setBold(True)
        self.badge_font = QFont(self.base)
        self.badge_font.setPixelSize(max(8, round(h * (0.32 if self.lod == LOD_FULL else 0.5))))
        self.badge_font.setBold(True)
        self.id_fm = QFontMetricsF(self.id_font)
        self.vcpu_fm = QFontMetricsF(self.vcpu_font)
        self.badge_fm = QFontMetricsF(self.badge_font)
        self.glyph = max(8.0, min(h * (0.44 if self.lod == LOD_FULL else 0.62), 18.0))
        # Keyed by size too and kept across zooms: a layout that flips between two
        # sizes (a banner appears, then goes) must not re-render every cell.
        self._cache_max = max(256, int(CACHE_BYTES / (4 * max(w * h, 1.0))))
        self._widths: dict[tuple[int, str], float] = {}

    # ----- whole slot ------------------------------------------------------------

    def paint(self, p: QPainter, rect: QRectF, s: SlotInfo, flash: bool = False) -> None:
        """Body and outlines at once (legend, logical view); the grid paints outlines last."""
        self.paint_body(p, rect, s)
        if has_outline(s) or flash:
            self.paint_outlines(p, rect, s, flash)

    def paint_body(self, p: QPainter, rect: QRectF, s: SlotInfo) -> None:
        """Fill, labels, badges and glyphs; labelled cells come from a pixmap cache.

        Laying out text costs ~0.1 ms a cell in Python; a repaint after an edit
        must stay within a frame, and almost every cell looks as it did before.
        """
        if self.lod == LOD_OVERVIEW:
            paint_overview(p, rect, s)
            return
        key = (self.w, self.h, s.look, s.id_text, s.vcpu_text, s.kind_badge, s.alias_badge, s.pv_badge,
               tuple(s.marker_kinds))
        pm = self._cache.get(key)
        if pm is None:
            dpr = p.device().devicePixelRatioF() if p.device() is not None else 1.0
            if dpr != self._dpr:
                self._cache.clear()
                self._dpr = dpr
            if len(self._cache) >= self._cache_max:
                self._cache.clear()
            pm = QPixmap(math.ceil(self.w * dpr), math.ceil(self.h * dpr))
            pm.setDevicePixelRatio(dpr)
            pm.fill(Qt.GlobalColor.transparent)
            q = QPainter(pm)
            q.setRenderHint(QPainter.RenderHint.Antialiasing)
            self._paint_labelled(q, QRectF(0, 0, self.w, self.h), s)
            q.end()
            self._cache[key] = pm
        p.drawPixmap(rect.topLeft(), pm)

    def _look_tools(self, look: str) -> tuple[QColor, QBrush | None, QPen, float]:
        """Fill colour, hatch brush, border pen and border width of a look, built once."""
        tools = _LOOK_TOOLS.get(look)
        if tools is None:
            fill, border, _text = palette.LOOKS[look]
            hatch = _HATCH.get(look)
            brush = QBrush(palette.qcolor(hatch[1]), hatch[0]) if hatch is not None else None
            style, width = _BORDER.get(look, (Qt.PenStyle.SolidLine, 1.0))
            pen = QPen(palette.qcolor(border), width, style)
            pen.setJoinStyle(Qt.PenJoinStyle.MiterJoin)
            tools = _LOOK_TOOLS[look] = (palette.qcolor(fill), brush, pen, width)
        return tools

    def _width(self, fm: QFontMetricsF, text: str) -> float:
        key = (id(fm), text)
        w = self._widths.get(key)
        if w is None:
            w = self._widths[key] = fm.horizontalAdvance(text)
        return w

    def _fit(self, fm: QFontMetricsF, text: str, avail: float) -> str:
        """``text``; else without "0x" (the grid is all hex); else left-elided ("…fffe").

        Widths are cached: ``elidedText`` is slow and most labels fit.
        """
        if self._width(fm, text) <= avail:
            return text
        if text.startswith("0x") and self._width(fm, text[2:]) <= avail:
            return text[2:]
        return fm.elidedText(text.removeprefix("0x"), Qt.TextElideMode.ElideLeft, max(avail, 0.0))

    def _paint_labelled(self, p: QPainter, rect: QRectF, s: SlotInfo) -> None:
        look = s.look
        text = palette.LOOKS[look][2]
        fill, brush, pen, width = self._look_tools(look)
        p.fillRect(rect, fill)
        if brush is not None:
            p.fillRect(rect, brush)
        p.setPen(pen)
        p.setBrush(Qt.BrushStyle.NoBrush)
        half = width / 2
        p.drawRect(rect.adjusted(half, half, -half, -half))
        pad = max(2.0, self.h * 0.09)
        g = self.glyph
        markers = s.marker_kinds
        badges = [(b, bg, fg) for b, bg, fg in ((s.kind_badge, palette.WHITE, text),
                                                 (s.alias_badge, palette.VERMILLION, palette.WHITE),
                                                 (s.pv_badge, palette.PV_REACH, palette.WHITE)) if b]
        if DROPPED in markers:
            pad += 2.0  # clear of the thick frame the outline pass draws
        left = rect.left() + pad
        if self.lod == LOD_FULL:
            # Top line: APIC ID (small) and badges; bottom line: the vCPU (bold), the one thing
            # that must stay readable, and the route glyphs where they fit beside it, else on top.
            top = rect.top() + pad
            right = rect.right() - pad
            for badge, bg, fg in badges:
                right = self._badge(p, right, top, badge, bg, fg) - 2
            # Where the glyphs go, best first: beside the full vCPU ID; on the top line at full
            # size; beside the ID without "0x"; on the top line, shrunk so none is cut off.
            room = rect.right() - pad - left - len(markers) * (g + 1) - 2
            vt = s.vcpu_text
            top_room = right - left - len(markers) * (g + 1)
            bottom_fits = not markers or not vt or self._width(self.vcpu_fm, vt) <= room
            if not bottom_fits and top_room < 0 and vt.startswith("0x"):
                bottom_fits = self._width(self.vcpu_fm, vt[2:]) <= room
            if not bottom_fits:
                # Crowded: glyphs go on the top line, shrunk if need be so none is cut off.
                gt = max(6.0, min(g, (right - left) / max(len(markers), 1) - 1))
                gy = top - 1
                for kind in markers:
                    paint_marker(p, QRectF(right - gt, gy, gt, gt), kind)
                    right -= gt + 1
            p.setFont(self.id_font)
            p.setPen(palette.qcolor(palette.LOOKS["empty"][2] if look in ("empty", "beyond") else text))
            shown_id = self._fit(self.id_fm, s.id_text, right - left)
            if shown_id and shown_id != "…":
                p.drawText(QPointF(left, top + self.id_fm.ascent()), shown_id)
            base_y = rect.bottom() - pad - self.vcpu_fm.descent()
            text_right = rect.right() - pad
            if bottom_fits:
                gy = rect.bottom() - pad - g
                text_right -= len(markers) * (g + 1)
            else:
                markers = []
        else:
            # One line: vCPU, then badges and glyphs from the right.
            gy = rect.center().y() - g / 2
            right = rect.right() - pad - len(markers) * (g + 1)
            top = rect.center().y() - self.badge_fm.height() / 2
            for badge, bg, fg in badges:
                right = self._badge(p, right, top, badge, bg, fg) - 2
            base_y = rect.center().y() + (self.vcpu_fm.ascent() - self.vcpu_fm.descent()) / 2
            text_right = right
        if s.vcpu_text:
            p.setFont(self.vcpu_font)
            p.setPen(palette.qcolor(text))
            avail = text_right - left
            shown = self._fit(self.vcpu_fm, s.vcpu_text, avail)
            if shown:
                p.drawText(QPointF(left, base_y), shown)
        x = rect.right() - pad - g
        for kind in markers:
            paint_marker(p, QRectF(x, gy, g, g), kind)
            x -= g + 1

    def _badge(self, p: QPainter, right: float, top: float, text: str, bg: str, fg: str) -> float:
        fm = self.badge_fm
        w = fm.horizontalAdvance(text) + 4
        h = fm.height()
        r = QRectF(right - w, top - 1, w, h)
        p.setPen(QPen(palette.qcolor(fg if bg == palette.WHITE else bg), 1))
        p.setBrush(palette.qcolor(bg))
        p.drawRoundedRect(r, 2, 2)
        p.setPen(palette.qcolor(fg))
        p.setFont(self.badge_font)
        p.drawText(r, Qt.AlignmentFlag.AlignCenter, text)
        return r.left()

    def paint_outlines(self, p: QPainter, rect: QRectF, s: SlotInfo, flash: bool) -> None:
        p.setBrush(Qt.BrushStyle.NoBrush)
        small = self.lod == LOD_OVERVIEW
        if DROPPED in s.marker_kinds and not small:
            # A double frame: a shape no other state uses, so "dropped" is not just "more red".
            p.setPen(QPen(palette.qcolor(palette.VERMILLION), 3))
            p.drawRect(rect.adjusted(1.5, 1.5, -1.5, -1.5))
            p.setPen(QPen(palette.qcolor(palette.VERMILLION), 1.5))
            p.drawRect(rect.adjusted(-2.5, -2.5, 2.5, 2.5))
        if s.read and rect.height() >= 6:
            # On the cell's edge, so it never crosses the labels.
            p.setPen(QPen(palette.qcolor(palette.READ_OUTLINE), 2.0 if not small else 1.0, Qt.PenStyle.DashLine))
            p.drawRect(rect.adjusted(-0.5, -0.5, 0.5, 0.5))
        if s.selected:
            width = 3.0 if not small else max(1.0, min(2.0, rect.height() / 4))
            p.setPen(QPen(palette.qcolor(palette.SELECTED_OUTLINE), width))
            h = width / 2 + (1.0 if s.read and not small else 0.0)
            p.drawRect(rect.adjusted(-h, -h, h, h))
        if flash:
            p.setPen(QPen(palette.qcolor(palette.FLASH_OUTLINE), 5))
            p.drawRect(rect.adjusted(-2, -2, 2, 2))
            p.setPen(QPen(palette.qcolor(palette.BLACK), 2, Qt.PenStyle.DashLine))
            p.drawRect(rect.adjusted(-2, -2, 2, 2))


def paint_overview(p: QPainter, rect: QRectF, s: SlotInfo) -> None:
    """Colours only (tiny cells, thin empty rows); the cross still marks a dropped slot."""
    kinds = s.marker_kinds
    if DROPPED in kinds:
        p.fillRect(rect, palette.qcolor(palette.VERMILLION))
        if rect.height() >= 5:
            p.setPen(QPen(palette.qcolor(palette.WHITE), max(1.0, rect.height() / 6)))
            p.drawLine(rect.topLeft(), rect.bottomRight())
            p.drawLine(rect.bottomLeft(), rect.topRight())
        return
    for kind, colour in ((EXTRA, palette.ORANGE), (TARGET, palette.GREEN), (HOST, palette.BLUE),
                         (SENDER, palette.MARKERS["sender"][0])):
        if kind in kinds:
            p.fillRect(rect, palette.qcolor(colour))
            return
    p.fillRect(rect, palette.qcolor(_OVERVIEW_FILL[s.look]))


def has_outline(s: SlotInfo) -> bool:
    """Outlines reach into neighbouring cells, so the grid paints them after every body."""
    return s.selected or s.read or any(k == DROPPED for k, _ in s.markers)


def paint_marker(p: QPainter, r: QRectF, kind: str) -> None:
    """A route glyph; the shapes differ (circle ✓, square ✗, triangle !, rounded S, hexagon ≠, diamond Δ)
    for colour-blind readers."""
    bg, fg = palette.MARKERS[kind]
    p.setPen(QPen(palette.qcolor(palette.WHITE), 1))
    p.setBrush(palette.qcolor(bg))
    w = r.width()
    line = QPen(palette.qcolor(fg), max(1.5, w / 6), Qt.PenStyle.SolidLine, Qt.PenCapStyle.RoundCap,
                Qt.PenJoinStyle.RoundJoin)
    if kind == TARGET:
        p.drawEllipse(r)
        p.setPen(line)
        p.drawPolyline(QPolygonF([QPointF(r.left() + w * 0.25, r.top() + w * 0.52),
                                  QPointF(r.left() + w * 0.43, r.top() + w * 0.70),
                                  QPointF(r.left() + w * 0.76, r.top() + w * 0.30)]))
    elif kind == DROPPED:
        p.drawRect(r)
        p.setPen(line)
        a, b = w * 0.27, w * 0.73
        p.drawLine(QPointF(r.left() + a, r.top() + a), QPointF(r.left() + b, r.top() + b))
        p.drawLine(QPointF(r.left() + a, r.top() + b), QPointF(r.left() + b, r.top() + a))
    elif kind == EXTRA:
        tri = QPainterPath()
        tri.moveTo(r.left() + w / 2, r.top())
        tri.lineTo(r.right(), r.bottom())
        tri.lineTo(r.left(), r.bottom())
        tri.closeSubpath()
        p.drawPath(tri)
        p.setPen(line)
        p.drawLine(QPointF(r.center().x(), r.top() + w * 0.35), QPointF(r.center().x(), r.top() + w * 0.65))
        p.drawPoint(QPointF(r.center().x(), r.top() + w * 0.84))
    elif kind == HOST:  # a hexagon with ≠: a real kernel did otherwise
        dx = w * 0.25
        hexagon = QPolygonF([QPointF(r.left() + dx, r.top()), QPointF(r.right() - dx, r.top()),
                             QPointF(r.right(), r.center().y()), QPointF(r.right() - dx, r.bottom()),
                             QPointF(r.left() + dx, r.bottom()), QPointF(r.left(), r.center().y())])
        p.drawPolygon(hexagon)
        _glyph_letter(p, r, fg, "≠", 0.78)
    elif kind == CHANGED:  # a diamond with a Δ: differs under the compared kernel
        diamond = QPolygonF([QPointF(r.center().x(), r.top()), QPointF(r.right(), r.center().y()),
                             QPointF(r.center().x(), r.bottom()), QPointF(r.left(), r.center().y())])
        p.drawPolygon(diamond)
        _glyph_letter(p, r, fg, "Δ", 0.6)
    else:  # SENDER
        p.drawRoundedRect(r, w * 0.25, w * 0.25)
        _glyph_letter(p, r, fg, "S", 0.72)


def _glyph_letter(p: QPainter, r: QRectF, fg: str, letter: str, scale: float) -> None:
    """A bold letter centred in a marker badge."""
    f = QFont(p.font())
    f.setPixelSize(max(6, round(r.width() * scale)))
    f.setBold(True)
    p.setFont(f)
    p.setPen(palette.qcolor(fg))
    p.drawText(r, Qt.AlignmentFlag.AlignCenter, letter)
