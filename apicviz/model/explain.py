"""Step-by-step, plain-words account of why each vCPU did or did not get a message."""
from __future__ import annotations

from .analysis import Evaluation
from .numbers import fmt_id


def _names(ev: Evaluation, idxs: list[int]) -> str:
    if not idxs:
        return "nobody"
    ids = ev.ids(idxs)
    shown = ", ".join(fmt_id(i) for i in ids[:12])
    return shown + (f" … ({len(ids)} vCPUs)" if len(ids) > 12 else "")


def explain_route(ev: Evaluation, n: int, brief: bool = False) -> list[str]:
    """Lines that explain interrupt ``n``: the path, the rule, and what hardware would do."""
    irq = ev.scenario.interrupts[n]
    r = ev.routes[n]
    lines = []
    if r.path == "fast":
        lines.append(f"Fast path: {r.fast_note}. KVM delivers to {_names(ev, r.targets)}.")
    else:
        lines.append(f"Slow path: {r.fast_note}; KVM checks every vCPU with kvm_apic_match_dest() "
                     f"and delivers to {_names(ev, r.targets)}.")
    if r.delivery != irq.delivery:
        lines.append("Physical lowest priority to 0xff is a broadcast: the slow path turns it into fixed delivery.")
    refused = [i for i in r.targets if i not in set(r.accepted)]
    if refused:
        lines.append(f"Software-disabled APIC(s) {_names(ev, refused)} discard the {irq.delivery} message.")
    if r.path == "fast" and r.slow_path_targets != r.targets:
        lines.append(f"The slow path alone would have chosen {_names(ev, r.slow_path_targets)}: "
                     f"KVM's optimized map disagrees with its own reference.")
    lines.append(f"Hardware: {_names(ev, r.hardware_targets)}"
                 + (" (the eligible APICs for lowest priority)." if irq.delivery == "lowest" else "."))
    if r.dropped:
        lines.append(f"DROPPED: {_names(ev, r.dropped)} should get it but do not.")
    if r.extra:
        lines.append(f"Extra: {_names(ev, r.extra)} get it although hardware would not deliver there.")
    return lines
