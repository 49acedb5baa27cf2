"""The bug report's section about a real kernel: what the host check (or another kernel) said.

The model never runs a kernel; the caller passes the answer in as data — the
probe's JSON (FORMAT.md "Host check") with the kernel's label, its header
line and the scenario settings it overrides::

    {"label": "Linux 6.18.44", "source": "host", "header": "host Linux 6.18.44-… → model kernel 6.18 …",
     "notes": ["SMM on here, off on the host …"], "probe": {...}}

Interrupts the kernel contradicts come first, then the skipped ones with
their reason, then the agreeing ones, as long as the room lasts.
"""
from __future__ import annotations

from typing import Any

from .analysis import Evaluation
from .numbers import id_ranges


def _title(check: dict[str, Any]) -> str:
    label = str(check.get("label") or "a real kernel")
    return f"{label} (this host)" if check.get("source") == "host" else label


def verdict_line(check: dict[str, Any]) -> str:
    """'3/3 interrupts agree with the model for this kernel, 1 not expressible' or why nothing was probed."""
    probe = check.get("probe") or {}
    if probe.get("skipped"):
        return f"not probed: {probe['skipped']}"
    entries = probe.get("interrupts") or []
    compared = [e for e in entries if "skipped" not in e]
    differ = sum(1 for e in compared if e.get("agree") is False)
    text = f"{len(compared) - differ}/{len(compared)} interrupts agree with the model for this kernel"
    skipped = len(entries) - len(compared)
    if skipped:
        text += f", {skipped} not expressible"
    return text


def kernel_section(check: dict[str, Any], ev: Evaluation, room: int) -> list[str]:
    """Markdown lines for one kernel's answer, at most about ``room`` characters."""
    probe = check.get("probe") or {}
    out = [f"### On a real kernel: {_title(check)}", ""]
    if check.get("header"):
        out += [f"*{check['header']}*", ""]
    out += [f"**{verdict_line(check)}.**", ""]
    notes = check.get("notes") or []
    if notes and not probe.get("skipped"):
        out += ["The scenario differs from this kernel; the comparison uses the kernel's settings: "
                + "; ".join(notes) + ".", ""]
    entries = probe.get("interrupts") or []
    if probe.get("skipped") or not entries:
        return out
    interrupts = ev.scenario.interrupts

    def window(n: int) -> list[int]:
        return ev.ids(ev.routes[n].accepted) if n < len(ev.routes) else []

    def rank(n: int) -> int:
        """Contradictions first, then answers the scenario's settings change, skips, agreements."""
        e = entries[n]
        if "skipped" in e:
            return 2
        if e.get("agree") is False:
            return 0
        return 1 if set(e.get("host_accepted") or []) != set(window(n)) else 3

    order = sorted(range(min(len(entries), len(interrupts))), key=lambda n: (rank(n), n))
    settings = f"scenario's settings ({ev.scenario.kvm.kernel})"
    out += [f"| # | interrupt | kernel accepted | model for this kernel | {settings} | |",
            "|---|---|---|---|---|---|"]
    used = sum(len(x) + 1 for x in out)
    for k, n in enumerate(order):
        e = entries[n]
        shown = id_ranges(window(n)) if window(n) else "nobody"
        what = (interrupts[n].name or interrupts[n].describe())[:80].replace("|", "\\|")
        if "skipped" in e:
            why = str(e["skipped"]).replace("|", "\\|")
            row = f"| {n} | {what} | | | {shown} | – skipped: {why} |"
        else:
            host, model = list(e.get("host_accepted") or []), list(e.get("model_accepted") or [])
            mark = "≠ **differs**" if e.get("agree") is False else \
                ("✓ (the scenario's settings differ)" if rank(n) == 1 else "✓")
            row = (f"| {n} | {what} | {id_ranges(host) if host else 'nobody'} | "
                   f"{id_ranges(model) if model else 'nobody'} | {shown} | {mark} |")
        if used + len(row) + 1 > room:
            out.append(f"| … | {len(order) - k} more interrupts (`apicviz probe FILE` lists them all) | | | | |")
            break
        out.append(row)
        used += len(row) + 1
    out.append("")
    return out
