"""SVG export through pyqtgraph's ``SVGExporter``, tolerant of the closepath Qt writes.

pyqtgraph 0.14 re-reads the SVG that ``QSvgGenerator`` produces and expects
every token of a path's ``d`` attribute to be an ``x,y`` pair; recent Qt 6
releases end closed paths — such as the clip path of every ``ViewBox`` —
with ``Z``, and the export stops with "not enough values to unpack"
(pyqtgraph issue #3485). Around one export we drop those closepath tokens
before pyqtgraph reads the coordinates: every path Qt writes for a clip or a
rectangle already returns to its first point, so the drawing is unchanged.
"""
from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from pyqtgraph.exporters import SVGExporter


def _without_closepath(d: str) -> str:
    kept = (token.rstrip("Zz") for token in d.split())
    return " ".join(token for token in kept if token)


@contextmanager
def _closepath_tolerant() -> Iterator[None]:
    module: Any = sys.modules[SVGExporter.__module__]  # the module, not the class of the same name
    original: Callable[..., Any] = module.correctCoordinates

    def correct(node: Any, defs: Any, item: Any, options: Any) -> Any:
        for path in node.getElementsByTagName("path"):
            d = path.getAttribute("d")
            if "Z" in d or "z" in d:
                path.setAttribute("d", _without_closepath(d))
        return original(node, defs, item, options)

    module.correctCoordinates = correct
    try:
        yield
    finally:
        module.correctCoordinates = original


def export_svg(item: Any, path: str) -> None:
    """Write ``item`` (a pyqtgraph PlotItem or any graphics item) to ``path`` as SVG."""
    with _closepath_tolerant():
        SVGExporter(item).export(path)
