"""Package data: examples, icon, desktop entry, fonts and their licence.

Read through :mod:`importlib.resources` so an installed wheel finds them
exactly as a checkout does. Qt needs real file names (fonts, icons), and a
wheel installs as plain files, so the traversables are used as paths.
"""
from __future__ import annotations

from importlib.resources import files
from pathlib import Path


def _root() -> Path:
    return Path(str(files(__name__)))


def examples_dir() -> Path:
    return _root() / "examples"


def example_files() -> list[Path]:
    """The shipped teaching scenarios, in their numbered order."""
    return sorted(examples_dir().glob("*.apicviz.json"))


def font_dir() -> Path:
    return _root() / "fonts"


def icon_file() -> Path:
    return _root() / "apicviz.svg"


def desktop_file() -> Path:
    return _root() / "apicviz.desktop"


def doc_file(name: str) -> Path:
    """docs/FORMAT.md and docs/KVM-BEHAVIOUR.md, shipped for Help (links in the checkout, files in a wheel)."""
    return _root() / "docs" / name
