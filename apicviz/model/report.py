"""Markdown bug report: everything a KVM developer needs to reproduce what apicviz shows.

GitHub refuses an issue or comment longer than 65,536 characters, so the
report keeps to a budget whatever the VM: small VMs are given whole (the
scenario JSON in a collapsible block); big ones are summarised — like vCPUs
in groups, interrupts that disagree with hardware in full, the rest counted —
and the report says how to attach the scenario file or a PNG instead.
"""
from __future__ import annotations

from typing import Any

from .. import __version__
from .analysis import Evaluation
from .explain import explain_route
from .kernel_report import kernel_section
from .numbers import dfr_text, fmt_id, id_ranges
from .scenario import Interrupt, Vcpu
from .scenario_file import scenario_to_text
from .sweep import SweepResult
from .vcpu_status import status_counts, status_lines

#: GitHub's limit for an issue body or a comment, in characters.
GITHUB_LIMIT = 65_536
#: What the report may use: the limit, less room for the reporter's own words.
BUDGET = 60_000
#: A VM up to this many vCPUs gets one table row per vCPU.
VCPU_ROWS_WHOLE = 64
#: Room kept back for the closing scenario block or the attach note.
_ATTACH_RESERVE = 1_200


def on_off(value: bool) -> str:
    """A KVM_CAP_X2APIC_API flag as userspace sets it."""
    return "on" if value else "off"


def yes_no_param(value: bool) -> str:
    """A bool module parameter as /sys/module/kvm/parameters prints it."""
    return "Y" if value else "N"


def _vcpu_key(v: Vcpu) -> tuple:
    """What makes two vCPUs alike in a group: everything except the ID (a reset xAPIC ID counts as alike)."""
    xapic = "reset" if v.xapic_id == v.id & 0xFF else v.xapic_id
    return (v.apic, xapic, v.logical_id, v.dfr, v.sw_enabled, v.arb_prio)


def vcpu_groups(vcpus: list[Vcpu]) -> list[tuple[int, int]]:
    """Runs (first, last index) of consecutive like vCPUs whose IDs step evenly."""
    groups: list[tuple[int, int]] = []
    start, step = 0, 0
    for n in range(1, len(vcpus) + 1):
        if n < len(vcpus) and _vcpu_key(vcpus[n]) == _vcpu_key(vcpus[start]):
            diff = vcpus[n].id - vcpus[n - 1].id
            if n == start + 1 and diff > 0:
                step = diff
                continue
            if n > start + 1 and diff == step:
                continue
        groups.append((start, n - 1))
        start = n
    return groups


def _vcpu_row(first: Vcpu, last: Vcpu, a: int, b: int) -> str:
    count = b - a + 1
    order = str(a) if count == 1 else f"{a}–{b}"
    if count == 1:
        ids = fmt_id(first.id)
    else:
        step = (last.id - first.id) // (count - 1)
        ids = f"{fmt_id(first.id)}–{fmt_id(last.id)}" + (f" step {fmt_id(step)}" if step != 1 else "")
    reset = count > 1 and first.xapic_id == first.id & 0xFF
    xapic = "ID & 0xff (reset)" if reset else fmt_id(first.xapic_id)
    return (f"| {order} | {ids} | {count} | {first.apic} | {xapic} | {fmt_id(first.logical_id)} | "
            f"{dfr_text(first.dfr)} | {on_off(first.sw_enabled)} |")


class _Budget:
    """Lines with a running character count, so every section knows what is left."""

    def __init__(self, limit: int) -> None:
        self.lines: list[str] = []
        self.used = 0
        self.limit = limit

    def add(self, *lines: str) -> None:
        for line in lines:
            self.lines.append(line)
            self.used += len(line) + 1

    def fits(self, text_len: int, reserve: int = 0) -> bool:
        return self.used + text_len + reserve <= self.limit


