"""Which characters the window shows, and whether the shipped DejaVu fonts can draw them.

A machine with no fonts of its own draws a glyph the shipped fonts lack as
an empty box (the Start button's U+23EE did). The check asks the font files
themselves (QRawFont) about every character of the window's texts and of the
string literals in the GUI and the model (painters draw some glyphs that no
widget holds as text).
"""
from __future__ import annotations

import ast
from functools import lru_cache
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QRawFont
from PySide6.QtWidgets import QAbstractButton, QDockWidget, QLabel, QListWidget, QTabBar, QTableView, QWidget

from ...resources import font_dir

#: The faces text is drawn with (plain and bold); both must have every glyph.
FACES = ("DejaVuSans.ttf", "DejaVuSans-Bold.ttf")
#: Packages whose words end up in the window.
SHOWN_PACKAGES = ("gui", "model")
#: Not drawn: a byte-order mark only ever stripped from input.
NOT_DRAWN = frozenset("\ufeff")


@lru_cache(maxsize=1)
def _faces() -> tuple[QRawFont, ...]:
    return tuple(QRawFont(str(font_dir() / name), 12.0) for name in FACES)


def drawable(ch: str) -> bool:
    """The shipped faces have a glyph for ``ch`` (plain ASCII controls count as drawable)."""
    if ch in NOT_DRAWN or ord(ch) < 0x20:
        return True
    return all(face.supportsCharacter(ord(ch)) for face in _faces())


def missing_glyphs(texts) -> dict[str, str]:
    """Character -> a text it occurs in, for every character the shipped fonts cannot draw."""
    out: dict[str, str] = {}
    for text in texts:
        for ch in set(text):
            if ch not in out and not ch.isascii() and not drawable(ch):
                out[ch] = text[:80]
    return out


def source_texts() -> list[str]:
    """String literals of the GUI and the model that hold characters beyond ASCII."""
    root = Path(__file__).resolve().parents[2]
    out: list[str] = []
    for package in SHOWN_PACKAGES:
        for path in sorted((root / package).rglob("*.py")):
            out.extend(node.value for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
                       if isinstance(node, ast.Constant) and isinstance(node.value, str) and not node.value.isascii())
    return out


def gui_texts(window: QWidget) -> list[str]:
    """Every text the window shows now: labels, buttons, actions, titles, tabs, lists and table cells."""
    texts = [window.windowTitle()]
    for label in window.findChildren(QLabel):
        texts += [label.text(), label.toolTip()]
    for button in window.findChildren(QAbstractButton):
        texts += [button.text(), button.toolTip()]
    for action in window.findChildren(QAction):
        texts += [action.text(), action.toolTip(), action.statusTip()]
    for dock in window.findChildren(QDockWidget):
        texts.append(dock.windowTitle())
    for bar in window.findChildren(QTabBar):
        texts += [bar.tabText(i) for i in range(bar.count())]
    for widget in window.findChildren(QListWidget):
        texts += [widget.item(i).text() for i in range(min(widget.count(), 500))]
    for table in window.findChildren(QTableView):
        model = table.model()
        if model is None:
            continue
        for col in range(model.columnCount()):
            texts.append(str(model.headerData(col, Qt.Orientation.Horizontal) or ""))
            for row in range(min(model.rowCount(), 200)):
                value = model.index(row, col).data()
                texts.append("" if value is None else str(value))
    return [t for t in texts if t]
