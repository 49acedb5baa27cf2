#!/usr/bin/env python3
"""Run the repository's copy of the public KVM vectors through ``apicviz eval --json``.

The end-to-end twin of tests/test_vectors.py: the scenario files go through
the real command line (file loading, JSON output), so a clone without
``../shared`` still checks what a user runs. run-tests calls it always.

Usage: tests/check_vectors.py [--apicviz PATH] [--show N] [VECTORS.jsonl]
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from vector_fields import REPO_VECTORS, differences, load_cases

#: Scenario files per ``apicviz eval`` process: few processes, short command lines.
FILES_PER_RUN = 64


def eval_json(apicviz: str, paths: list[Path]) -> list[dict[str, Any]] | None:
    """One evaluation per path, or None when the output does not have one JSON line per file."""
    proc = subprocess.run([apicviz, "eval", "--json", "--no-sweep", *map(str, paths)],
                          capture_output=True, text=True, timeout=600, check=False)
    lines = [line for line in proc.stdout.splitlines() if line.strip()]
    if len(lines) != len(paths):
        return None
    try:
        return [json.loads(line) for line in lines]
    except ValueError:
        return None


def evaluate_all(apicviz: str, cases: list[dict[str, Any]], folder: Path) -> list[dict[str, Any]]:
    paths = []
    for n, case in enumerate(cases):
        path = folder / f"vector-{n:04d}.apicviz.json"
        path.write_text(json.dumps(case["scenario"]), encoding="utf-8")
        paths.append(path)
    results: list[dict[str, Any]] = []
    for start in range(0, len(paths), FILES_PER_RUN):
        group = paths[start:start + FILES_PER_RUN]
        got = eval_json(apicviz, group)
        if got is None:  # a crash or a missing line: find the file responsible, one at a time
            got = [(eval_json(apicviz, [p]) or [{"error": f"apicviz eval gave no JSON for {p.name}"}])[0]
                   for p in group]
        results.extend(got)
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("vectors", nargs="?", type=Path, default=REPO_VECTORS)
    parser.add_argument("--apicviz", default=str(Path(sys.executable).with_name("apicviz")),
                        help="the apicviz command to check (default: the one beside this Python)")
    parser.add_argument("--show", type=int, default=5, help="mismatching cases to print in full")
    args = parser.parse_args()
    cases = load_cases(args.vectors)
    with tempfile.TemporaryDirectory(prefix="apicviz-vectors-") as folder:
        results = evaluate_all(args.apicviz, cases, Path(folder))
    failed = 0
    for case, got in zip(cases, results, strict=True):
        lines = differences(case["expected"], got)
        if not lines:
            continue
        failed += 1
        if failed <= args.show:
            kernel = case["scenario"].get("kvm", {}).get("kernel", "upstream")
            print(f"MISMATCH {case['name']} (kernel {kernel})")
            print("\n".join(f"  {line}" for line in lines))
    print(f"kvm vectors (repository copy, CLI): {len(cases) - failed} passed, {failed} failed")
    return 1 if failed or not cases else 0


if __name__ == "__main__":
    sys.exit(main())
