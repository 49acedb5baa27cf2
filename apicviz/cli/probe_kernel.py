"""``apicviz probe --kernel``: the host check run inside a throwaway VM of another kernel.

Same exit statuses as the host check: 0 every compared interrupt agrees, 1 a
disagreement or an invalid file, 2 the kernel could not be booted or probed
(the message names the cause and the fix).
"""
from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from ..model.numbers import fmt_id


def _ids(ids: list[int] | None) -> str:
    return "[" + ", ".join(fmt_id(i) for i in ids or []) + "]" if ids else "nobody"


def line_text(line: dict[str, Any]) -> str:
    """The readable block of one file's result, from its JSON (what came back from the guest)."""
    if "error" in line:
        return f"{line['file']}: error: {line['error']}\n"
    host = line.get("host") or {}
    head = (f"{line['file']} on Linux {host.get('release')} (model {host.get('kernel')}, {host.get('behaviour')}; "
            f"scenario kernel {line.get('scenario_kernel')}): ")
    if line.get("skipped"):
        return head + f"not probed: {line['skipped']}\n"
    rows = []
    agree = compared = skipped = 0
    for n, irq in enumerate(line.get("interrupts") or []):
        if "skipped" in irq:
            skipped += 1
            rows.append(f"  – #{n}: skipped — {irq['skipped']}")
            continue
        compared += 1
        if irq.get("agree"):
            agree += 1
            rows.append(f"  ✓ #{n}: kernel {_ids(irq.get('host_accepted'))} = model")
        else:
            rows.append(f"  ≠ #{n}: kernel {_ids(irq.get('host_accepted'))}, model {_ids(irq.get('model_accepted'))}")
    summary = f"{agree}/{compared} agree" + (f", {skipped} not expressible" if skipped else "")
    return head + summary + "\n" + "\n".join(rows) + "\n"


def run_on_kernel(args: argparse.Namespace) -> int:
    from ..kernelvm import KernelVmError
    from ..kernelvm.remote_probe import KernelChoice, probe_on_kernel

    choice = KernelChoice(args.kernel, args.modules, args.kernel_package)
    try:
        lines, vm = probe_on_kernel(choice, args.files, sweep=getattr(args, "sweep", False), timeout=args.timeout)
    except KernelVmError as exc:
        print(f"apicviz probe --kernel: {exc}", file=sys.stderr)
        return 2
    out = sys.stdout
    if not args.json:
        out.write(f"booted {vm['release']} under {vm['accel'].upper()} in {vm['seconds']} s ({vm['image']})\n")
    status = 0
    for line in lines:
        if "error" in line or not line.get("agree", False):
            status = 1
        out.write(json.dumps(line, separators=(",", ":")) + "\n" if args.json else line_text(line))
    return status
