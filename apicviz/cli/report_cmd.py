"""``apicviz report``: a Markdown bug report of a scenario."""
from __future__ import annotations

import argparse
import sys

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
    args = p.parse_args(argv)
    if args.output and args.output != "-":
        check_target(args.output, args.force)  # refused before the work, not after
    scenario = load_scenario(args.file)
    ev = evaluate(scenario)
    text = bug_report(ev, sweep=sweep(ev))
    if args.output and args.output != "-":
        atomic_write(args.output, text.encode("utf-8"), replace_read_only=args.force)
    else:
        sys.stdout.write(text)
    return 0
