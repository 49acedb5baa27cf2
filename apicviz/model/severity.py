"""How bad a disagreement is: a severity class and a reason code per vCPU.

A route has three answers — what KVM does (``targets``), what KVM's own slow
path alone would do (``slow_path_targets``) and what the architecture says
(``hardware_targets``). Every vCPU on which they differ becomes a
:class:`Finding` with one of three classes (docs/KVM-BEHAVIOUR.md, section 10):

* ``kvm_inconsistent`` (red) — KVM's fast path gives this vCPU a different
  answer than KVM's slow path, and the slow path is the one that matches
  hardware: the optimized map is wrong (the class of bugs Linux 6.3 fixed).
* ``kvm_by_design`` (amber) — KVM differs from hardware because of a
  documented choice, named by a reason code: ``hotplug_hack``,
  ``no_8bit_truncation`` or ``broadcast_quirk``.
* ``differs_from_hardware`` (orange) — any other difference from hardware.

A route (or sweep row) takes the worst class of its findings; ``agree`` when
it has none. The reason is decided per vCPU because one message can hit
several rules at once (an MSI to 0xffffffff drops x2APIC vCPUs through the
broadcast quirk and xAPIC vCPUs through the missing 8-bit truncation).
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

from .routing import LOWEST, Route, mda_for
from .scenario import APIC_BROADCAST, X2APIC_BROADCAST, Interrupt, KvmConfig, Vcpu

AGREE = "agree"
KVM_BY_DESIGN = "kvm_by_design"
DIFFERS_FROM_HARDWARE = "differs_from_hardware"
KVM_INCONSISTENT = "kvm_inconsistent"
#: Worst last: an unexplained difference from hardware outranks a documented one.
SEVERITY_ORDER = (AGREE, KVM_BY_DESIGN, DIFFERS_FROM_HARDWARE, KVM_INCONSISTENT)
SEVERITY_RANK = {code: rank for rank, code in enumerate(SEVERITY_ORDER)}
SEVERITY_TEXT = {
    AGREE: "no disagreement",
    KVM_BY_DESIGN: "KVM differs from hardware by design",
    DIFFERS_FROM_HARDWARE: "KVM differs from hardware",
    KVM_INCONSISTENT: "KVM inconsistent: the optimized map disagrees with KVM's own slow path",
}

# Reason codes. The by-design ones are the documented choices; the others say which rule is involved.
HOTPLUG_HACK = "hotplug_hack"
NO_8BIT_TRUNCATION = "no_8bit_truncation"
BROADCAST_QUIRK = "broadcast_quirk"
FAST_PATH_DIFFERS = "fast_path_differs"
LOWEST_BROADCAST_FIXED = "lowest_broadcast_fixed"
UNEXPLAINED = "unexplained"
PV_IPI_NO_MAP = "pv_ipi_no_map"
PV_IPI_UNSUPPORTED = "pv_ipi_unsupported"
BY_DESIGN_REASONS = (HOTPLUG_HACK, NO_8BIT_TRUNCATION, BROADCAST_QUIRK)
REASON_TEXT = {
    HOTPLUG_HACK: ("hotplug hack: KVM matches a destination above 0xff against the x2APIC ID of an xAPIC-mode "
                   "APIC (so hot-plugged vCPUs above 255 can be reached), which hardware never does"),
    NO_8BIT_TRUNCATION: ("no 8-bit truncation: an xAPIC-mode APIC on hardware sees only the low 8 bits of a "
                         "32-bit destination; KVM compares all 32 bits"),
    BROADCAST_QUIRK: ("broadcast quirk: KVM's fast path decides whether 0xff/0xffffffff is a broadcast from the "
                      "sender's mode (or, with the quirk disabled, the map's logical mode), not from each target's "
                      "mode as its slow path and hardware do"),
    FAST_PATH_DIFFERS: "the optimized map gives this vCPU a different answer than KVM's own slow path",
    LOWEST_BROADCAST_FIXED: ("physical lowest priority to 0xff: KVM's slow path turns it into a fixed broadcast, "
                             "also to software-disabled APICs, where hardware picks one eligible APIC"),
    UNEXPLAINED: "KVM's rules differ from the architecture here",
    PV_IPI_NO_MAP: ("PV IPI without a map: KVM_HC_SEND_IPI returns -EOPNOTSUPP and has no slow path to fall back "
                    "on, so the IPI is lost, while an ICR IPI to the same APIC ID would reach this vCPU"),
    PV_IPI_UNSUPPORTED: ("no KVM_HC_SEND_IPI before Linux 4.19: the hypercall delivers nothing (a Linux guest sees "
                         "no KVM_FEATURE_PV_SEND_IPI and writes its ICR instead)"),
}
#: A few words per reason, for chips, table cells and hover text.
REASON_NAME = {
    HOTPLUG_HACK: "hotplug hack", NO_8BIT_TRUNCATION: "no 8-bit truncation", BROADCAST_QUIRK: "broadcast quirk",
    FAST_PATH_DIFFERS: "map ≠ slow path", LOWEST_BROADCAST_FIXED: "lowest → fixed broadcast",
    UNEXPLAINED: "unexplained", PV_IPI_NO_MAP: "PV IPI: no map", PV_IPI_UNSUPPORTED: "no PV IPIs before 4.19",
}
#: The class in a few words.
SEVERITY_NAME = {
    AGREE: "agree", KVM_BY_DESIGN: "by design", DIFFERS_FROM_HARDWARE: "differs from hardware",
    KVM_INCONSISTENT: "KVM inconsistent",
}
REASON_SEVERITY = {
    HOTPLUG_HACK: KVM_BY_DESIGN, NO_8BIT_TRUNCATION: KVM_BY_DESIGN, BROADCAST_QUIRK: KVM_BY_DESIGN,
    FAST_PATH_DIFFERS: KVM_INCONSISTENT, LOWEST_BROADCAST_FIXED: DIFFERS_FROM_HARDWARE,
    UNEXPLAINED: DIFFERS_FROM_HARDWARE, PV_IPI_NO_MAP: KVM_INCONSISTENT, PV_IPI_UNSUPPORTED: DIFFERS_FROM_HARDWARE,
}

# What a finding is about.
DROPPED = "dropped"  # hardware delivers, KVM does not
EXTRA = "extra"  # KVM delivers, hardware does not
SLOW_PATH_ONLY = "slow_path_only"  # KVM delivers as hardware does; only its slow path would not


@dataclass(frozen=True)
class Finding:
    """One vCPU on which the answers differ (``vcpu`` is its index in creation order)."""

    vcpu: int
    kind: str
    reason: str

    @property
    def severity(self) -> str:
        return REASON_SEVERITY[self.reason]


@dataclass(frozen=True)
class Verdict:
    """The class of one route: the worst of its findings."""

    findings: tuple[Finding, ...] = ()

    @cached_property
    def severity(self) -> str:
        """Worked out once: a 4096-vCPU sweep asks each of its thousands of rows several times."""
        worst = AGREE
        for f in self.findings:
            if SEVERITY_RANK[f.severity] > SEVERITY_RANK[worst]:
                worst = f.severity
        return worst

    @property
    def reasons(self) -> list[str]:
        """Reason codes of the findings, worst class first, each once."""
        seen = sorted({f.reason for f in self.findings}, key=lambda r: (-SEVERITY_RANK[REASON_SEVERITY[r]], r))
        return seen

    def to_json(self, ids: list[int]) -> dict[str, object]:
        """``severity``, ``reasons`` and ``findings`` (vCPUs by id) for FORMAT.md's evaluation."""
        return {
            "severity": self.severity,
            "reasons": self.reasons,
            "findings": [{"vcpu": ids[f.vcpu], "kind": f.kind, "severity": f.severity, "reason": f.reason}
                         for f in self.findings],
        }


