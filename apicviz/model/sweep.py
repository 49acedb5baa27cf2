"""Every destination of a VM, routed: where fast path, slow path and hardware disagree.

A user types a handful of interrupts; a VM has thousands of possible
destinations. The sweep routes each physical destination
0..max(0xff, largest ID) and broadcast, and each logical destination that
can reach someone, as an MSI and as an IPI from each APIC mode present,
with fixed delivery. Only messages someone can send are routed
(KVM-BEHAVIOUR.md 9.1): an xAPIC-mode sender's ICR and, without
``use_32bit_ids``, an MSI have 8 destination bits, so destinations above 0xff
come from x2APIC-mode senders (and 32-bit MSIs) alone. PV IPIs
(``KVM_HC_SEND_IPI``) to every physical destination, from one vCPU of each
mode, are rows of their own (``kind`` "pv_ipi").

Destinations above 0xff that no vCPU, map slot or boundary names behave
alike within their residue mod 256 (only xAPIC-mode APICs, which see the low
8 bits, can tell them apart), so each such class is routed once, for its
smallest member, and reported with its size. That keeps a vCPU ID near 2^32
as cheap as ID 300.

Destinations above max(0xff, largest ID) are outside the sweep by
definition: KVM drops them (above max_apic_id) and only an xAPIC APIC's
8-bit view would accept them; typed as an interrupt they are still routed
and reported.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .analysis import Evaluation
from .numbers import fmt_id, id_list
from .pv_ipi import PATH_PV_IPI, as_icr, classify_pv_ipi, pv_ipi_supported, pv_lookup, route_pv_ipi
from .routing import Route
from .scenario import APIC_BROADCAST, VIA_PV_IPI, X2APIC_BROADCAST, Interrupt
from .severity import AGREED, SEVERITY_ORDER, Verdict, classify, finding_text, group_findings, worst

MSI, IPI_XAPIC, IPI_X2APIC = "msi", "ipi-xapic", "ipi-x2apic"
PV_XAPIC, PV_X2APIC = "pv-ipi-xapic", "pv-ipi-x2apic"
SENDER_TEXT = {MSI: "MSI", IPI_XAPIC: "IPI from an xAPIC vCPU", IPI_X2APIC: "IPI from an x2APIC vCPU",
               PV_XAPIC: "PV IPI from an xAPIC vCPU", PV_X2APIC: "PV IPI from an x2APIC vCPU"}
#: Row kinds: a message written to the ICR (or an MSI), or a KVM_HC_SEND_IPI hypercall.
KIND_ICR, KIND_PV_IPI = "icr", "pv_ipi"


@dataclass(slots=True)
class SweepRow:
    """One destination (or class of destinations) where the answers differ."""

    dest_mode: str
    senders: tuple[str, ...]
    dest: int
    route: Route
    count: int = 1
    #: For a class: the residue mod 256 its members share.
    residue: int | None = None

    @property
    def kind(self) -> str:
        """``pv_ipi`` for a PV IPI row (no slow path), else ``icr``."""
        return KIND_PV_IPI if self.route.path == PATH_PV_IPI else KIND_ICR

    @property
    def fast_vs_slow(self) -> bool:
        return self.kind == KIND_ICR and self.route.targets != self.route.slow_path_targets

    @property
    def kvm_vs_hardware(self) -> bool:
        return bool(self.route.dropped or self.route.extra)

    @property
    def verdict(self) -> Verdict:
        return self.route.verdict or AGREED

    @property
    def severity(self) -> str:
        return self.verdict.severity

    def dest_text(self) -> str:
        if self.count == 1:
            return f"{self.dest_mode} {fmt_id(self.dest)}"
        return (f"{self.dest_mode} {fmt_id(self.dest)} and {self.count - 1} more "
                f"(every ID ≡ {fmt_id(self.residue or 0)} mod 0x100 above 0xff that no vCPU holds)")

    def describe(self, ev: Evaluation) -> str:
        r = self.route
        senders = "/".join(SENDER_TEXT[s] for s in self.senders)
        how = f"PV IPI ({r.pv_ipi_result})" if self.kind == KIND_PV_IPI else f"{r.path} path"
        parts = [f"[{self.severity}] {self.dest_text()} ({senders}): KVM {how} → {_ids(ev, r.targets)}"]
        if self.fast_vs_slow:
            parts.append(f"slow path → {_ids(ev, r.slow_path_targets)}")
        parts.append(f"hardware → {_ids(ev, r.hardware_targets)}")
        if r.dropped:
            parts.append(f"DROPPED {_ids(ev, r.dropped)}")
        if r.extra:
            parts.append(f"extra {_ids(ev, r.extra)}")
        if self.verdict.reasons:
            parts.append("why: " + ", ".join(self.verdict.reasons))
        return "; ".join(parts)

    def finding_lines(self, ev: Evaluation) -> list[str]:
        """One line per kind of finding and reason, for readable output."""
        return [finding_text(kind, reason, _ids(ev, idxs), len(idxs))
                for (kind, reason), idxs in group_findings(self.verdict).items()]


#: IDs a sweep line lists before it counts the rest.
LINE_IDS = 8


def _ids(ev: Evaluation, idxs: list[int]) -> str:
    return f"[{id_list(ev.ids(idxs), LINE_IDS)}]" if idxs else "nobody"


@dataclass
class SweepResult:
    rows: list[SweepRow] = field(default_factory=list)
    checked: int = 0  # destinations covered, classes counted with their size
    #: Every destination routed, with its senders (those without a row agree): the heat map's columns.
    destinations: list[SweepDest] = field(default_factory=list)
    #: (number of rows, class counts, reason codes) worked out once: a 4096-vCPU sweep has thousands of
    #: rows, and the window asks for these several times when a sweep lands.
    _tally: tuple[int, dict[str, int], list[str]] | None = field(default=None, repr=False, compare=False)

    def _counted(self) -> tuple[dict[str, int], list[str]]:
        if self._tally is None or self._tally[0] != len(self.rows):
            counts = dict.fromkeys(SEVERITY_ORDER, 0)
            reasons: list[str] = []
            seen: set[str] = set()
            for r in self.rows:
                verdict = r.verdict
                counts[verdict.severity] += 1
                for x in verdict.reasons:
                    if x not in seen:
                        seen.add(x)
                        reasons.append(x)
            self._tally = (len(self.rows), counts, reasons)
        return self._tally[1], self._tally[2]

    @property
    def dropped_deliveries(self) -> int:
        return sum(len(r.route.dropped) * r.count * len(r.senders) for r in self.rows)

    @property
    def fast_slow_disagreements(self) -> int:
        return sum(r.count * len(r.senders) for r in self.rows if r.fast_vs_slow)

    def by_severity(self) -> dict[str, int]:
        """Number of rows of each class (every class present as a key)."""
        return dict(self._counted()[0])

    def reasons(self) -> list[str]:
        """Reason codes of every row's findings, in row order, each once."""
        return list(self._counted()[1])

    @property
    def severity(self) -> str:
        return worst([c for c, n in self._counted()[0].items() if n])

    def summary(self, ev: Evaluation) -> str:
        counts = self.by_severity()
        classes = ", ".join(f"{counts[c]} {c}" for c in reversed(SEVERITY_ORDER[1:]) if counts[c])
        return (f"sweep: {self.checked:,} destinations × senders checked (fixed delivery); "
                f"{len(self.rows)} where KVM and hardware or fast and slow path disagree"
                + (f" ({classes})" if classes else "") + f"; {self.dropped_deliveries:,} dropped deliveries")

    def to_json(self, ev: Evaluation) -> dict[str, Any]:
        vcpu_ids = [v.id for v in ev.scenario.vcpus]

        def ids(idxs: list[int]) -> list[int]:
            return [vcpu_ids[i] for i in idxs] if idxs else []

        rows = []
        for r in self.rows:
            route = r.route
            row: dict[str, Any] = {
                "kind": r.kind, "dest_mode": r.dest_mode, "senders": list(r.senders), "dest": r.dest,
                "count": r.count, "residue": r.residue, "path": route.path,
            }
            if route.path == PATH_PV_IPI:
                row["pv_ipi_result"] = route.pv_ipi_result
            row["targets"] = ids(route.targets)
            row["slow_path_targets"] = ids(route.slow_path_targets)
            row["hardware_targets"] = ids(route.hardware_targets)
            row["dropped"] = ids(route.dropped)
            row["extra"] = ids(route.extra)
            row["fast_vs_slow"] = r.fast_vs_slow
            row["kvm_vs_hardware"] = r.kvm_vs_hardware
            row.update(r.verdict.to_json(vcpu_ids))
            rows.append(row)
        return {
            "delivery": "fixed",
            "checked": self.checked,
            "dropped_deliveries": self.dropped_deliveries,
            "severity": self.severity,
            "by_severity": self.by_severity(),
            "rows": rows,
        }


