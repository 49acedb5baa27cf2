"""The scenario shown on first start: a shipped example, small, and with something going wrong.

Four xAPIC vCPUs in flat logical mode, where the guest rewrote vCPU 3's
APIC_ID to 0x2 (aliased with vCPU 2), plus vCPU 0x123, an xAPIC vCPU above
0xff that the hotplug hack puts at phys_map[0x123]. On 6.1 the IPI to
APIC ID 0x2 reaches only vCPU 2 (vCPU 3 is DROPPED); from 6.3 the alias
makes the map NULL and the slow path delivers to both. The MSI names
vCPU 0x123 by its xAPIC ID 0x23: without 32-bit IDs an MSI has 8 bits.

It is File > Examples' first entry, read from package data like the others,
so the first start shows its title and lesson and Save asks for a name.
"""
from __future__ import annotations

from pathlib import Path

from ...model import Scenario, load_scenario
from ...resources import examples_dir

FIRST_START_EXAMPLE = "00-aliased-xapic-id-and-hotplug-6.1.apicviz.json"


def default_example_path() -> Path:
    return examples_dir() / FIRST_START_EXAMPLE


def default_scenario() -> Scenario:
    """A fresh, validated copy of the first-start example."""
    return load_scenario(default_example_path())
