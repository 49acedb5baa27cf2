"""What a PV IPI did, in the guest's words: the hypercall's return value and what the guest sees.

Every sentence is built from fields of the evaluation (``pv_ipi_result``,
the map, ``alias_conflict``, ``phys_losers``, ``slot_kind``), never from the
model's prose, so the views and the CLI say the same thing. The lines are
typed like every explanation (:class:`~apicviz.model.explain.ExplainLine`).
"""
from __future__ import annotations

from .analysis import Evaluation
from .apic_map import KVMALLOC_MAX, SLOT_HOTPLUG, map_bytes
from .explain import (
    BLANK,
    DROPPED,
    EXTRA,
    HARDWARE,
    HEADING,
    MAX_VCPU_LINES,
    MORE,
    PATH,
    RULE,
    SLOT_LOST,
    SLOW_PATH,
    VCPU,
    ExplainLine,
    describe_vcpu,
    names,
    severity_lines,
)
from .numbers import fmt_id
from .pv_ipi import ABOVE_MAX_APIC_ID, DELIVERED, NO_MAP, PV_IPI_SINCE, UNSUPPORTED, icr_reference
from .routing import Route
from .scenario import Interrupt
from .severity import AGREE, AGREED, worst

WARNS = "a Linux guest logs 'failed to send PV IPI' once"
SILENT = "the guest sees no error"


def _lost(r: Route) -> str:
    """'this IPI is lost', or why losing it harms nobody."""
    if r.dropped:
        return "this IPI is lost"
    return f"no vCPU answers to APIC ID {fmt_id(r.dest)}, so nobody misses it"


def why_no_map(ev: Evaluation) -> str:
    """Why the map is NULL, from the recalculation's fields."""
    res = ev.result
    vcpus = ev.scenario.vcpus
    if res.alias_conflict is not None:
        slot, holder, newcomer = res.alias_conflict
        return (f"vCPUs {fmt_id(vcpus[holder].id)} and {fmt_id(vcpus[newcomer].id)} share APIC ID {fmt_id(slot)} "
                f"(from 6.3 an aliased APIC ID without 32-bit IDs makes KVM discard the map)")
    if ev.scenario.kvm.map_alloc_fails:
        return "its allocation failed (map_alloc_fails)"
    if map_bytes(res.max_apic_id) > KVMALLOC_MAX:
        return (f"max_apic_id {fmt_id(res.max_apic_id)} would need {map_bytes(res.max_apic_id):,} bytes, "
                f"more than kvmalloc allows")
    return "KVM installed none"


def outcome_line(ev: Evaluation, irq: Interrupt, r: Route) -> str:
    """The hypercall's result for one PV IPI in one sentence."""
    vcpus = ev.scenario.vcpus
    sender = fmt_id(vcpus[r.source].id) if r.source is not None else fmt_id(irq.source or 0)
    head = f"PV IPI (KVM_HC_SEND_IPI) from vCPU {sender} to APIC ID {fmt_id(r.dest)}: the hypercall "
    result = r.pv_ipi_result
    if result == UNSUPPORTED:
        return (head + f"does not exist on {ev.scenario.kvm.kernel} (added in {PV_IPI_SINCE[0]}.{PV_IPI_SINCE[1]}) "
                "and returns -KVM_ENOSYS, delivering nothing; a Linux guest sees no KVM_FEATURE_PV_SEND_IPI "
                "and writes its ICR instead.")
    if result == NO_MAP:
        return head + f"returned -EOPNOTSUPP because the map is NULL since {why_no_map(ev)}; {WARNS} and {_lost(r)}."
    amap = ev.result.map
    assert amap is not None  # "delivered" and "above_max_apic_id" both read the map
    if result == ABOVE_MAX_APIC_ID:
        return (head + f"returned 0: APIC ID {fmt_id(r.dest)} is above max_apic_id {fmt_id(amap.max_apic_id)}, "
                f"so KVM delivers nothing; {SILENT} and {_lost(r)}.")
    if not r.targets:
        return (head + f"returned 0: phys_map[{fmt_id(r.dest)}] is empty and KVM skips it silently; "
                f"{SILENT} and {_lost(r)}.")
    holder = vcpus[r.targets[0]]
    how = (" (the hotplug hack entered this xAPIC-mode vCPU at its x2APIC ID)"
           if amap.slot_kind.get(r.dest) == SLOT_HOTPLUG else "")
    taken = (f"; vCPU {fmt_id(holder.id)} is software-disabled and discards the fixed IPI"
             if not r.accepted else "")
    return (head + f"returned {len(r.accepted)}: phys_map[{fmt_id(r.dest)}] holds vCPU {fmt_id(holder.id)}{how}, "
            f"which gets it{taken}.")


