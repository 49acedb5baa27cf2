"""Colours of the map views, in one place so grid, logical view and legend agree.

Built on the Okabe-Ito palette (distinguishable with the common colour-vision
deficiencies). Colour is never the only cue: every state also has a letter,
a glyph, a hatch or a border style (see :mod:`apicviz.gui.views.slot_painter`).
"""
from __future__ import annotations

from PySide6.QtGui import QColor

# Okabe-Ito base colours.
BLACK = "#000000"
ORANGE = "#E69F00"
SKY = "#56B4E9"
GREEN = "#009E73"
YELLOW = "#F0E442"
BLUE = "#0072B2"
VERMILLION = "#D55E00"
PURPLE = "#CC79A7"

#: Fill, border and text colour for each look a slot can have.
LOOKS: dict[str, tuple[str, str, str]] = {
    # look:      (fill,      border,    text)
    "empty": ("#F6F6F6", "#D4D4D4", "#A0A0A0"),
    "direct": ("#CDE7F7", "#56B4E9", "#0B2F4A"),
    "hotplug": ("#FBF3A6", "#8C7A00", "#3A3200"),
    "logical": ("#F1CDE2", "#A34D80", "#4A1334"),
    "aliased": ("#FAD2BC", VERMILLION, "#4A1A00"),
    "would": ("#E4E4E4", "#8A8A8A", "#404040"),
    "conflict": ("#FAD2BC", VERMILLION, "#4A1A00"),
    "beyond": ("#C8C8C8", "#A8A8A8", "#707070"),
}

#: Route markers: (badge fill, glyph colour).
MARKERS: dict[str, tuple[str, str]] = {
    "target": (GREEN, "#FFFFFF"),
    "dropped": (VERMILLION, "#FFFFFF"),
    "extra": (ORANGE, BLACK),
    "sender": ("#303030", "#FFFFFF"),
    "changed": (PURPLE, BLACK),
}

READ_OUTLINE = BLUE
SELECTED_OUTLINE = BLACK
FLASH_OUTLINE = YELLOW
GRID_BACKGROUND = "#FFFFFF"
HEADER_TEXT = "#404040"
GAP_FILL = "#EFEFEF"
GAP_TEXT = "#505050"

BANNER_NONE_CSS = (
    "QLabel { background: #FDE3D3; border: 2px solid #D55E00; border-radius: 4px;"
    " padding: 4px 8px; color: #3A1200; }"
)
BANNER_WARN_CSS = (
    "QLabel { background: #FFF4CC; border: 1px solid #B08800; border-radius: 4px;"
    " padding: 3px 8px; color: #3A2E00; }"
)
BANNER_OK_CSS = (
    "QLabel { background: #EEF5F1; border: 1px solid #9CC8B3; border-radius: 4px;"
    " padding: 3px 8px; color: #18382A; }"
)
CAPTION_CSS = "QLabel { background: #F2F7FB; border: 1px solid #9CC3DE; border-radius: 4px; padding: 3px 8px; }"

#: Sweep rows where hardware would deliver but KVM does not.
DROPPED_ROW = "#FBDCCB"
FAST_SLOW_ROW = "#FFF4CC"

_cache: dict[str, QColor] = {}


def qcolor(name: str) -> QColor:
    """A cached QColor: painting thousands of slots must not parse colour names each time."""
    c = _cache.get(name)
    if c is None:
        c = _cache[name] = QColor(name)
    return c
