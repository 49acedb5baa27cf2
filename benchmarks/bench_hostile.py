"""Time and peak memory of every hostile input in tests/hostile_inputs.py, and of eval --json at the limits.

Run: .venv/bin/python benchmarks/bench_hostile.py  (prints a Markdown table).
Targets: every reader case within 2 s and 300 MB; `eval --json` of the
largest valid scenario (4096 vCPUs, the interrupt limit, logical broadcasts)
within 5 s and 1 GB. Each case runs in a fresh process (see run_case).
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from hostile_inputs import CASES, largest_valid_scenario, run_case

EVAL_CHILD = r"""
import os, resource, sys, time
from apicviz.cli import main
real = sys.stdout
sys.stdout = open(os.devnull, "w")
start = time.perf_counter()
status = main(["eval", "--json", sys.argv[1]])
seconds = time.perf_counter() - start
cpu = resource.getrusage(resource.RUSAGE_SELF)
peak_kb = next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmHWM:"))
real.write(f"{status} {seconds} {cpu.ru_utime + cpu.ru_stime} {peak_kb / 1024}\n")
"""


def main() -> None:
    print("| input | result | time (s) | peak RSS (MB) |")
    print("|---|---|---|---|")
    with tempfile.TemporaryDirectory() as folder:
        for case in CASES:
            result = run_case(case, Path(folder) / "case")
            verdict = "accepted" if result["error"] is None else "refused"
            print(f"| {case.name} | {verdict} | {result['seconds']:.2f} | {result['peak_mb']:.0f} |")
        print()
        print("| eval --json, 4096 vCPUs × interrupt limit | status | wall (s) | CPU (s) | peak RSS (MB) |")
        print("|---|---|---|---|---|")
        for delivery in ("lowest", "fixed"):
            path = Path(folder) / f"largest-{delivery}.json"
            path.write_text(json.dumps(largest_valid_scenario(delivery)))
            start = time.perf_counter()
            out = subprocess.run([sys.executable, "-c", EVAL_CHILD, str(path)], capture_output=True, text=True,
                                 check=True, env=dict(os.environ))
            status, seconds, cpu, peak = out.stdout.split()
            wall = time.perf_counter() - start
            print(f"| {delivery} logical broadcasts | {status} | {wall:.2f} (in-process {float(seconds):.2f}) "
                  f"| {float(cpu):.2f} | {float(peak):.0f} |")


if __name__ == "__main__":
    main()
