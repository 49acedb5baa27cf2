"""Importers: turn dumps from KVM and QEMU into scenarios (no Qt, no printing, no files).

Each importer returns an :class:`ImportResult` — a checked scenario and the
warnings worth reading — or raises :class:`~apicviz.model.ScenarioError`
naming the file and the line or byte at fault.
"""
from __future__ import annotations

from .common import ImportResult, parse_id_list, parse_mode_list
from .kvm_lapic_state import encode_lapic_page, import_lapic_sources, import_lapic_state
from .qemu_info_lapic import import_info_lapic

__all__ = [
    "ImportResult", "encode_lapic_page", "import_info_lapic", "import_lapic_sources", "import_lapic_state",
    "parse_id_list", "parse_mode_list",
]
