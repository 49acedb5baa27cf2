"""The map as ``kvm_recalculate_apic_map()`` has built it after a given step.

The recalculation's trace (:class:`~apicviz.model.apic_map.Step`) records
every write into ``phys_map`` and the logical table, and the step where KVM
gives the map up. Replaying those records up to step ``n`` gives the
half-built map the step-through shows; no kernel rule is decided here, the
writes are the recalculation's own.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from .apic_map import Step

#: Steps that write a phys_map slot (the vCPU in the step now holds it).
PHYS_WRITES = frozenset({"phys", "phys-overwrite"})
#: Steps after which there is no optimized map at all.
GIVE_UP = frozenset({"alias", "alloc"})


@dataclass(frozen=True)
class BuiltSoFar:
    """phys_map and the logical table after step ``upto`` (0-based) of ``total``."""

    upto: int
    total: int
    phys_map: dict[int, int] = field(default_factory=dict)
    slot_kind: dict[int, str] = field(default_factory=dict)
    logical: dict[int, int] = field(default_factory=dict)
    #: The step that made KVM give the map up (map NULL from then on), or None.
    gave_up: Step | None = None
    #: Logical slots written so far keep their vCPU, but the logical map is disabled from this step.
    logical_disabled: Step | None = None

    @property
    def complete(self) -> bool:
        return self.upto >= self.total - 1


def built_so_far(steps: list[Step], upto: int) -> BuiltSoFar:
    """Replay ``steps[0..upto]``: who holds each slot at that moment."""
    upto = max(-1, min(upto, len(steps) - 1))
    phys: dict[int, int] = {}
    kinds: dict[int, str] = {}
    logical: dict[int, int] = {}
    gave_up = disabled = None
    for step in steps[:upto + 1]:
        if step.action in PHYS_WRITES and step.slot is not None and step.vcpu >= 0:
            phys[step.slot] = step.vcpu
            kinds[step.slot] = step.kind
        elif step.action == "logical" and step.slot is not None:
            logical[step.slot] = step.vcpu
        elif step.action == "logical-disable":
            disabled = step
        elif step.action in GIVE_UP:
            gave_up = step
    return BuiltSoFar(upto, len(steps), phys, kinds, logical, gave_up, disabled)