def losers_line(ev: Evaluation, r: Route) -> str | None:
    """vCPUs that also answer to this APIC ID but lost its slot (first writer wins)."""
    amap = ev.result.map
    if amap is None or r.pv_ipi_result != DELIVERED:
        return None
    lost = [i for i in ev.result.phys_losers.get(r.dest, []) if amap.phys_map.get(r.dest) != i]
    if not lost:
        return None
    return (f"{names(ev, lost)} also answer(s) to APIC ID {fmt_id(r.dest)} but lost slot {fmt_id(r.dest)} "
            f"(before 6.3, or with 32-bit IDs, the first vCPU created keeps it): a PV IPI never reaches "
            f"{'it' if len(lost) == 1 else 'them'}, and the hypercall reports no error.")


def explain_pv_ipi(ev: Evaluation, irq: Interrupt, r: Route, brief: bool = False) -> list[ExplainLine]:
    """Typed lines that explain one PV IPI (what ``explain_message`` gives for one)."""
    verdict = r.verdict or AGREED
    by_vcpu = {f.vcpu: f.severity for f in verdict.findings}
    lines = [ExplainLine(PATH, outcome_line(ev, irq, r), severity=verdict.severity if r.dropped else None)]
    loser = losers_line(ev, r)
    if loser:
        lines.append(ExplainLine(SLOT_LOST, loser))
    lines.append(ExplainLine(RULE, "KVM serves PV IPIs from the optimized map alone: there is no slow path to "
                                   "fall back on."))
    reference = icr_reference(ev.router, r, irq)
    if reference != r.targets:
        lines.append(ExplainLine(SLOW_PATH, f"An ICR IPI to APIC ID {fmt_id(r.dest)} would reach "
                                            f"{names(ev, reference)} in KVM."))
    lines.append(ExplainLine(HARDWARE, f"Hardware (a physical IPI to APIC ID {fmt_id(r.dest)}): "
                                       f"{names(ev, r.hardware_targets)}."))
    if r.dropped:
        lines.append(ExplainLine(DROPPED, f"DROPPED: {names(ev, r.dropped)} should get it but do not.",
                                 severity=worst([by_vcpu.get(i, AGREE) for i in r.dropped])))
    if r.extra:
        lines.append(ExplainLine(EXTRA, f"Extra: {names(ev, r.extra)} get it although hardware would not deliver "
                                        f"there.", severity=worst([by_vcpu.get(i, AGREE) for i in r.extra])))
    lines += severity_lines(ev, verdict)
    if brief:
        return lines
    lines += [ExplainLine(BLANK, ""), ExplainLine(HEADING, "Each vCPU:")]
    vcpus = ev.scenario.vcpus
    involved = set(r.targets) | set(r.hardware_targets) | set(reference)
    order = sorted(range(len(vcpus)), key=lambda i: (i not in involved, i))
    targets, hardware, dropped, extra = set(r.targets), set(r.hardware_targets), set(r.dropped), set(r.extra)
    amap = ev.result.map
    slots_of: dict[int, list[int]] = {}
    if amap is not None:
        shown = set(order[:MAX_VCPU_LINES])
        for slot, idx in sorted(amap.phys_map.items()):
            if idx in shown:
                slots_of.setdefault(idx, []).append(slot)
    for idx in order[:MAX_VCPU_LINES]:
        v = vcpus[idx]
        if not v.present:
            lines.append(ExplainLine(VCPU, f"• {describe_vcpu(v)}: receives nothing (APIC hardware-disabled).",
                                     vcpu=idx))
            continue
        got, mark = ("gets it", "target") if idx in targets else ("does not get it", None)
        if idx in dropped:
            got, mark = "DROPPED — " + got, "dropped"
        elif idx in extra:
            got, mark = "EXTRA — " + got, "extra"
        slots = slots_of.get(idx, [])[:4]
        where = (f"in phys_map at {', '.join(fmt_id(s) for s in slots)}" if slots
                 else "in no phys_map slot" if amap is not None else "in no map (there is none)")
        hw = "would" if idx in hardware else "would not"
        lines.append(ExplainLine(VCPU, f"• {describe_vcpu(v)} {got}: it is {where}. Hardware {hw} accept APIC ID "
                                       f"{fmt_id(r.dest)}.", vcpu=idx, severity=by_vcpu.get(idx), mark=mark))
    if len(order) > MAX_VCPU_LINES:
        lines.append(ExplainLine(MORE, f"… {len(order) - MAX_VCPU_LINES} more vCPUs not involved."))
    return lines