AGREED = Verdict()


def worst(codes: list[str]) -> str:
    """The worst of several severity codes (``agree`` for none)."""
    return max(codes, key=SEVERITY_RANK.__getitem__, default=AGREE)


def _slow_broadcast(v: Vcpu, irq: Interrupt, dest: int, has_source: bool, kvm: KvmConfig) -> bool:
    """The slow path delivers to ``v`` because the destination is ``v``'s own broadcast (section 5.1)."""
    if irq.shorthand != "none":
        return False
    return mda_for(v, dest, has_source, kvm) == (X2APIC_BROADCAST if v.x2apic_mode else APIC_BROADCAST)


def _hotplug_match(v: Vcpu, irq: Interrupt, dest: int) -> bool:
    """KVM matched xAPIC-mode ``v`` by its x2APIC ID because the destination is above 0xff."""
    return (irq.shorthand == "none" and not irq.logical and not v.x2apic_mode
            and dest > 0xFF and dest == v.id)


def _truncation_miss(v: Vcpu, irq: Interrupt, dest: int) -> bool:
    """Hardware matched xAPIC-mode ``v`` on the low 8 bits of a wider destination that KVM compares whole."""
    return irq.shorthand == "none" and not v.x2apic_mode and dest > 0xFF


def _shared_rule(v: Vcpu, irq: Interrupt, dest: int, kvm_has: bool, rewritten: bool) -> str:
    """Why KVM's rules (fast and slow path alike) differ from hardware for ``v``."""
    if kvm_has:
        if _hotplug_match(v, irq, dest):
            return HOTPLUG_HACK
        if rewritten and not v.sw_enabled:
            return LOWEST_BROADCAST_FIXED
        return UNEXPLAINED
    if _truncation_miss(v, irq, dest):
        return NO_8BIT_TRUNCATION
    return UNEXPLAINED


