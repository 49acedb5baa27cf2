"""Markdown bug report: everything a KVM developer needs to reproduce what apicviz shows."""
from __future__ import annotations

from .. import __version__
from .analysis import Evaluation
from .explain import explain_route
from .numbers import fmt_id
from .scenario_file import scenario_to_text


def _ids(ev: Evaluation, idxs: list[int]) -> str:
    return ", ".join(fmt_id(i) for i in ev.ids(idxs)) or "—"


def _dfr(value: int) -> str:
    return {0xFFFFFFFF: "flat", 0x0FFFFFFF: "cluster"}.get(value, f"{value:#010x}")


def bug_report(ev: Evaluation, sweep_rows: int | None = None) -> str:
    """The whole report as Markdown; the scenario JSON sits in a collapsible block."""
    s = ev.scenario
    res = ev.result
    kvm = s.kvm
    out = [f"## apicviz: {s.title or 'KVM APIC routing'}", ""]
    out.append(f"*apicviz {__version__}; kernel `{kvm.kernel}` (behaviour `{res.behaviour.name}`)*")
    out.append("")
    out.append("| KVM setting | value |")
    out.append("|---|---|")
    out.append(f"| `KVM_X2APIC_API_USE_32BIT_IDS` | {kvm.use_32bit_ids} |")
    out.append(f"| `KVM_X2APIC_API_DISABLE_BROADCAST_QUIRK` | {kvm.disable_broadcast_quirk} |")
    out.append(f"| `kvm.vector_hashing` | {kvm.vector_hashing} |")
    out.append(f"| map allocation forced to fail | {kvm.map_alloc_fails} |")
    out.append(f"| KVM built with SMM (`CONFIG_KVM_SMM`) | {kvm.smm} |")
    out.append("")
    if s.notes:
        out += [s.notes, ""]
    out.append("### Map")
    if res.map is None:
        out.append(f"**No optimized map** — {res.reason}")
    else:
        amap = res.map
        out.append(f"Optimized map, `max_apic_id` = {fmt_id(amap.max_apic_id)}, {len(amap.phys_map)} occupied "
                   f"`phys_map` slots, logical mode `{amap.logical_mode}`"
                   + (f" ({res.logical_reason})" if amap.logical_mode in ("disabled", "none", "sw_disabled")
                      and res.logical_reason else "") + ".")
    out.append("")
    out.append(f"APICv inhibits: {', '.join(f'`{i}`' for i in sorted(res.apicv_inhibits)) or 'none'}")
    out.append("")
    if ev.aliases_physical or ev.aliases_logical:
        out.append("Aliases:")
        for pid, idxs in sorted(ev.aliases_physical.items()):
            out.append(f"- APIC ID {fmt_id(pid)}: vCPUs {_ids(ev, idxs)}")
        for lid, idxs in ev.aliases_logical.items():
            out.append(f"- logical ID {fmt_id(lid)}: vCPUs {_ids(ev, idxs)}")
        out.append("")
    out.append(f"### vCPUs ({len(s.vcpus)}, creation order)")
    out.append("")
    out.append("| # | vCPU ID | mode | xAPIC ID | logical ID | DFR | SW enabled |")
    out.append("|---|---|---|---|---|---|---|")
    shown = s.vcpus[:256]
    for n, v in enumerate(shown):
        out.append(f"| {n} | {fmt_id(v.id)} | {v.apic} | {fmt_id(v.xapic_id)} | {fmt_id(v.logical_id)} | "
                   f"{_dfr(v.dfr)} | {'yes' if v.sw_enabled else 'no'} |")
    if len(s.vcpus) > len(shown):
        out.append(f"| … | {len(s.vcpus) - len(shown)} more in the scenario below | | | | | |")
    out.append("")
    out.append("### Interrupts")
    out.append("")
    if not s.interrupts:
        out.append("(none)")
    for n, (irq, r) in enumerate(zip(s.interrupts, ev.routes)):
        out.append(f"**[{n}] {irq.name or irq.describe()}** — {irq.describe()}")
        out.append("")
        out.append("| | vCPUs |")
        out.append("|---|---|")
        out.append(f"| KVM ({r.path} path) | {_ids(ev, r.targets)} |")
        out.append(f"| accepted | {_ids(ev, r.accepted)} |")
        out.append(f"| slow path | {_ids(ev, r.slow_path_targets)} |")
        out.append(f"| hardware | {_ids(ev, r.hardware_targets)} |")
        out.append(f"| **dropped** | {_ids(ev, r.dropped)} |")
        out.append(f"| extra | {_ids(ev, r.extra)} |")
        out.append("")
        out += [f"> {line}" for line in explain_route(ev, n, brief=True)]
        out.append("")
    if sweep_rows is not None:
        out.append(f"Destination sweep: {sweep_rows} destinations where KVM and hardware or fast and slow path disagree "
                   f"(`apicviz eval` lists them).")
        out.append("")
    out.append("<details><summary>Scenario (save as <code>scenario.apicviz.json</code>, open with apicviz)</summary>")
    out.append("")
    out.append("```json")
    out.append(scenario_to_text(s).rstrip())
    out.append("```")
    out.append("</details>")
    return "\n".join(out) + "\n"
