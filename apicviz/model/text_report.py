"""Readable text for ``apicviz eval``: each interrupt explained in a sentence or two."""
from __future__ import annotations

from .analysis import Evaluation
from .explain import names as _names
from .numbers import fmt_id
from .vcpu_status import status_lines


def map_summary(ev: Evaluation) -> list[str]:
    res = ev.result
    lines = [(f"kernel {ev.scenario.kvm.kernel} (behaviour {res.behaviour.name}); "
             f"{len(ev.scenario.vcpus)} vCPUs")]
    if res.map is None:
        lines.append(f"map: none — {res.reason}")
    else:
        amap = res.map
        lines.append(f"map: optimized, max_apic_id {fmt_id(amap.max_apic_id)}, "
                     f"{len(amap.phys_map)} occupied phys_map slots, logical mode {amap.logical_mode}")
        if res.logical_reason and amap.logical_mode in ("disabled", "none", "sw_disabled"):
            lines.append(f"  logical: {res.logical_reason}")
    lines.append("APICv inhibits: " + (", ".join(sorted(res.apicv_inhibits)) or "none"))
    for pid, idxs in sorted(ev.aliases_physical.items()):
        lines.append(f"aliased APIC ID {fmt_id(pid)}: {_names(ev, idxs)}")
    for lid, idxs in ev.aliases_logical.items():
        lines.append(f"aliased logical ID {fmt_id(lid)}: {_names(ev, idxs)}")
    lines.extend(f"warning: {w}" for w in ev.warnings)
    status = status_lines(ev)
    if status:
        lines.append("vCPU status:")
        lines += ["  " + line for line in status]
    return lines


def eval_text(ev: Evaluation, path: str, with_sweep: bool = True, detailed: bool = True) -> str:
    from .explain import explain_route

    lines = [f"== {path}" + (f" — {ev.scenario.title}" if ev.scenario.title else "")]
    lines += map_summary(ev)
    for n, irq in enumerate(ev.scenario.interrupts):
        label = irq.name or irq.describe()
        lines.append("")
        lines.append(f"[{n}] {label}: {irq.describe()}" if irq.name else f"[{n}] {label}")
        for text in explain_route(ev, n, brief=not detailed):
            lines.append("    " + text)
    if with_sweep:
        from .sweep import sweep

        result = sweep(ev)
        lines.append("")
        lines.append(result.summary(ev))
        for row in result.rows[:40]:
            lines.append("  " + row.describe(ev))
        if len(result.rows) > 40:
            lines.append(f"  … and {len(result.rows) - 40} more (apicviz eval --json shows all)")
    return "\n".join(lines) + "\n\n"