def classify(route: Route, irq: Interrupt, vcpus: list[Vcpu], kvm: KvmConfig) -> Verdict:
    """Findings of one route (see the module docstring and KVM-BEHAVIOUR.md section 10).

    Per vCPU, with K = KVM delivers, S = the slow path would, H = hardware:
    K == S != H is a difference in the rules both paths share (hotplug hack,
    no truncation, lowest-priority rewrite); K != S == H is the fast path's
    fault — the broadcast quirk when S comes from the vCPU's broadcast,
    otherwise the map; K == H != S is recorded as ``slow_path_only`` with the
    slow path's reason. Lowest priority compares eligibility, not the pick.
    """
    dest = route.dest
    has_source = route.source is not None
    fast = route.path == "fast"
    targets, slow = set(route.targets), set(route.slow_path_targets)
    findings: list[Finding] = []
    if irq.delivery == LOWEST:
        rewritten = route.delivery != LOWEST
        if route.dropped:  # nobody got it although someone was eligible
            if fast and slow:
                broadcast = all(_slow_broadcast(vcpus[s], irq, dest, has_source, kvm) for s in slow)
                reason = BROADCAST_QUIRK if broadcast else FAST_PATH_DIFFERS
                findings += [Finding(i, DROPPED, reason) for i in route.dropped]
            else:
                findings += [Finding(i, DROPPED, _shared_rule(vcpus[i], irq, dest, False, rewritten))
                             for i in route.dropped]
        for i in route.extra:
            if fast and i not in slow:
                findings.append(Finding(i, EXTRA, FAST_PATH_DIFFERS))
            else:
                findings.append(Finding(i, EXTRA, _shared_rule(vcpus[i], irq, dest, True, rewritten)))
        return Verdict(tuple(findings)) if findings else AGREED
    hardware = set(route.hardware_targets)
    candidates = targets | slow | hardware
    if len(candidates) == len(targets) and targets == slow == hardware:
        return AGREED
    for i in sorted(candidates):
        k, s, h = i in targets, i in slow, i in hardware
        if k == s == h:
            continue
        v = vcpus[i]
        if k == s:  # both KVM paths agree, hardware does not
            findings.append(Finding(i, EXTRA if k else DROPPED, _shared_rule(v, irq, dest, k, False)))
        elif s == h:  # the fast path is the odd one out
            reason = BROADCAST_QUIRK if s and _slow_broadcast(v, irq, dest, has_source, kvm) else FAST_PATH_DIFFERS
            findings.append(Finding(i, EXTRA if k else DROPPED, reason))
        else:  # k == h: KVM delivers as hardware does; only the slow path would not
            findings.append(Finding(i, SLOW_PATH_ONLY, _shared_rule(v, irq, dest, s, False)))
    return Verdict(tuple(findings)) if findings else AGREED


def group_findings(verdict: Verdict) -> dict[tuple[str, str], list[int]]:
    """(kind, reason) -> vCPU indexes, worst class first: one line each in readable output."""
    groups: dict[tuple[str, str], list[int]] = {}
    for f in sorted(verdict.findings, key=lambda f: -SEVERITY_RANK[f.severity]):
        groups.setdefault((f.kind, f.reason), []).append(f.vcpu)
    return groups


KIND_TEXT = {DROPPED: "dropped", EXTRA: "extra", SLOW_PATH_ONLY: "only KVM's slow path differs"}


def finding_text(kind: str, reason: str, who: str, count: int = 1) -> str:
    """'vCPUs 0x23, 0x24: dropped — no 8-bit truncation: …' for readable output."""
    return f"{'vCPU' if count == 1 else 'vCPUs'} {who}: {KIND_TEXT[kind]} — {REASON_TEXT[reason]}"
