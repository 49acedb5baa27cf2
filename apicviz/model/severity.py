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

from collections.abc import Collection
from dataclasses import dataclass

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


class Verdict:
    """The class of one route: the worst of its findings.

    A sweep of a big VM classifies thousands of routes with tens of findings
    each, and most callers only ask for the class and the reasons. So a
    verdict can be built from its groups ((kind, reason) -> vCPU indexes)
    and spells out one :class:`Finding` per vCPU only when asked.
    """

    __slots__ = ("_findings", "_groups", "_reasons", "_severity")

    def __init__(self, findings: tuple[Finding, ...] = (), *,
                 groups: dict[tuple[str, str], list[int]] | None = None) -> None:
        self._findings: tuple[Finding, ...] | None = None if groups is not None else tuple(findings)
        self._groups = groups
        self._severity: str | None = None
        self._reasons: list[str] | None = None

    def _entries(self) -> list[tuple[int, str, str]]:
        """(vCPU index, kind, reason) per finding, in creation order (each vCPU is in one group only)."""
        if self._groups is None:
            return [(f.vcpu, f.kind, f.reason) for f in self.findings]
        entries = [(i, kind, reason) for (kind, reason), idxs in self._groups.items() for i in idxs]
        if len(self._groups) > 1:
            entries.sort()
        return entries

    @property
    def findings(self) -> tuple[Finding, ...]:
        """One finding per vCPU, in creation order."""
        if self._findings is None:
            self._findings = tuple(Finding(i, kind, reason) for i, kind, reason in self._entries())
        return self._findings

    def _reason_codes(self) -> set[str]:
        if self._groups is not None:
            return {reason for (_kind, reason), idxs in self._groups.items() if idxs}
        return {f.reason for f in self.findings}

    @property
    def severity(self) -> str:
        """Worked out once: a 4096-vCPU sweep asks each of its thousands of rows several times."""
        if self._severity is None:
            worst_rank = 0
            for reason in self._reason_codes():
                worst_rank = max(worst_rank, SEVERITY_RANK[REASON_SEVERITY[reason]])
            self._severity = SEVERITY_ORDER[worst_rank]
        return self._severity

    @property
    def reasons(self) -> list[str]:
        """Reason codes of the findings, worst class first, each once."""
        if self._reasons is None:
            self._reasons = sorted(self._reason_codes(), key=lambda r: (-SEVERITY_RANK[REASON_SEVERITY[r]], r))
        return list(self._reasons)

    def groups(self) -> dict[tuple[str, str], list[int]]:
        """(kind, reason) -> vCPU indexes in creation order, worst class first, then by first vCPU."""
        if self._groups is not None:
            parts = [(key, idxs) for key, idxs in self._groups.items() if idxs]
        else:
            acc: dict[tuple[str, str], list[int]] = {}
            for f in self.findings:
                acc.setdefault((f.kind, f.reason), []).append(f.vcpu)
            parts = list(acc.items())
        parts.sort(key=lambda kv: (-SEVERITY_RANK[REASON_SEVERITY[kv[0][1]]], kv[1][0]))
        return dict(parts)

    def to_json(self, ids: list[int]) -> dict[str, object]:
        """``severity``, ``reasons`` and ``findings`` (vCPUs by id) for FORMAT.md's evaluation."""
        return {  # straight from the groups: no Finding objects on the way
            "severity": self.severity,
            "reasons": self.reasons,
            "findings": [{"vcpu": ids[i], "kind": kind, "severity": REASON_SEVERITY[reason], "reason": reason}
                         for i, kind, reason in self._entries()],
        }

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Verdict) and self.findings == other.findings

    def __hash__(self) -> int:
        return hash(self.findings)

    def __repr__(self) -> str:
        return f"Verdict({self.findings!r})"


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


def classify(route: Route, irq: Interrupt, vcpus: list[Vcpu], kvm: KvmConfig,
             xapic_mode: Collection[int] | None = None) -> Verdict:
    """Findings of one route (see the module docstring and KVM-BEHAVIOUR.md section 10).

    Per vCPU, with K = KVM delivers, S = the slow path would, H = hardware:
    K == S != H is a difference in the rules both paths share (hotplug hack,
    no truncation, lowest-priority rewrite); K != S == H is the fast path's
    fault — the broadcast quirk when S comes from the vCPU's broadcast,
    otherwise the map; K == H != S is recorded as ``slow_path_only`` with the
    slow path's reason. Lowest priority compares eligibility, not the pick.

    The six K/S/H patterns are taken as set differences, and the reasons,
    which depend on a vCPU's APIC mode alone, split them by the set of
    xAPIC-mode vCPUs (``xapic_mode``; the sweep passes it once for all its
    routes): a message that drops 500 vCPUs costs a few set operations.
    """
    dest = route.dest
    has_source = route.source is not None
    if irq.delivery == LOWEST:
        return _classify_lowest(route, irq, vcpus, kvm, dest, has_source)
    return classify_answers(route.targets, route.slow_path_targets, route.hardware_targets, irq, dest, has_source,
                            vcpus, kvm, xapic_mode)


