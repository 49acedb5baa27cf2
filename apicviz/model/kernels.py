"""Kernel versions and the three behaviour ranges of KVM's APIC map.

One implementation of the map serves all kernels; a :class:`Behaviour` holds
the few switches that changed at 5.3 and 6.3 (KVM-BEHAVIOUR.md section 1).
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from .errors import ScenarioError, quote

#: Newest mainline release known to this program; anything above is upstream.
NEWEST_KNOWN = (6, 18)
OLDEST_SUPPORTED = (4, 11)
SUPPORTED_TEXT = "4.11 to upstream"


@dataclass(frozen=True)
class Behaviour:
    """Switches that distinguish the behaviour ranges."""

    name: str
    #: 5.3: software-disabled APICs are left out of the logical map.
    logical_skips_sw_disabled: bool
    #: 6.3: the hotplug hack needs 32-bit IDs; an aliased physical ID makes
    #: the map NULL; logical map is strict (multi-bit or aliased IDs disable
    #: it) and tracks a "sw_disabled" mode; the recalculation sets APICv
    #: inhibits.
    honors_aliasing: bool
    first: str
    last: str

    @property
    def kernels(self) -> str:
        return f"{self.first} to {self.last}"


B_4_11 = Behaviour("4.11-5.2", False, False, "4.11", "5.2")
B_5_3 = Behaviour("5.3-6.2", True, False, "5.3", "6.2")
B_6_3 = Behaviour("6.3+", True, True, "6.3", "upstream")
BEHAVIOURS = (B_4_11, B_5_3, B_6_3)

#: Kernel choices offered by the GUI: the boundaries of each range, common
#: distribution kernels, and upstream.
KERNEL_CHOICES = (
    "4.11", "4.14", "4.19", "5.2", "5.3", "5.4", "5.10", "5.15",
    "6.1", "6.2", "6.3", "6.6", "6.12", "upstream",
)

_VERSION = re.compile(r"^(\d{1,3})\.(\d{1,3})$")


def parse_kernel(text: object, field: str = "kvm.kernel") -> str:
    """Validate a ``kvm.kernel`` value and return it normalised ("6.01" -> "6.1")."""
    if not isinstance(text, str):
        raise ScenarioError(field, f'expected "MAJOR.MINOR" or "upstream", got {type(text).__name__}')
    value = text.strip()
    if value.lower() == "upstream":
        return "upstream"
    match = _VERSION.match(value)
    if not match:
        raise ScenarioError(
            field,
            f'{quote(text)} is not a kernel version; use "MAJOR.MINOR" (e.g. "6.1") or "upstream"; '
            f"supported: {SUPPORTED_TEXT}",
        )
    version = (int(match.group(1)), int(match.group(2)))
    if version < OLDEST_SUPPORTED:
        raise ScenarioError(
            field,
            f"{value} is older than 4.11, whose APIC map design is not modelled; supported: {SUPPORTED_TEXT}",
        )
    return f"{version[0]}.{version[1]}"


def kernel_at_least(kernel: str, version: tuple[int, int]) -> bool:
    """Whether a (validated) kernel string is ``version`` or newer; upstream is newer than all."""
    if kernel == "upstream":
        return True
    major, minor = (int(p) for p in kernel.split("."))
    return (major, minor) >= version


def behaviour_for(kernel: str) -> Behaviour:
    """Behaviour range of a (validated) kernel string."""
    if kernel == "upstream":
        return B_6_3
    major, minor = (int(p) for p in kernel.split("."))
    version = (major, minor)
    if version < (5, 3):
        return B_4_11
    if version < (6, 3):
        return B_5_3
    return B_6_3
