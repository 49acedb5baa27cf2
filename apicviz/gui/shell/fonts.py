"""The shipped DejaVu fonts: registered at start so pictures look the same everywhere."""
from __future__ import annotations

import os

from ...resources import font_dir

FONT_DIR = font_dir()
FAMILY = "DejaVu Sans"
MONO_FAMILY = "DejaVu Sans Mono"


def prepare_environment() -> None:
    """Before QApplication: point Qt's font fallback at our fonts (a bare machine has none)."""
    os.environ.setdefault("QT_QPA_FONTDIR", str(FONT_DIR))


def register_fonts(point_size: float = 9.5) -> None:
    """After QApplication: add the shipped fonts and make DejaVu Sans the application font."""
    from PySide6.QtGui import QFont, QFontDatabase, QGuiApplication

    for path in sorted(FONT_DIR.glob("*.ttf")):
        QFontDatabase.addApplicationFont(str(path))
    font = QFont(FAMILY)
    font.setPointSizeF(point_size)
    QGuiApplication.setFont(font)