@dataclass(slots=True)
class SweepDest:
    """One destination (or class of destinations) the sweep sends, and who can send it.

    Not frozen (never changed after the sweep makes it, though): a 4096-vCPU sweep makes
    tens of thousands, and a frozen dataclass costs three times as much to build.

    ``each_sender``: broadcast values, whose meaning depends on the sender, are
    routed once per sender; any other destination once for its whole group.
    """

    dest_mode: str
    dest: int
    senders: tuple[str, ...]
    count: int = 1
    residue: int | None = None
    each_sender: bool = False


def sweep_senders(ev: Evaluation) -> dict[str, int | None]:
    """Sender kind -> vCPU index (None for an MSI): the first present vCPU of each mode."""
    router = ev.router
    senders: dict[str, int | None] = {MSI: None}
    if router.xapic_present:
        senders[IPI_XAPIC] = router.xapic_present[0]
    if router.x2_present:
        senders[IPI_X2APIC] = router.x2_present[0]
    return senders


def sweep_destinations(ev: Evaluation) -> list[SweepDest]:
    """Every destination of the sweep, in order; the host check sends exactly these."""
    router = ev.router
    vcpus = ev.scenario.vcpus
    out: list[SweepDest] = []
    if not router.present:
        return out
    senders = sweep_senders(ev)
    # Senders with a 32-bit destination: an x2APIC ICR, an MSI only with KVM_X2APIC_API_USE_32BIT_IDS.
    wide = tuple(s for s in senders if s == IPI_X2APIC or (s == MSI and ev.scenario.kvm.use_32bit_ids))
    top = max([0xFF, *(vcpus[i].id for i in router.present)])
    specials = (APIC_BROADCAST, X2APIC_BROADCAST)

    def add(dest_mode: str, dest: int, group: tuple[str, ...]) -> None:
        if group:  # else nobody can send this destination
            out.append(SweepDest(dest_mode, dest, group, each_sender=dest in specials))

    # Physical destinations.
    named = _named_physical(ev, top)
    amap = ev.result.map
    for dest in sorted(named):
        add("physical", dest, tuple(senders) if dest <= 0xFF else wide)
    add("physical", X2APIC_BROADCAST, wide)
    # Classes of unnamed destinations above 0xff, one per residue mod 256.
    if wide:
        for residue, first, size in _classes(named, top):
            out.append(SweepDest("physical", first, wide, count=size, residue=residue))

    # Logical destinations: every 8-bit value, and each x2APIC cluster's bits.
    for dest in range(1, 0x100):
        add("logical", dest, tuple(senders))
    clusters = {vcpus[i].x2apic_ldr >> 16 for i in router.x2_present}
    if amap is not None and amap.logical_mode == "x2apic":
        clusters.update(k >> 4 for k in amap.phys_map)
    for cluster in sorted(clusters):
        base = cluster << 16
        for dest in [base | (1 << b) for b in range(16)] + [base | 0xFFFF]:
            if 0xFF < dest < X2APIC_BROADCAST:  # cluster 0xffff's all-bits value is the broadcast, added below
                add("logical", dest, wide)
    add("logical", X2APIC_BROADCAST, wide)
    return out


