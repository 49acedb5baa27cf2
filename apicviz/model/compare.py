"""Compare one VM under two kernels (or flag sets): what changes in the map and the routes.

Answers "what does upgrading from 6.1 to upstream do to my VM" in one list:
slots that change owner, map status, logical mode, inhibits, and every
interrupt whose path, targets or dropped vCPUs differ.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from .analysis import Evaluation, evaluate
from .errors import ScenarioError, quote
from .kernels import parse_kernel
from .numbers import fmt_id, id_list
from .scenario import KvmConfig, Scenario, check_kvm, check_scenario

KVM_FLAGS = ("use_32bit_ids", "disable_broadcast_quirk", "vector_hashing", "map_alloc_fails", "smm")


def kvm_label(kvm: KvmConfig) -> str:
    flags = [name for name in ("use_32bit_ids", "disable_broadcast_quirk", "map_alloc_fails") if getattr(kvm, name)]
    if not kvm.vector_hashing:
        flags.append("no vector_hashing")
    if not kvm.smm:
        flags.append("no SMM")
    return kvm.kernel + (f" ({', '.join(flags)})" if flags else "")


def parse_kvm_overrides(base: KvmConfig, kernel: str | None, settings: list[str], *,
                        kernel_option: str = "--kernel", set_option: str = "--set") -> KvmConfig:
    """``--kernel`` plus ``key=value`` settings (``use_32bit_ids=true``) on top of ``base``.

    Errors name the option they came from (``kernel_option``/``set_option``), so
    ``diff`` says whether kernel A's or kernel B's setting is wrong.
    """
    kvm = replace(base)
    if kernel is not None:
        kvm.kernel = parse_kernel(kernel, kernel_option)
    for item in settings:
        key, sep, value = item.partition("=")
        key = key.strip()
        if not sep or key not in KVM_FLAGS:
            raise ScenarioError(set_option,
                                f"{quote(item)}: use KEY=true|false with KEY one of {', '.join(KVM_FLAGS)}")
        word = value.strip().lower()
        if word not in ("true", "false", "1", "0", "on", "off", "yes", "no"):
            raise ScenarioError(set_option, f"{quote(item)}: value must be true or false (or on/off, yes/no, 1/0)")
        setattr(kvm, key, word in ("true", "1", "on", "yes"))
    check_kvm(kvm)
    return kvm


@dataclass
class RouteChange:
    index: int
    name: str
    before: dict[str, Any]
    after: dict[str, Any]


@dataclass
class Comparison:
    a: Evaluation
    b: Evaluation
    label_a: str
    label_b: str
    #: slot -> (vCPU id under A or None, vCPU id under B or None), only differing slots.
    slots: dict[int, tuple[int | None, int | None]] = field(default_factory=dict)
    routes: list[RouteChange] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return bool(self.slots or self.routes or self.header_changes())

    def header_changes(self) -> list[str]:
        ra, rb = self.a.result, self.b.result
        out = []
        if ra.behaviour.name != rb.behaviour.name:
            out.append(f"behaviour: {ra.behaviour.name} → {rb.behaviour.name}")
        if ra.status != rb.status:
            out.append(f"map: {ra.status} → {rb.status}" + (f" ({rb.reason})" if rb.reason else f" (was: {ra.reason})"))
        ma = ra.map.logical_mode if ra.map else "(no map)"
        mb = rb.map.logical_mode if rb.map else "(no map)"
        if ma != mb:
            out.append(f"logical mode: {ma} → {mb}")
        if sorted(ra.apicv_inhibits) != sorted(rb.apicv_inhibits):
            out.append(f"APICv inhibits: {', '.join(sorted(ra.apicv_inhibits)) or 'none'} → "
                       f"{', '.join(sorted(rb.apicv_inhibits)) or 'none'}")
        return out

    def lines(self) -> list[str]:
        out = [f"Comparing {self.label_a} → {self.label_b}"]
        heads = self.header_changes()
        out += ["  " + h for h in heads]
        map_a, map_b = self.a.result.map, self.b.result.map
        gone = map_a or map_b
        if (map_a is None) != (map_b is None) and gone is not None:
            out.append(f"  every phys_map slot ({len(gone.phys_map)} occupied) "
                       + ("disappears with the map" if map_b is None else "appears with the map"))
        elif self.slots:
            out.append(f"  phys_map slots that change ({len(self.slots)}):")
            for slot, (x, y) in list(self.slots.items())[:64]:
                out.append(f"    [{fmt_id(slot)}] {_who(x)} → {_who(y)}")
            if len(self.slots) > 64:
                out.append(f"    … and {len(self.slots) - 64} more")
        for ch in self.routes:
            out.append(f"  interrupt [{ch.index}] {ch.name}:")
            for key in ("path", "targets", "accepted", "dropped", "extra"):
                if ch.before[key] != ch.after[key]:
                    out.append(f"    {key}: {_fmt(ch.before[key])} → {_fmt(ch.after[key])}")
        sa, sb = self.a.dropped_count, self.b.dropped_count
        out.append(f"  dropped deliveries among the interrupts: {sa} → {sb}")
        if not self.changed:
            out.append("  no difference: both give the same map and routes")
        return out


def _who(vcpu_id: int | None) -> str:
    return "empty" if vcpu_id is None else f"vCPU {fmt_id(vcpu_id)}"


def _fmt(value: Any) -> str:
    if isinstance(value, list):
        return f"[{id_list(value, limit=None, empty='')}]"
    return str(value)


#: The fields of a route a comparison looks at.
ROUTE_KEYS = ("path", "targets", "accepted", "dropped", "extra")


def route_fields(ev: Evaluation, n: int) -> dict[str, Any]:
    """Interrupt ``n``'s path and its target, accepting, dropped and extra vCPU IDs, as in ``eval --json``."""
    r = ev.routes[n]
    ids = ev.ids
    return {"path": r.path, "targets": ids(r.targets), "accepted": ids(r.accepted), "dropped": ids(r.dropped),
            "extra": ids(r.extra)}


def compare(scenario: Scenario, kvm_a: KvmConfig, kvm_b: KvmConfig) -> Comparison:
    """Both sides must be valid scenarios (ScenarioError otherwise): e.g. B without 32-bit IDs cannot
    carry an MSI to a destination above 0xff, and a kernel before 6.2 cannot be without SMM."""
    sa, sb = scenario.copy(), scenario.copy()
    sa.kvm, sb.kvm = replace(kvm_a), replace(kvm_b)
    check_scenario(sa)
    check_scenario(sb)
    ea, eb = evaluate(sa), evaluate(sb)
    return compare_evaluations(ea, eb)


def compare_evaluations(ea: Evaluation, eb: Evaluation) -> Comparison:
    comp = Comparison(ea, eb, kvm_label(ea.scenario.kvm), kvm_label(eb.scenario.kvm))
    vcpus = ea.scenario.vcpus
    pa = ea.result.map.phys_map if ea.result.map else {}
    pb = eb.result.map.phys_map if eb.result.map else {}
    for slot in sorted(set(pa) | set(pb)):
        x = vcpus[pa[slot]].id if slot in pa else None
        y = vcpus[pb[slot]].id if slot in pb else None
        if x != y:
            comp.slots[slot] = (x, y)
    for n in range(min(len(ea.routes), len(eb.routes))):
        fields_a, fields_b = route_fields(ea, n), route_fields(eb, n)
        if any(fields_a[k] != fields_b[k] for k in ROUTE_KEYS):
            irq = ea.scenario.interrupts[n]
            comp.routes.append(RouteChange(n, irq.name or irq.describe(), fields_a, fields_b))
    return comp
