#!/usr/bin/env python3
"""Benchmark of the host check (``apicviz probe``) on this machine's /dev/kvm.

Run from the repository root::

    .venv/bin/python benchmarks/bench_probe.py          # 16, 256, 1024 vCPUs x 64 interrupts; sweep at 256
    .venv/bin/python benchmarks/bench_probe.py --quick  # one repetition each

Each probe builds the VM, delivers every interrupt, reads every vCPU back,
resets and tears the VM down; the time is the whole ``probe()`` call
(median and min of the repetitions). Two interrupt sets: 64 random messages
(MSI, xAPIC and x2APIC IPIs; fixed, lowest, NMI, INIT; physical and logical;
random vectors), and the same 64 with one vector for all (worst case for
batching: one readback per interrupt). Target: 1024 vCPUs x 64 interrupts
under 2 s. A measurement, not a test: it reports, it never fails.
"""
from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from apicviz.host.host_info import KvmUnavailable, host_info
from apicviz.host.probe import probe
from apicviz.model.scenario import DFR_FLAT, Interrupt, Scenario, Vcpu

SIZES = (16, 256, 1024)
INTERRUPTS = 64
TARGET_1024_S = 2.0


def scenario(n: int, same_vector: bool, seed: int = 8) -> Scenario:
    """Eight xAPIC vCPUs with flat logical IDs, the rest x2APIC; 64 random interrupts."""
    rng = random.Random(seed)
    vcpus = [Vcpu(i, "xapic", logical_id=1 << i, dfr=DFR_FLAT) if i < 8 else Vcpu(i, "x2apic") for i in range(n)]
    irqs = []
    for k in range(INTERRUPTS):
        source = rng.choice([None, rng.randrange(min(n, 8)), rng.randrange(n)])
        x2 = source is not None and vcpus[source].x2apic_mode
        delivery = rng.choice(["fixed", "fixed", "fixed", "lowest", "nmi", "init"])
        if rng.random() < 0.3:
            mode, dest = "logical", rng.randrange(1, 0x100)
        else:
            mode, dest = "physical", rng.randrange(n if x2 else min(n, 0x100))
        vector = 0x40 if same_vector else rng.randrange(0x20, 0xFF)
        irqs.append(Interrupt(f"irq {k}", source, mode, dest, "none", delivery, vector))
    sc = Scenario(title=f"bench {n}", vcpus=vcpus, interrupts=irqs)
    sc.kvm.use_32bit_ids = True  # MSIs may name any vCPU
    return sc


def timed(fn, repeat: int) -> tuple[float, float, object]:
    times, result = [], None
    for _ in range(repeat):
        t = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times), min(times), result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    repeat = 1 if args.quick else 3
    try:
        host = host_info()
    except KvmUnavailable as exc:
        print(f"no benchmark: {exc}")
        return 0
    print(host.describe())
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    print()
    print("| vCPUs | interrupts | vectors | median s | min s | of which building s | compared | agree |")
    print("|---:|---:|---|---:|---:|---:|---:|---|")
    for n in SIZES:
        for same in (False, True):
            sc = scenario(n, same)
            built: list[float] = []

            def once(sc: Scenario = sc, built: list[float] = built) -> object:
                start = time.perf_counter()

                def mark(phase: str, done: int, total: int) -> None:
                    if phase == "build" and done == total:
                        built.append(time.perf_counter() - start)

                return probe(sc, host=host, progress=mark)

            med, low, res = timed(once, repeat)
            note = f" (target < {TARGET_1024_S} s)" if n == 1024 and not same else ""
            print(f"| {n} | {INTERRUPTS} | {'one for all' if same else 'random'} | {med:.3f}{note} | {low:.3f} "
                  f"| {statistics.median(built):.3f} | {res.compared} | {res.agree} |")
    sc = scenario(256, False)
    med, low, res = timed(lambda: probe(sc, host=host, sweep=True), repeat)
    sweep = res.sweep
    print()
    print("| sweep | vCPUs | messages sent | median s | min s | agree |")
    print("|---|---:|---:|---:|---:|---|")
    print(f"| --sweep (with the 64 interrupts) | 256 | {sweep.compared} | {med:.3f} | {low:.3f} | {res.agree} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