class SweepCancelled(Exception):
    """The sweep was stopped by its ``cancelled`` callable (a newer edit made it stale)."""


#: Destinations routed between two looks at ``cancelled``: well under a millisecond of work.
CANCEL_CHECK_EVERY = 256


def sweep(ev: Evaluation, cancelled: Callable[[], bool] | None = None) -> SweepResult:
    """Route every destination of the VM; keep those where the answers differ.

    ``cancelled`` (optional) is asked every :data:`CANCEL_CHECK_EVERY`
    destinations; when it says yes the sweep stops with :class:`SweepCancelled`.
    A worker thread sweeping a stale evaluation thus gives the interpreter back
    to the window within a millisecond instead of finishing unobserved.
    """
    router = ev.router
    vcpus = ev.scenario.vcpus
    out = SweepResult()
    senders = sweep_senders(ev)
    kvm = ev.scenario.kvm
    irqs = {mode: Interrupt(dest_mode=mode, delivery="fixed") for mode in ("physical", "logical")}

    xapic_mode = router.xapic_mode_set

    def check(irq: Interrupt, dest: int, source: int | None) -> Route | None:
        r = router.route_if_disagreeing(irq, dest, source)
        if r is not None:
            r.verdict = classify(r, irq, vcpus, kvm, xapic_mode)
        return r

    out.destinations = sweep_destinations(ev)
    for n, d in enumerate(out.destinations):
        if cancelled is not None and n % CANCEL_CHECK_EVERY == 0 and cancelled():
            raise SweepCancelled
        irq = irqs[d.dest_mode]
        if d.each_sender:
            for s in d.senders:
                r = check(irq, d.dest, senders[s])
                out.checked += 1
                if r is not None:
                    out.rows.append(SweepRow(d.dest_mode, (s,), d.dest, r))
            continue
        r = check(irq, d.dest, senders[d.senders[0]])
        out.checked += d.count * len(d.senders)
        if r is not None:
            out.rows.append(SweepRow(d.dest_mode, d.senders, d.dest, r, count=d.count, residue=d.residue))
    pv = pv_sweep_destinations(ev)
    _sweep_pv_ipis(ev, pv, out, cancelled)
    out.destinations += pv
    return out