def classify_answers(kvm_targets: list[int], slow_targets: list[int], hardware_targets: list[int],
                     irq: Interrupt, dest: int, has_source: bool, vcpus: list[Vcpu], kvm: KvmConfig,
                     xapic_mode: Collection[int] | None = None, map_fault: str = FAST_PATH_DIFFERS) -> Verdict:
    """:func:`classify` of a fixed (not lowest-priority) message from its three answers.

    ``map_fault``: the reason for a vCPU only the fast path gets wrong; a PV
    IPI names it by why its lookup failed (``pv_ipi_no_map``, ...).
    """
    if kvm_targets == slow_targets == hardware_targets:
        return AGREED
    targets, slow, hardware = set(kvm_targets), set(slow_targets), set(hardware_targets)
    groups: dict[tuple[str, str], list[int]] = {}
    plain = irq.shorthand == "none"
    wide = plain and dest > 0xFF  # an xAPIC-mode APIC's 8-bit view differs from KVM's 32-bit compare
    hotplug = wide and not irq.logical
    if kvm_targets == slow_targets:  # the usual case: both KVM paths agree, hardware differs
        _kvm_has(groups, EXTRA, targets - hardware, hotplug, dest, vcpus, xapic_mode)
        _kvm_lacks(groups, DROPPED, hardware - targets, wide, vcpus, xapic_mode)
        return Verdict(groups=groups) if groups else AGREED
    both = targets & slow
    _kvm_has(groups, EXTRA, both - hardware, hotplug, dest, vcpus, xapic_mode)  # K = S = 1, H = 0
    _kvm_lacks(groups, DROPPED, hardware - targets - slow, wide, vcpus, xapic_mode)  # K = S = 0, H = 1
    _put(groups, EXTRA, map_fault, targets - slow - hardware)  # only the fast path delivers
    missed = (slow & hardware) - targets  # only the fast path misses
    if missed:
        quirk: set[int] = set()
        if plain:  # the slow path took dest as the vCPU's own broadcast (section 5.1)
            xapic = _xapic_of(missed, vcpus, xapic_mode)
            if dest == APIC_BROADCAST:
                quirk |= xapic
            if dest == X2APIC_BROADCAST or (dest == APIC_BROADCAST and not has_source
                                            and not kvm.disable_broadcast_quirk):
                quirk |= missed - xapic
        _put(groups, DROPPED, BROADCAST_QUIRK, quirk)
        _put(groups, DROPPED, map_fault, missed - quirk)
    _kvm_lacks(groups, SLOW_PATH_ONLY, (targets & hardware) - slow, wide, vcpus, xapic_mode)  # K = H = 1, S = 0
    _kvm_has(groups, SLOW_PATH_ONLY, slow - targets - hardware, hotplug, dest, vcpus, xapic_mode)  # K = H = 0, S = 1
    return Verdict(groups=groups) if groups else AGREED


def _put(groups: dict[tuple[str, str], list[int]], kind: str, reason: str, idxs: set[int]) -> None:
    if idxs:
        groups[(kind, reason)] = sorted(idxs)


def _xapic_of(idxs: set[int], vcpus: list[Vcpu], xapic_mode: Collection[int] | None) -> set[int]:
    if xapic_mode is not None:
        return idxs.intersection(xapic_mode)
    return {i for i in idxs if not vcpus[i].x2apic_mode}


def _kvm_has(groups: dict[tuple[str, str], list[int]], kind: str, idxs: set[int], hotplug: bool, dest: int,
             vcpus: list[Vcpu], xapic_mode: Collection[int] | None) -> None:
    """KVM delivers, hardware does not: the hotplug hack (the xAPIC-mode vCPU whose ID is dest), else unexplained."""
    if not idxs:
        return
    hot = _xapic_of({i for i in idxs if vcpus[i].id == dest}, vcpus, xapic_mode) if hotplug else set()
    _put(groups, kind, HOTPLUG_HACK, hot)
    _put(groups, kind, UNEXPLAINED, idxs - hot if hot else idxs)


def _kvm_lacks(groups: dict[tuple[str, str], list[int]], kind: str, idxs: set[int], wide: bool,
               vcpus: list[Vcpu], xapic_mode: Collection[int] | None) -> None:
    """Hardware delivers, KVM does not: no 8-bit truncation for xAPIC-mode vCPUs, else unexplained."""
    if not idxs:
        return
    trunc = _xapic_of(idxs, vcpus, xapic_mode) if wide else set()
    _put(groups, kind, NO_8BIT_TRUNCATION, trunc)
    _put(groups, kind, UNEXPLAINED, idxs - trunc if trunc else idxs)


def _classify_lowest(route: Route, irq: Interrupt, vcpus: list[Vcpu], kvm: KvmConfig, dest: int,
                     has_source: bool) -> Verdict:
    """Lowest priority: the pick is the hardware's choice, so only nobody-got-it and extra targets count."""
    fast = route.path == "fast"
    slow = set(route.slow_path_targets)
    rewritten = route.delivery != LOWEST
    findings: list[Finding] = []
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


def group_findings(verdict: Verdict) -> dict[tuple[str, str], list[int]]:
    """(kind, reason) -> vCPU indexes, worst class first: one line each in readable output."""
    return verdict.groups()


KIND_TEXT = {DROPPED: "dropped", EXTRA: "extra", SLOW_PATH_ONLY: "only KVM's slow path differs"}


def finding_text(kind: str, reason: str, who: str, count: int = 1) -> str:
    """'vCPUs 0x23, 0x24: dropped — no 8-bit truncation: …' for readable output."""
    return f"{'vCPU' if count == 1 else 'vCPUs'} {who}: {KIND_TEXT[kind]} — {REASON_TEXT[reason]}"
