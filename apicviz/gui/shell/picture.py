"""Pictures that reproduce themselves: PNGs carrying their scenario and the apicviz version.

Qt stores long text compressed (zTXt/iTXt) and :mod:`apicviz.model.png_text`
reads it back without Qt, so a screenshot attached to a bug report opens
as the exact scenario.
"""
from __future__ import annotations

import json
from typing import Any

from PySide6.QtCore import QBuffer, QByteArray, QIODevice
from PySide6.QtGui import QImage
from PySide6.QtWidgets import QWidget

from ... import __version__
from ...model.png_text import SCENARIO_KEY, VERSION_KEY
from ...model.safe_write import atomic_write
from ...model.scenario import Scenario
from ...model.scenario_file import scenario_to_dict

#: What real kernels said (the host check, another kernel): a JSON list, see apicviz.model.kernel_report.
KERNELS_KEY = "apicviz-kernel-checks"


def embed_scenario(image: QImage, scenario: Scenario, kernels: list[dict[str, Any]] | None = None) -> QImage:
    """Attach the scenario (compact JSON, one key without spaces), the version, and real kernels' verdicts."""
    image.setText(SCENARIO_KEY, json.dumps(scenario_to_dict(scenario), separators=(",", ":")))
    image.setText(VERSION_KEY, __version__)
    if kernels:
        image.setText(KERNELS_KEY, json.dumps(kernels, separators=(",", ":")))
    return image


def png_bytes(image: QImage) -> bytes:
    data = QByteArray()
    buffer = QBuffer(data)
    buffer.open(QIODevice.OpenModeFlag.WriteOnly)
    # PySide6's stub types the format as bytes, but the binding refuses bytes and takes a str.
    if not image.save(buffer, "PNG"):  # type: ignore[call-overload]
        raise OSError("Qt could not encode the PNG")
    buffer.close()
    return bytes(data.data())


def grab_widget(widget: QWidget) -> QImage:
    return widget.grab().toImage()


def save_picture(widget: QWidget, scenario: Scenario, path: str, replace_read_only: bool = False,
                 kernels: list[dict[str, Any]] | None = None) -> tuple[int, int]:
    """Grab ``widget``, embed the scenario (and what real kernels said), write the PNG atomically
    (model.safe_write rules); its size."""
    image = embed_scenario(grab_widget(widget), scenario, kernels)
    atomic_write(path, png_bytes(image), replace_read_only)
    return image.width(), image.height()
