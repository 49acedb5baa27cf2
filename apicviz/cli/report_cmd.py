"""``apicviz report``: a Markdown bug report of a scenario (with ``--host``, this host's verdict too)."""
from __future__ import annotations

import argparse
import sys
from typing import Any

from ..model import evaluate, load_scenario


def run(argv: list[str]) -> int:
    from ..model.report import bug_report
    from ..model.safe_write import atomic_write, check_target
    from ..model.sweep import sweep

    p = argparse.ArgumentParser(prog="apicviz report", description="Markdown bug report for a scenario.")
    p.add_argument("file", metavar="FILE")
    p.add_argument("-o", "--output", metavar="report.md",
                   help="write here instead of standard output ('-': standard output)")
    p.add_argument("--force", action="store_true", help="replace report.md even if it is a read-only file")
    p.add_argument("--host", action="store_true",
                   help="run the host check on /dev/kvm and include its verdict (as apicviz probe does)")
    args = p.parse_args(argv)
    if args.output and args.output != "-":
        check_target(args.output, args.force)  # refused before the work, not after
    scenario = load_scenario(args.file)
    ev = evaluate(scenario)
    kernels: list[dict[str, Any]] = []
    if args.host:
        from ..host.host_info import KvmUnavailable

        try:
            kernels.append(host_check(args.file, scenario))
        except KvmUnavailable as exc:
            print(f"apicviz report: --host: {exc}", file=sys.stderr)
            return 2
    text = bug_report(ev, sweep=sweep(ev), kernels=kernels)
    if args.output and args.output != "-":
        atomic_write(args.output, text.encode("utf-8"), replace_read_only=args.force)
    else:
        sys.stdout.write(text)
    return 0


def host_check(path: str, scenario: Any) -> dict[str, Any]:
    """This host's verdict in the shape the report takes (apicviz.model.kernel_report)."""
    from ..host.probe import probe
    from ..host.probe_text import config_notes

    result = probe(scenario)
    info = result.host
    return {"label": f"Linux {info.release.split('-')[0]}", "source": "host", "header": info.describe(),
            "notes": [] if result.skipped else config_notes(scenario, info), "probe": result.to_json(path)}
