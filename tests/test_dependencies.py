"""Every third-party package apicviz imports is declared in pyproject.toml, and every declared one is used.

A dependency nobody imports costs every user a download; an undeclared import
works in the developer's venv and breaks the installed wheel.
"""
from __future__ import annotations

import ast
import re
import sys
import tomllib
from importlib.metadata import packages_distributions
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "apicviz"
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))


def normalize(name: str) -> str:
    """PEP 503 names: PySide6_Essentials and pyside6-essentials are one distribution."""
    return re.sub(r"[-_.]+", "-", name).lower()


def requirement_name(requirement: str) -> str:
    match = re.match(r"[A-Za-z0-9][A-Za-z0-9._-]*", requirement)
    assert match, requirement
    return normalize(match.group(0))


#: Imported directly but part of a declared distribution: shiboken6 is PySide6's own binding
#: runtime, which PySide6-Essentials requires at its exact version.
PART_OF = {"shiboken6": "pyside6-essentials"}
DECLARED = sorted({requirement_name(r) for r in PYPROJECT["project"]["dependencies"]})


def imported_top_level_modules() -> dict[str, list[str]]:
    """Top-level module name -> the package files importing it (absolute imports only)."""
    found: dict[str, list[str]] = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in ast.walk(tree):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            for name in names:
                found.setdefault(name.split(".")[0], []).append(str(path.relative_to(ROOT)))
    return found


def imported_distributions() -> dict[str, list[str]]:
    """Distribution -> importing files, for every import that is neither stdlib nor apicviz."""
    owners = packages_distributions()
    out: dict[str, list[str]] = {}
    for module, files in imported_top_level_modules().items():
        if module in sys.stdlib_module_names or module == "apicviz" or module == "__future__":
            continue
        for dist in owners.get(module, [module]):
            name = normalize(dist)
            out.setdefault(PART_OF.get(name, name), []).extend(files)
    return out


def test_every_imported_package_is_declared():
    undeclared = {dist: files[:3] for dist, files in imported_distributions().items() if dist not in DECLARED}
    assert undeclared == {}, f"imported but not in [project] dependencies: {undeclared}"


@pytest.mark.parametrize("dist", DECLARED)
def test_every_declared_dependency_is_imported(dist):
    assert dist in imported_distributions(), f"{dist} is declared in pyproject.toml but apicviz never imports it"


def test_numpy_is_declared_only_if_imported_directly():
    """pyqtgraph needs numpy anyway; declaring it is a promise that our own code uses it."""
    assert ("numpy" in DECLARED) == ("numpy" in imported_distributions())