def _named_physical(ev: Evaluation, top: int) -> set[int]:
    """Physical destinations routed one by one: 0..0xff, every vCPU ID and map slot, the map's end."""
    router = ev.router
    named = set(range(0x100))
    named.update(router.vcpus[i].id for i in router.present)
    amap = ev.result.map
    if amap is not None:
        named.update(k for k in amap.phys_map if k <= top)
        if amap.max_apic_id + 1 <= top:
            named.add(amap.max_apic_id + 1)
    return named


def pv_sweep_senders(ev: Evaluation) -> dict[str, int]:
    """PV IPI sender kind -> vCPU index: the first present vCPU of each mode (none before 4.19)."""
    router = ev.router
    senders: dict[str, int] = {}
    if pv_ipi_supported(ev.scenario.kvm.kernel):
        if router.xapic_present:
            senders[PV_XAPIC] = router.xapic_present[0]
        if router.x2_present:
            senders[PV_X2APIC] = router.x2_present[0]
    return senders


def pv_sweep_destinations(ev: Evaluation) -> list[SweepDest]:
    """A PV IPI to every physical destination, from one vCPU of each mode (KVM-BEHAVIOUR.md 9.2).

    Its outcome depends on the APIC ID alone (one phys_map lookup, and the
    hardware reference of a physical IPI is the same from either mode), so
    one route serves every sender. A guest's bitmap names the APIC IDs of
    its CPUs: 0xffffffff is nobody's, and 0xff (the xAPIC broadcast) only an
    x2APIC-mode CPU's, so 0xff is swept only when an x2APIC vCPU has it.
    Before 4.19 no guest sends PV IPIs at all.
    """
    router = ev.router
    group = tuple(pv_sweep_senders(ev))
    if not group:
        return []
    top = max([0xFF, *(router.vcpus[i].id for i in router.present)])
    named = _named_physical(ev, top)
    if APIC_BROADCAST not in router.x2_by_id:
        named.discard(APIC_BROADCAST)
    out = [SweepDest("physical", dest, group) for dest in sorted(named)]
    out += [SweepDest("physical", first, group, count=size, residue=residue)
            for residue, first, size in _classes(named, top)]
    return out


