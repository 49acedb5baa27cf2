"""Every colour of the window, in one place so the map, the tables, the docks and the legend agree.

Built on the Okabe-Ito palette (distinguishable with the common colour-vision
deficiencies). Colour is never the only cue: every state also has a letter,
a glyph, a hatch or a border style (see :mod:`apicviz.gui.views.slot_painter`).
"""
from __future__ import annotations

from PySide6.QtGui import QColor

# Okabe-Ito base colours.
BLACK = "#000000"
WHITE = "#FFFFFF"
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
    "host": (BLUE, "#FFFFFF"),
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

#: Severity classes (apicviz.model.severity): (cell/chip fill, text, solid colour for the heat map).
#: Red, orange and amber are told apart by lightness as well as hue; every view also says the class in words.
SEVERITY: dict[str, tuple[str, str, str]] = {
    "kvm_inconsistent": ("#F4B6B0", "#5C0000", "#C0281B"),
    "differs_from_hardware": ("#FFCC99", "#4D2300", "#E8730C"),
    "kvm_by_design": ("#FFE9A3", "#3D3000", "#F2C230"),
    "agree": ("#CFECCF", "#0B3D0B", "#EEF3EE"),
}
#: Heat-map hover text where nothing disagrees.
HEATMAP_TEXT = "#303030"
#: Heat-map cells with no row at all (nothing routed there).
SEVERITY_NONE_SOLID = "#FFFFFF"

#: Status chips that are no severity: (fill, text).
CHIP_LEVELS: dict[str, tuple[str, str]] = {
    "ok": ("#CFECCF", "#0B3D0B"),
    "bad": ("#F4B6B0", "#5C0000"),
    "warn": ("#FFD59A", "#4A2C00"),
    "info": ("#E3E8F0", "#1D2B3A"),
}


def chip_css(fill: str, text: str, bold: bool = False) -> str:
    """Style sheet of a status chip."""
    weight = " font-weight:bold;" if bold else ""
    return f"QLabel {{ background:{fill}; color:{text};{weight} border-radius:3px; padding:1px 6px; }}"


def severity_css(code: str) -> str:
    fill, text, _solid = SEVERITY[code]
    return chip_css(fill, text, bold=code == "kvm_inconsistent")

#: Table cell backgrounds; the text always says the same thing (colour-blind safe).
CELL_FILLS: dict[str, str] = {
    "bad": "#F4B6B0",
    "warn": "#FFD59A",
    "note": "#FFF1A8",
    "off": "#DCDCDC",
    "ok": "#CFECCF",
}
#: Text of a cell whose value KVM ignores (an xAPIC field of an x2APIC vCPU...).
IGNORED_TEXT = "#8A8A8A"
#: Text on a flagged (coloured) cell.
FLAGGED_TEXT = BLACK

#: Words in rich text (map caption, Compare and Explain docks, recalculation steps): lost, odd, fine.
DROPPED_TEXT = "#B00020"
WARN_TEXT = "#A15C00"
OK_TEXT = "#00704F"
#: Background of a row that changes under kernel B (Compare dock).
CHANGED_ROW = "#FFF3C4"
#: Badge of a map slot a PV IPI can reach.
PV_REACH = BLUE
#: Quiet hints under a legend or in an empty dock.
HINT_TEXT = "#555555"
#: The legend's frame on the map.
LEGEND_CSS = f"QFrame#legendBox {{ background: {WHITE}; border: 1px solid #808080; }}"
#: A "Go to APIC ID" field holding an ID that is no slot.
BAD_INPUT_CSS = f"QLineEdit {{ border: 2px solid {VERMILLION}; }}"
#: The status bar while it shows why an edit was refused.
REFUSAL_CSS = "QStatusBar { color: #8B0000; font-weight: bold; }"
#: The logical view's reason line when no logical table is drawn.
NOTE_CSS = "QLabel { color: #3A2E00; background: #FFF4CC; padding: 3px; }"

#: Map slot hatches over the fill: (Qt brush style name, colour).
HATCHES: dict[str, tuple[str, str]] = {
    "would": ("BDiagPattern", "#A8A8A8"),
    "aliased": ("FDiagPattern", "#E9A27A"),
    "conflict": ("DiagCrossPattern", VERMILLION),
    "beyond": ("FDiagPattern", "#9A9A9A"),
}
#: Overview (no text): stronger fills, as tints vanish in tiny cells.
OVERVIEW_FILLS: dict[str, str] = {
    "empty": "#F2F2F2", "direct": SKY, "hotplug": "#E3D334", "logical": PURPLE,
    "aliased": "#EE9A6A", "would": "#B4B4B4", "conflict": VERMILLION, "beyond": "#C8C8C8",
}


def rich(text: str, colour: str, bold: bool = True) -> str:
    """``text`` (already HTML) in ``colour`` for a rich-text label."""
    weight = ";font-weight:bold" if bold else ""
    return f"<span style='color:{colour}{weight}'>{text}</span>"


_cache: dict[str, QColor] = {}


def qcolor(name: str) -> QColor:
    """A cached QColor: painting thousands of slots must not parse colour names each time."""
    c = _cache.get(name)
    if c is None:
        c = _cache[name] = QColor(name)
    return c
