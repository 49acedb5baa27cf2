"""``apicviz report``: a Markdown bug report of a scenario."""
from __future__ import annotations

import argparse
import sys

from ..model import evaluate, load_scenario


def run(argv: list[str]) -> int:
    from ..model.report import bug_report
    from ..model.scenario_file import atomic_write
    from ..model.sweep import sweep

    p = argparse.ArgumentParser(prog="apicviz report", description="Markdown bug report for a scenario.")
    p.add_argument("file", metavar="FILE")
    p.add_argument("-o", "--output", metavar="report.md", help="write here instead of standard output")
    args = p.parse_args(argv)
    scenario = load_scenario(args.file)
    ev = evaluate(scenario)
    text = bug_report(ev, sweep=sweep(ev))
    if args.output:
        atomic_write(args.output, text.encode("utf-8"))
    else:
        sys.stdout.write(text)
    return 0