def _pv_irq(ev: Evaluation, source: int, name: str = "") -> Interrupt:
    return Interrupt(name=name, dest_mode="physical", delivery="fixed", source=ev.router.vcpus[source].id,
                     via=VIA_PV_IPI)


def _sweep_pv_ipis(ev: Evaluation, dests: list[SweepDest], out: SweepResult,
                   cancelled: Callable[[], bool] | None = None) -> None:
    """Route the PV IPI destinations; keep those where KVM and hardware disagree.

    The lookup and the hardware answer are worked out once per destination and
    handed on to the route, and the ICR reference message is made once.
    """
    if not dests:
        return
    router = ev.router
    senders = pv_sweep_senders(ev)
    source = senders[dests[0].senders[0]]
    irq = _pv_irq(ev, source)
    icr = as_icr(irq)
    matches = router.matches
    for n, d in enumerate(dests):
        if cancelled is not None and n % CANCEL_CHECK_EVERY == 0 and cancelled():
            raise SweepCancelled
        out.checked += d.count * len(d.senders)
        looked_up = pv_lookup(router, d.dest)
        hardware = matches(icr, d.dest, source, hardware=True)
        if looked_up[1] == hardware:
            continue
        r = route_pv_ipi(router, irq, d.dest, source, (looked_up, hardware))
        r.verdict = classify_pv_ipi(router, r, irq, icr)
        out.rows.append(SweepRow(d.dest_mode, d.senders, d.dest, r, count=d.count, residue=d.residue))


def _classes(named: set[int], top: int) -> list[tuple[int, int, int]]:
    """(residue, first member, size) of each class of unnamed destinations in 0x100..top."""
    if top <= 0xFF:
        return []
    named_by_residue: dict[int, int] = {}
    for d in named:
        if d > 0xFF:
            named_by_residue[d & 0xFF] = named_by_residue.get(d & 0xFF, 0) + 1
    out = []
    for residue in range(0x100):
        size = (top - residue) // 0x100 - (0xFF - residue) // 0x100 if top >= residue else 0
        size -= named_by_residue.get(residue, 0)
        if size > 0:
            out.append((residue, _first_unnamed(residue, named, top), size))
    return out


@dataclass(frozen=True)
class SweepMessage:
    """One message of the sweep, as a view picks it: destination mode, destination, sender kind."""

    dest_mode: str
    dest: int
    sender: str

    def describe(self) -> str:
        return f"{SENDER_TEXT[self.sender]} to {self.dest_mode} {fmt_id(self.dest)} (fixed)"


def sweep_message(ev: Evaluation, msg: SweepMessage) -> tuple[Interrupt, Route] | None:
    """Route one sweep message in full (for its explanation), or None when its sender kind is gone."""
    pv = pv_sweep_senders(ev)
    if msg.sender in pv:
        irq = _pv_irq(ev, pv[msg.sender], msg.describe())
        irq.dest = msg.dest
        route = route_pv_ipi(ev.router, irq, msg.dest, pv[msg.sender])
        route.verdict = classify_pv_ipi(ev.router, route, irq)
        return irq, route
    senders = sweep_senders(ev)
    if msg.sender not in senders:
        return None
    source = senders[msg.sender]
    vcpus = ev.scenario.vcpus
    irq = Interrupt(name=msg.describe(), source=None if source is None else vcpus[source].id,
                    dest_mode=msg.dest_mode, dest=msg.dest, delivery="fixed")
    route = ev.router.route_dest(irq, msg.dest, source)
    route.verdict = classify(route, irq, vcpus, ev.scenario.kvm, ev.router.xapic_mode_set)
    return irq, route


def _first_unnamed(residue: int, named: set[int], top: int) -> int:
    dest = 0x100 + residue
    while dest in named and dest <= top:
        dest += 0x100
    return dest
