"""The per-vCPU severity rule as first written: one decision per vCPU, no set algebra.

``apicviz.model.severity.classify`` now works on whole sets of vCPUs so a
4096-vCPU sweep stays cheap; this plain loop is what it must still agree
with, finding for finding (tests/test_severity_sets.py).
"""
from __future__ import annotations

from apicviz.model.routing import Route, mda_for
from apicviz.model.scenario import APIC_BROADCAST, X2APIC_BROADCAST, Interrupt, KvmConfig, Vcpu
from apicviz.model.severity import (
    BROADCAST_QUIRK,
    DROPPED,
    EXTRA,
    FAST_PATH_DIFFERS,
    HOTPLUG_HACK,
    NO_8BIT_TRUNCATION,
    SLOW_PATH_ONLY,
    UNEXPLAINED,
)


def _own_broadcast(v: Vcpu, irq: Interrupt, dest: int, has_source: bool, kvm: KvmConfig) -> bool:
    if irq.shorthand != "none":
        return False
    return mda_for(v, dest, has_source, kvm) == (X2APIC_BROADCAST if v.x2apic_mode else APIC_BROADCAST)


def _rule(v: Vcpu, irq: Interrupt, dest: int, kvm_has: bool) -> str:
    plain_wide_xapic = irq.shorthand == "none" and not v.x2apic_mode and dest > 0xFF
    if kvm_has:
        return HOTPLUG_HACK if plain_wide_xapic and not irq.logical and dest == v.id else UNEXPLAINED
    return NO_8BIT_TRUNCATION if plain_wide_xapic else UNEXPLAINED


def reference_findings(route: Route, irq: Interrupt, vcpus: list[Vcpu], kvm: KvmConfig) -> list[tuple[int, str, str]]:
    """(vCPU index, kind, reason) for a fixed (not lowest-priority) route, in creation order."""
    dest, has_source = route.dest, route.source is not None
    targets, slow, hardware = set(route.targets), set(route.slow_path_targets), set(route.hardware_targets)
    out = []
    for i in sorted(targets | slow | hardware):
        k, s, h = i in targets, i in slow, i in hardware
        if k == s == h:
            continue
        v = vcpus[i]
        if k == s:
            out.append((i, EXTRA if k else DROPPED, _rule(v, irq, dest, k)))
        elif s == h:
            quirk = s and _own_broadcast(v, irq, dest, has_source, kvm)
            out.append((i, EXTRA if k else DROPPED, BROADCAST_QUIRK if quirk else FAST_PATH_DIFFERS))
        else:
            out.append((i, SLOW_PATH_ONLY, _rule(v, irq, dest, s)))
    return out