def _interrupt_block(ev: Evaluation, n: int, irq: Interrupt) -> list[str]:
    r = ev.routes[n]
    ids = ev.ids
    head = f"**[{n}] {irq.name}** — {irq.describe()}" if irq.name else f"**[{n}] {irq.describe()}**"
    out = [head, "",
           "| | vCPUs |", "|---|---|",
           f"| KVM ({r.path} path) | {id_ranges(ids(r.targets))} |",
           f"| accepted | {id_ranges(ids(r.accepted))} |",
           f"| slow path | {id_ranges(ids(r.slow_path_targets))} |",
           f"| hardware | {id_ranges(ids(r.hardware_targets))} |",
           f"| **dropped** | {id_ranges(ids(r.dropped))} |",
           f"| extra | {id_ranges(ids(r.extra))} |", ""]
    out += [f"> {line}" for line in explain_route(ev, n, brief=True)]
    out.append("")
    return out


def _disagrees(ev: Evaluation, n: int) -> bool:
    r = ev.routes[n]
    return bool(r.dropped or r.extra or r.targets != r.slow_path_targets)


def bug_report(ev: Evaluation, sweep_rows: int | None = None, *, sweep: SweepResult | None = None,
               kernels: list[dict[str, Any]] | None = None, limit: int = BUDGET) -> str:
    """The report as Markdown, at most ``limit`` characters, ending in a newline.

    ``kernels``: what real kernels said about this scenario (the host check, another kernel), each as
    :mod:`.kernel_report` describes; their verdict follows the map.
    """
    s = ev.scenario
    res = ev.result
    kvm = s.kvm
    out = _Budget(limit)
    out.add(f"## apicviz: {s.title or 'KVM APIC routing'}", "")
    out.add(f"*apicviz {__version__}; kernel `{kvm.kernel}` (behaviour `{res.behaviour.name}`); "
            f"{len(s.vcpus)} vCPUs, {len(s.interrupts)} interrupts*", "")
    out.add("| KVM setting | value |", "|---|---|",
            f"| `KVM_X2APIC_API_USE_32BIT_IDS` | {on_off(kvm.use_32bit_ids)} |",
            f"| `KVM_X2APIC_API_DISABLE_BROADCAST_QUIRK` | {on_off(kvm.disable_broadcast_quirk)} |",
            f"| `kvm.vector_hashing` | {yes_no_param(kvm.vector_hashing)} |",
            "| map allocation (`kvzalloc`) | " + ("forced to fail (what-if)" if kvm.map_alloc_fails else "succeeds")
            + " |",
            f"| KVM built with SMM (`CONFIG_KVM_SMM`) | {'y' if kvm.smm else 'n'} |", "")
    if s.notes:
        out.add(s.notes[:4000], "")
    out.add("### Map")
    if res.map is None:
        out.add(f"**No optimized map** — {res.reason}")
    else:
        amap = res.map
        out.add(f"Optimized map, `max_apic_id` = {fmt_id(amap.max_apic_id)}, {len(amap.phys_map)} occupied "
                f"`phys_map` slots, logical mode `{amap.logical_mode}`"
                + (f" ({res.logical_reason})" if amap.logical_mode in ("disabled", "none", "sw_disabled")
                   and res.logical_reason else "") + ".")
    out.add("", f"APICv inhibits: {', '.join(f'`{i}`' for i in sorted(res.apicv_inhibits)) or 'none'}", "")
    aliases = [f"- APIC ID {fmt_id(pid)}: vCPUs {id_ranges(ev.ids(idxs))}"
               for pid, idxs in sorted(ev.aliases_physical.items())]
    aliases += [f"- logical ID {fmt_id(lid)}: vCPUs {id_ranges(ev.ids(idxs))}"
                for lid, idxs in ev.aliases_logical.items()]
    if aliases:
        out.add(f"Aliases ({len(aliases)}):")
        shown = aliases[:32]
        out.add(*shown)
        if len(aliases) > len(shown):
            out.add(f"- … and {len(aliases) - len(shown)} more")
        out.add("")

    for check in kernels or []:
        out.add(*kernel_section(check, ev, limit // (8 * max(1, len(kernels or [])))))

    _status_section(out, ev, limit // 8)

    scenario_text = scenario_to_text(s).rstrip()
    block = ["<details><summary>Scenario (save as <code>scenario.apicviz.json</code>, open with apicviz)</summary>",
             "", "```json", scenario_text, "```", "</details>"]
    block_len = sum(len(x) + 1 for x in block)
    # A scenario that fits comes first: with it the reader has everything, whatever else is cut.
    reserve = block_len if block_len <= limit // 2 else _ATTACH_RESERVE
    _vcpu_section(out, s.vcpus, limit // 4)
    _interrupt_section(out, ev, limit - reserve - 2000)
    _sweep_section(out, ev, sweep, sweep_rows, limit - reserve)
    if out.fits(block_len):
        out.add(*block)
    else:
        out.add("### Reproduce",
                f"This VM is too big to paste whole (its scenario file has {len(scenario_text):,} characters; "
                f"GitHub takes {GITHUB_LIMIT:,} per comment). Attach the scenario file instead: save it "
                "(File > Save As, `*.apicviz.json`) and drag it into the comment box, or attach a PNG from "
                "File > Export Picture or `apicviz render FILE -o shot.png` — the PNG embeds the scenario and "
                "opens in apicviz like the file.")
    return "\n".join(out.lines) + "\n"


def _status_section(out: _Budget, ev: Evaluation, room: int) -> None:
    """What the map made of each vCPU (vcpu_status codes): counts, then one line per flagged vCPU."""
    counts = status_counts(ev)
    if not counts:
        return
    out.add("### vCPU status", "", "Counts: " + ", ".join(f"`{code}` {n}" for code, n in counts.items()), "")
    start = out.used
    lines = status_lines(ev, limit=len(ev.scenario.vcpus))
    for k, line in enumerate(lines):
        if out.used - start + len(line) + 3 > room:
            out.add(f"- … and {len(lines) - k} more (`apicviz eval --json FILE` lists every vCPU's status)")
            break
        out.add(f"- {line}")
    out.add("")


def _vcpu_section(out: _Budget, vcpus: list[Vcpu], room: int) -> bool:
    """The vCPU table, one row per vCPU or per group of like vCPUs; True when something was left out."""
    grouped = len(vcpus) > VCPU_ROWS_WHOLE
    head = f"### vCPUs ({len(vcpus)}, creation order" + ("; like vCPUs grouped)" if grouped else ")")
    out.add(head, "", "| # | vCPU ID | count | mode | xAPIC ID | logical ID | DFR | APIC_SPIV enabled |",
            "|---|---|---|---|---|---|---|---|")
    groups = vcpu_groups(vcpus) if grouped else [(n, n) for n in range(len(vcpus))]
    start = out.used
    for k, (a, b) in enumerate(groups):
        row = _vcpu_row(vcpus[a], vcpus[b], a, b)
        if out.used - start + len(row) > room:
            rest = sum(bb - aa + 1 for aa, bb in groups[k:])
            out.add(f"| … | {rest} more vCPUs: see the scenario file | | | | | | |", "")
            return True
        out.add(row)
    out.add("")
    return False


def _interrupt_section(out: _Budget, ev: Evaluation, until: int) -> bool:
    """Disagreeing interrupts in full, then the others; True when some were only counted."""
    s = ev.scenario
    out.add("### Interrupts", "")
    if not s.interrupts:
        out.add("(none)", "")
        return False
    order = [n for n in range(len(s.interrupts)) if _disagrees(ev, n)]
    order += [n for n in range(len(s.interrupts)) if not _disagrees(ev, n)]
    for k, n in enumerate(order):
        block = _interrupt_block(ev, n, s.interrupts[n])
        if out.used + sum(len(x) + 1 for x in block) > until:
            left = order[k:]
            bad = sum(1 for i in left if _disagrees(ev, i))
            out.add(f"… {len(left)} more interrupts not shown ({bad} of them disagree with hardware or the slow "
                    "path): see the scenario file, or `apicviz eval FILE`.", "")
            return True
        out.add(*block)
    return False


def _sweep_section(out: _Budget, ev: Evaluation, sweep: SweepResult | None, sweep_rows: int | None,
                   until: int) -> bool:
    if sweep is None:
        if sweep_rows is not None:
            out.add(f"Destination sweep: {sweep_rows} destinations where KVM and hardware or fast and slow path "
                    "disagree (`apicviz eval` lists them).", "")
        return False
    out.add("### Destination sweep", "", sweep.summary(ev) + ".", "")
    for k, row in enumerate(sweep.rows):
        line = f"- {row.describe(ev)}"
        if out.used + len(line) + 1 > until:
            out.add(f"- … and {len(sweep.rows) - k} more (`apicviz eval --json FILE` lists every row)", "")
            return True
        out.add(line)
    if sweep.rows:
        out.add("")
    return False
