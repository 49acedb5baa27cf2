"""Subcommands other than ``eval``: report, diff, import, render.

Only ``render`` touches Qt, and it selects the offscreen platform before the
first Qt import so it works without a display.
"""
from __future__ import annotations

import argparse
import os
import sys

from .model import ScenarioError, evaluate, load_scenario


def _report(argv: list[str]) -> int:
    from .model.report import bug_report
    from .model.sweep import sweep
    from .model.scenario_file import atomic_write

    p = argparse.ArgumentParser(prog="apicviz report", description="Markdown bug report for a scenario.")
    p.add_argument("file", metavar="FILE")
    p.add_argument("-o", "--output", metavar="report.md", help="write here instead of standard output")
    args = p.parse_args(argv)
    scenario = load_scenario(args.file)
    ev = evaluate(scenario)
    text = bug_report(ev, sweep_rows=len(sweep(ev).rows))
    if args.output:
        atomic_write(args.output, text.encode("utf-8"))
    else:
        sys.stdout.write(text)
    return 0


def _diff(argv: list[str]) -> int:
    from .model.compare import compare, parse_kvm_overrides

    p = argparse.ArgumentParser(
        prog="apicviz diff",
        description="Compare a scenario under two kernels or flag sets: map slots, routes and dropped deliveries.",
    )
    p.add_argument("file", metavar="FILE")
    p.add_argument("--kernel", help="kernel A (default: the scenario's)")
    p.add_argument("--against", help="kernel B (default: the scenario's)")
    p.add_argument("--set", dest="set_a", action="append", default=[], metavar="KEY=VALUE",
                   help="flag for A, e.g. use_32bit_ids=true (repeatable)")
    p.add_argument("--against-set", dest="set_b", action="append", default=[], metavar="KEY=VALUE",
                   help="flag for B, e.g. use_32bit_ids=true (repeatable)")
    args = p.parse_args(argv)
    scenario = load_scenario(args.file)
    kvm_a = parse_kvm_overrides(scenario.kvm, args.kernel, args.set_a)
    kvm_b = parse_kvm_overrides(scenario.kvm, args.against, args.set_b)
    comp = compare(scenario, kvm_a, kvm_b)
    print("\n".join(comp.lines()))
    return 0


def _render(argv: list[str]) -> int:
    p = argparse.ArgumentParser(
        prog="apicviz render",
        description="Render the main window to a PNG without a display; the PNG embeds the scenario.",
    )
    p.add_argument("file", metavar="FILE")
    p.add_argument("-o", "--output", required=True, metavar="out.png")
    p.add_argument("--size", default="1280x800", help="window size WIDTHxHEIGHT (default 1280x800)")
    p.add_argument("--interrupt", type=int, default=None, metavar="N", help="select interrupt N (0-based)")
    p.add_argument("--map-only", action="store_true", help="render the map view alone")
    args = p.parse_args(argv)
    try:
        width, height = (int(x) for x in args.size.lower().split("x"))
        if not (200 <= width <= 8000 and 200 <= height <= 8000):
            raise ValueError
    except ValueError:
        raise ScenarioError("--size", f"{args.size!r}: use WIDTHxHEIGHT, each 200..8000") from None
    os.environ["QT_QPA_PLATFORM"] = "offscreen"
    from .gui.render import render_to_png

    return render_to_png(args.file, args.output, (width, height), args.interrupt, args.map_only)


def run(name: str, argv: list[str]) -> int:
    try:
        if name == "import":
            from .cli_import import main as import_main

            return import_main(argv)
        if name == "report":
            return _report(argv)
        if name == "diff":
            return _diff(argv)
        if name == "render":
            return _render(argv)
    except ScenarioError as exc:
        print(f"apicviz {name}: error: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:
        print(f"apicviz {name}: error: {exc}", file=sys.stderr)
        return 1
    print(f"apicviz: unknown command {name!r}", file=sys.stderr)
    return 2
