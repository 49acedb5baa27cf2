"""Step-by-step, plain-words account of why each vCPU did or did not get a message.

The yes/no answers come from the routing functions themselves
(:func:`~apicviz.model.routing.kvm_apic_match_dest`, ``hardware_match``);
this module only puts the rule that decided into words a student follows.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .analysis import Evaluation
from .numbers import dfr_text, fmt_id, id_list
from .routing import Route, hardware_match, kvm_apic_match_dest, mda_for
from .scenario import APIC_BROADCAST, X2APIC_BROADCAST, Interrupt, KvmConfig, Vcpu
from .severity import (
    AGREE,
    AGREED,
    REASON_SEVERITY,
    SEVERITY_TEXT,
    Verdict,
    finding_text,
    group_findings,
    worst,
)

MAX_VCPU_LINES = 24


def names(ev: Evaluation, idxs: list[int]) -> str:
    """The vCPUs of ``idxs`` (creation-order indexes) by ID, for sentences: ``0x0, 0x1`` or "nobody"."""
    return id_list(ev.ids(idxs))


def describe_vcpu(v: Vcpu) -> str:
    if not v.present:
        return f"vCPU {fmt_id(v.id)} (hardware-disabled)"
    if v.x2apic_mode:
        return f"vCPU {fmt_id(v.id)} (x2APIC, LDR {fmt_id(v.x2apic_ldr)})"
    return (f"vCPU {fmt_id(v.id)} (xAPIC ID {fmt_id(v.xapic_id)}, logical {fmt_id(v.logical_id)} {v.dfr_model}"
            + ("" if v.sw_enabled else ", software-disabled") + ")")


def slow_rule(target: Vcpu, source: Vcpu | None, irq: Interrupt, dest: int, kvm: KvmConfig) -> str:
    """Which clause of kvm_apic_match_dest decides for ``target`` (the verdict comes from the function)."""
    matched = kvm_apic_match_dest(target, source, irq, dest, kvm)
    verdict = "matches" if matched else "does not match"
    if irq.shorthand != "none":
        return f"{verdict}: shorthand \"{irq.shorthand}\""
    mda = mda_for(target, dest, source is not None, kvm)
    x2 = target.x2apic_mode
    if mda == (X2APIC_BROADCAST if x2 else APIC_BROADCAST):
        extra = " (an MSI to 0xff counts as 0xffffffff for x2APIC targets: broadcast quirk)" if mda != dest else ""
        return f"{verdict}: {fmt_id(mda)} is its broadcast{extra}"
    if not irq.logical:
        if x2:
            return f"{verdict}: physical {fmt_id(mda)} against its x2APIC ID {fmt_id(target.id)}"
        if mda > 0xFF:
            return (f"{verdict}: physical {fmt_id(mda)} is above 0xff, so KVM compares it with the x2APIC ID "
                    f"{fmt_id(target.id)} even in xAPIC mode (hotplug hack)")
        return f"{verdict}: physical {fmt_id(mda)} against its xAPIC ID {fmt_id(target.xapic_id)}"
    if x2:
        return (f"{verdict}: logical cluster {fmt_id(mda >> 16)} bits {fmt_id(mda & 0xFFFF)} against its LDR "
                f"{fmt_id(target.x2apic_ldr)}")
    model = target.dfr_model
    if model == "flat":
        relation = "shares a bit with" if matched else "has no bit of"
        return f"{verdict}: flat logical {fmt_id(mda)} {relation} its logical ID {fmt_id(target.logical_id)}"
    if model == "cluster":
        return (f"{verdict}: cluster logical {fmt_id(mda)} (cluster {fmt_id(mda >> 4)}) against its logical ID "
                f"{fmt_id(target.logical_id)} (cluster {fmt_id(target.logical_id >> 4)})")
    return f"{verdict}: its DFR {dfr_text(target.dfr)} is neither flat nor cluster, which the slow path never matches"


# Kinds of explanation lines: views colour and style them by kind and severity, never by their words.
PATH, RULE, REFUSED, SLOT_LOST, SLOW_PATH, HARDWARE = "path", "rule", "refused", "slot_lost", "slow_path", "hardware"
DROPPED, EXTRA, SEVERITY, FINDING, BLANK, HEADING, VCPU, MORE = (
    "dropped", "extra", "severity", "finding", "blank", "heading", "vcpu", "more")


@dataclass(frozen=True)
class ExplainLine:
    """One line of an explanation, typed so a view can style it without reading it.

    ``vcpu`` is the vCPU index a per-vCPU line is about; ``severity`` the
    class code (apicviz.model.severity) of the disagreement the line reports;
    ``mark`` says what happens to that vCPU: ``"target"``, ``"dropped"``,
    ``"extra"`` or None.
    """

    kind: str
    text: str
    vcpu: int | None = None
    severity: str | None = None
    mark: str | None = None


def severity_lines(ev: Evaluation, verdict: Verdict) -> list[ExplainLine]:
    """'Severity: kvm_by_design (hotplug_hack) …' and one line per kind of finding and reason."""
    if not verdict.findings:
        return [ExplainLine(SEVERITY, "Severity: agree — KVM, its slow path and hardware give the same answer.",
                            severity=AGREE)]
    lines = [ExplainLine(SEVERITY, f"Severity: {verdict.severity} ({', '.join(verdict.reasons)}) — "
                                   f"{SEVERITY_TEXT[verdict.severity]}.", severity=verdict.severity)]
    for (kind, reason), idxs in group_findings(verdict).items():
        lines.append(ExplainLine(FINDING, f"  {finding_text(kind, reason, names(ev, idxs), len(idxs))} "
                                          f"[{REASON_SEVERITY[reason]}].", severity=REASON_SEVERITY[reason]))
    return lines


def explain_route(ev: Evaluation, n: int, brief: bool = False) -> list[str]:
    """The explanation of interrupt ``n`` as plain text lines (``apicviz eval``, reports)."""
    return [line.text for line in explain_lines(ev, n, brief)]


def explain_lines(ev: Evaluation, n: int, brief: bool = False) -> list[ExplainLine]:
    """Typed lines that explain interrupt ``n`` (see :func:`explain_message`)."""
    return explain_message(ev, ev.scenario.interrupts[n], ev.routes[n], brief)


def explain_message(ev: Evaluation, irq: Interrupt, r: Route, brief: bool = False) -> list[ExplainLine]:
    """Lines that explain one routed message: the path, the rule, and what hardware would do.

    ``brief`` gives the summary only; otherwise one line per vCPU follows
    (the involved ones first, at most :data:`MAX_VCPU_LINES`). The message
    need not be one of the scenario's interrupts (the sweep's destinations
    are explained the same way).
    """
    if r.pv_ipi_result is not None:
        from .pv_ipi_explain import explain_pv_ipi  # it builds on this module's helpers

        return explain_pv_ipi(ev, irq, r, brief)
    scenario = ev.scenario
    verdict = r.verdict or AGREED
    by_vcpu = {f.vcpu: f.severity for f in verdict.findings}
    lines: list[ExplainLine] = []

    def add(kind: str, text: str, **kw: Any) -> None:
        lines.append(ExplainLine(kind, text, **kw))

    # Two different things, kept apart in the words: KVM *sends* the message to its targets
    # (kvm_apic_set_irq), and each target's APIC *accepts* it or not (a software-disabled APIC discards
    # fixed and lowest-priority messages; without SMM no APIC accepts an SMI).
    accepted = set(r.accepted)
    refused = [i for i in r.targets if i not in accepted]
    takes = f" (accepted by {names(ev, [i for i in r.targets if i in accepted])})" if refused else ""
    if r.path == "fast":
        add(PATH, f"Fast path: {r.fast_note}. KVM sends it to {names(ev, r.targets)}{takes}.")
    else:
        add(PATH, f"Slow path: {r.fast_note}; KVM checks every vCPU with kvm_apic_match_dest() "
                  f"and sends it to {names(ev, r.targets)}{takes}.")
    if irq.delivery == "lowest" and r.path == "slow" and r.delivery == "lowest":
        rule = ("vector hashing picks candidate (vector mod number of software-enabled matches)"
                if scenario.kvm.vector_hashing else "the software-enabled match with the smallest arb_prio wins")
        add(RULE, f"Lowest priority on the slow path: {rule}.")
    if r.delivery != irq.delivery:
        add(RULE, "Physical lowest priority to 0xff is a broadcast: the slow path turns it into fixed delivery.")
    if refused and r.delivery == "smi":
        add(REFUSED, f"KVM was built without SMM support (CONFIG_KVM_SMM off, kvm.smm false): KVM sends the SMI "
                     f"to {names(ev, refused)}, but no APIC accepts it.")
    elif refused:
        add(REFUSED, f"Software-disabled: {names(ev, refused)}. KVM sends the {irq.delivery} message there too, "
                     f"but a software-disabled APIC discards it, so it is not accepted.")
    losers = ev.result.phys_losers
    for table, slot in r.slots:
        if table == "phys" and slot in losers:
            lost = [i for i in losers[slot] if ev.result.map and ev.result.map.phys_map.get(slot) != i]
            if lost:
                add(SLOT_LOST, f"Slot {fmt_id(slot)} can hold one vCPU: {names(ev, lost)} also wanted it and lost "
                               f"(before 6.3, or with 32-bit IDs, KVM keeps going instead of giving up the map).")
    if r.path == "fast" and r.slow_path_targets != r.targets:
        add(SLOW_PATH, f"The slow path alone would have chosen {names(ev, r.slow_path_targets)}.")
    add(HARDWARE, f"Hardware: {names(ev, r.hardware_targets)}"
                  + (" (the eligible APICs for lowest priority)." if irq.delivery == "lowest" else "."))
    if r.dropped:
        add(DROPPED, f"DROPPED: {names(ev, r.dropped)} should get it but do not.",
            severity=worst([by_vcpu.get(i, AGREE) for i in r.dropped]))
    if r.extra:
        add(EXTRA, f"Extra: {names(ev, r.extra)} get it although hardware would not deliver there.",
            severity=worst([by_vcpu.get(i, AGREE) for i in r.extra]))
    lines += severity_lines(ev, verdict)
    if brief:
        return lines
    add(BLANK, "")
    add(HEADING, "Each vCPU:")
    source = scenario.vcpus[r.source] if r.source is not None else None
    dest = r.dest
    involved = set(r.targets) | set(r.slow_path_targets) | set(r.hardware_targets)
    order = sorted(range(len(scenario.vcpus)), key=lambda i: (i not in involved, i))
    targets, dropped, extra = set(r.targets), set(r.dropped), set(r.extra)
    for idx in order[:MAX_VCPU_LINES]:
        v = scenario.vcpus[idx]
        if not v.present:
            add(VCPU, f"• {describe_vcpu(v)}: receives nothing (APIC hardware-disabled).", vcpu=idx)
            continue
        if idx not in targets:
            got = "is not sent it"
        elif idx in accepted:
            got = "is sent it and accepts it"
        elif r.delivery == "smi":
            got = "is sent it, but without SMM support its APIC does not accept an SMI"
        else:
            got = f"is sent it, but its software-disabled APIC discards a {irq.delivery} message (not accepted)"
        mark = "target" if idx in targets else None
        if idx in dropped:
            got, mark = "DROPPED — " + got, "dropped"
        elif idx in extra:
            got, mark = "EXTRA — " + got, "extra"
        hw = "would" if hardware_match(v, source, irq, dest, scenario.kvm) else "would not"
        add(VCPU, f"• {describe_vcpu(v)} {got}. Slow path {slow_rule(v, source, irq, dest, scenario.kvm)}. "
                  f"Hardware {hw} accept the address.", vcpu=idx, severity=by_vcpu.get(idx), mark=mark)
    if len(order) > MAX_VCPU_LINES:
        add(MORE, f"… {len(order) - MAX_VCPU_LINES} more vCPUs not involved.")
    return lines
