"""The scenario shown on first start: small, and with something going wrong.

Four xAPIC vCPUs in flat logical mode, where the guest rewrote vCPU 3's
APIC_ID to 0x2 (aliased with vCPU 2), plus vCPU 0x123, an xAPIC vCPU above
0xff that the hotplug hack puts at phys_map[0x123]. On 6.1 the IPI to
APIC ID 0x2 reaches only vCPU 2 (vCPU 3 is DROPPED); from 6.3 the alias
makes the map NULL and the slow path delivers to both. The MSI names
vCPU 0x123 by its xAPIC ID 0x23: without 32-bit IDs an MSI has 8 bits.
"""
from __future__ import annotations

from ...model import Scenario, scenario_from_dict

EXAMPLE = {
    "format": "apicviz-scenario",
    "version": 1,
    "title": "Aliased xAPIC IDs after a guest rewrote APIC_ID",
    "notes": (
        "vCPU 0x3 wrote 0x2 into its APIC_ID register, so vCPUs 0x2 and 0x3 both answer to xAPIC ID 0x2.\n"
        "Kernel 6.1 keeps the first one in phys_map[0x2]: the IPI to 0x2 never reaches vCPU 0x3 (dropped).\n"
        "Switch the kernel to 6.3 or upstream: the alias makes KVM drop the optimized map instead, "
        "and the slow path delivers to both.\n"
        "vCPU 0x123 is an xAPIC vCPU with an ID above 0xff: its xAPIC ID is 0x23, and the hotplug hack "
        "also puts it at phys_map[0x123]. Without 32-bit IDs an MSI names only 8 bits, so the MSI goes to "
        "its xAPIC ID 0x23."
    ),
    "kvm": {"kernel": "6.1"},
    "vcpus": [
        {"id": 0, "apic": "xapic", "logical_id": 0x01, "dfr": "flat"},
        {"id": 1, "apic": "xapic", "logical_id": 0x02, "dfr": "flat"},
        {"id": 2, "apic": "xapic", "logical_id": 0x04, "dfr": "flat"},
        {"id": 3, "apic": "xapic", "xapic_id": 0x2, "logical_id": 0x08, "dfr": "flat"},
        {"id": 0x123, "apic": "xapic", "logical_id": 0x10, "dfr": "flat"},
    ],
    "interrupts": [
        {"name": "IPI to aliased APIC ID 0x2", "source": 0, "dest_mode": "physical", "dest": 0x2,
         "delivery": "fixed", "vector": 0x30},
        {"name": "IPI to logical 0xf (vCPUs 0-3)", "source": 1, "dest_mode": "logical", "dest": 0x0F,
         "delivery": "fixed", "vector": 0x31},
        {"name": "MSI to 0x23 (xAPIC ID of vCPU 0x123)", "source": None, "dest_mode": "physical", "dest": 0x23,
         "delivery": "fixed", "vector": 0x32},
        {"name": "NMI to all but self", "source": 0, "shorthand": "all-but-self", "delivery": "nmi", "vector": 2},
    ],
}


def default_scenario() -> Scenario:
    """A fresh, validated copy of the built-in example."""
    return scenario_from_dict(EXAMPLE)
