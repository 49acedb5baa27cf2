#!/usr/bin/env python3
"""Benchmark of the pure model: map recalculation, routing, the sweep, file loading and ``apicviz eval``.

Run from the repository root::

    .venv/bin/python benchmarks/bench_model.py          # full run
    .venv/bin/python benchmarks/bench_model.py --quick  # fewer repetitions and sizes

Prints Markdown tables (median and min of several ``time.perf_counter``
repetitions) with the targets next to the numbers: recalculation <= 10 ms and
full sweep <= 150 ms at 4096 vCPUs, ``apicviz eval`` <= 1 s wall time
(interpreter start-up included). This is a measurement, not a test: it never
fails, it reports.
"""
from __future__ import annotations

import argparse
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from apicviz.model import ScenarioError, evaluate, load_scenario, save_scenario, scenario_from_text
from apicviz.model.apic_map import recalculate
from apicviz.model.routing import Router
from apicviz.model.scenario import DFR_CLUSTER, DFR_FLAT, Interrupt, KvmConfig, Scenario, Vcpu
from apicviz.model.sweep import sweep

SIZES = (1, 64, 256, 1024, 4096)
QUICK_SIZES = (1, 256, 4096)
RECALC_TARGET_MS = 10.0
SWEEP_TARGET_MS = 150.0
EVAL_TARGET_MS = 1000.0
APICVIZ = Path(sys.executable).with_name("apicviz")


# ----- scenarios --------------------------------------------------------------------------------

def realistic_vm(n: int, kernel: str = "upstream", seed: int = 1) -> Scenario:
    """A large VM as QEMU builds it, with the untidy corners real guests have.

    Mostly x2APIC vCPUs; some xAPIC vCPUs with cluster or flat logical IDs;
    a few software-disabled ones whose xAPIC ID was rewritten (aliases); a
    hardware-disabled one every 100; xAPIC vCPUs above 0xff alias the low
    IDs through their 8-bit xAPIC ID. 32-bit IDs are on (QEMU enables them
    above 255 vCPUs), so 6.3+ still builds a map.
    """
    vcpus = []
    for i in range(n):
        r = i % 20
        if i % 100 == 99:
            vcpus.append(Vcpu(i, apic="disabled"))
        elif r < 14:
            vcpus.append(Vcpu(i, apic="x2apic"))
        elif r < 17:
            vcpus.append(Vcpu(i, logical_id=(((i >> 2) & 0xF) << 4) | (1 << (i & 3)), dfr=DFR_CLUSTER))
        elif r == 17:
            vcpus.append(Vcpu(i, logical_id=1 << (i & 7), dfr=DFR_FLAT))
        else:
            vcpus.append(Vcpu(i, xapic_id=(i * 7) & 0xFF, sw_enabled=r != 18, arb_prio=i & 3))
    if n == 1:
        vcpus = [Vcpu(0, apic="x2apic")]
    kvm = KvmConfig(kernel=kernel, use_32bit_ids=True)
    return Scenario(title=f"{n} vCPUs", kvm=kvm, vcpus=vcpus, interrupts=interrupts_for(vcpus, 64, seed))


def interrupts_for(vcpus: list[Vcpu], count: int, seed: int) -> list[Interrupt]:
    """IPIs, MSIs, logical clusters, lowest priority, broadcasts and shorthands, valid per FORMAT.md."""
    rng = random.Random(seed)
    present = [v for v in vcpus if v.apic != "disabled"]
    x2 = [v for v in present if v.apic == "x2apic"] or present
    xa = [v for v in present if v.apic == "xapic"] or present
    out = []
    for k in range(count):
        kind = k % 8
        target = rng.choice(present)
        if kind == 0:
            out.append(Interrupt(source=rng.choice(x2).id if x2[0].apic == "x2apic" else None, dest=target.id))
        elif kind == 1:
            out.append(Interrupt(source=None, dest=target.id, delivery="lowest", vector=rng.randrange(256)))
        elif kind == 2:
            ldr = (((target.id >> 4) << 16) | 0xFFFF) & 0xFFFFFFFF
            out.append(Interrupt(source=None, dest_mode="logical", dest=ldr, vector=rng.randrange(256)))
        elif kind == 3:
            out.append(Interrupt(source=rng.choice(xa).id, dest_mode="logical", dest=rng.randrange(1, 256),
                                 delivery="lowest", vector=rng.randrange(256)))
        elif kind == 4:
            out.append(Interrupt(source=None, dest=0xFF))
        elif kind == 5:
            out.append(Interrupt(source=None, dest=0xFFFFFFFF, delivery="nmi"))
        elif kind == 6:
            out.append(Interrupt(source=rng.choice(present).id, shorthand=rng.choice(["self", "all-but-self"]),
                                 dest=None))
        else:
            out.append(Interrupt(source=None, dest=target.id & 0xFF, vector=48))
    return out


def huge_id_vm() -> Scenario:
    """A "what if": an x2APIC vCPU with the largest ID allowed, next to ordinary ones."""
    vcpus = [Vcpu(0), Vcpu(1, apic="x2apic"), Vcpu(0xFFFFFFFE, apic="x2apic")]
    return Scenario(title="ID 0xfffffffe", kvm=KvmConfig(kernel="6.1", use_32bit_ids=True), vcpus=vcpus,
                    interrupts=interrupts_for(vcpus, 64, 7))


def huge_but_allocatable_vm() -> Scenario:
    """The largest map KVM could allocate (max_apic_id 268,435,387): optimized, yet must cost nothing."""
    vcpus = [Vcpu(0), Vcpu(1, apic="x2apic"), Vcpu(268_435_387, apic="x2apic")]
    return Scenario(title="max_apic_id 268435387", kvm=KvmConfig(kernel="upstream", use_32bit_ids=True),
                    vcpus=vcpus,
                    interrupts=interrupts_for(vcpus, 64, 8))


#: Inputs tests/test_scenario_file.py refuses; here, how long refusing them takes.
HOSTILE_TEXTS = {
    "100,000 nested lists": "[" * 100_000 + "]" * 100_000,
    "100,000 nested objects": '{"a":' * 100_000 + "1" + "}" * 100_000,
    "a 5,000-digit ID": '{"vcpus": [{"id": ' + "9" * 5000 + "}]}",
}


def refuse_text(text: str) -> None:
    try:
        scenario_from_text(text)
    except ScenarioError:
        return
    raise AssertionError("a hostile scenario text was accepted")


def refuse_file(path: Path) -> None:
    try:
        load_scenario(path)
    except ScenarioError:
        return
    raise AssertionError("an oversized scenario file was accepted")


# ----- timing -----------------------------------------------------------------------------------

def measure(fn: Callable[[], object], reps: int, warmup: int = 1) -> tuple[float, float]:
    """(median, min) in milliseconds."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(reps):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times), min(times)


def fmt_ms(ms: float) -> str:
    if ms < 0.1:
        return f"{ms * 1000:.1f} µs"
    if ms < 10:
        return f"{ms:.2f} ms"
    return f"{ms:.0f} ms" if ms >= 100 else f"{ms:.1f} ms"


def verdict(value: float, target: float | None) -> str:
    if target is None:
        return ""
    return "✅" if value <= target else "❌"


def child_maxrss_kib(code: str) -> int:
    """Peak resident set size (KiB) of a fresh interpreter running ``code``.

    Read from VmHWM in /proc/self/status: ru_maxrss would also count the
    benchmark process itself, because Linux carries the high-water mark
    across fork and exec.
    """
    script = code + (
        "\nfor line in open('/proc/self/status'):\n"
        "    if line.startswith('VmHWM:'):\n"
        "        print(line.split()[1])\n"
    )
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=ROOT, timeout=300,
                          check=False)
    if proc.returncode != 0:
        raise RuntimeError(proc.stderr)
    return int(proc.stdout.split()[-1])


def traced_peak_mib(fn: Callable[[], object]) -> float:
    tracemalloc.start()
    try:
        fn()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return peak / 2**20


# ----- main -------------------------------------------------------------------------------------

def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer sizes and repetitions (a smoke run)")
    args = parser.parse_args(argv)
    sizes = QUICK_SIZES if args.quick else SIZES
    reps = 5 if args.quick else 21
    sweep_reps = 3 if args.quick else 9
    eval_reps = 2 if args.quick else 5

    rows: list[tuple[str, str, float, float, float | None]] = []
    per_vcpu: list[tuple[int, float]] = []
    for n in sizes:
        sc = realistic_vm(n)
        med, low = measure(lambda sc=sc: recalculate(sc), reps)
        rows.append(("recalculation (apic_map.recalculate)", str(n), med, low, RECALC_TARGET_MS if n == 4096 else None))
        per_vcpu.append((n, med))
        result = recalculate(sc)

        def route_all(sc: Scenario = sc, result=result) -> None:
            router = Router(sc, result)
            for irq in sc.interrupts:
                router.route(irq)

        med, low = measure(route_all, reps)
        rows.append(("evaluation (Router + 64 interrupts)", str(n), med, low, None))
        ev = evaluate(sc)
        med, low = measure(lambda ev=ev: sweep(ev), sweep_reps)
        rows.append(("full sweep (sweep.sweep)", str(n), med, low, SWEEP_TARGET_MS if n == 4096 else None))

    for label, sc in (("ID 0xfffffffe (map fails)", huge_id_vm()),
                      ("max_apic_id 268435387 (map built)", huge_but_allocatable_vm())):
        med, low = measure(lambda sc=sc: recalculate(sc), reps)
        rows.append(("recalculation (apic_map.recalculate)", label, med, low, RECALC_TARGET_MS))
        ev = evaluate(sc)
        med, low = measure(lambda ev=ev: sweep(ev), sweep_reps)
        rows.append(("full sweep (sweep.sweep)", label, med, low, SWEEP_TARGET_MS))

    big = realistic_vm(4096)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "vm4096.apicviz.json"
        save_scenario(big, path)
        size_kib = path.stat().st_size / 1024
        med, low = measure(lambda: load_scenario(path), reps)
        rows.append((f"load saved file ({size_kib:.0f} KiB)", "4096", med, low, None))
        for label, text in HOSTILE_TEXTS.items():
            med, low = measure(lambda text=text: refuse_text(text), reps)
            rows.append((f"refuse hostile scenario text: {label}", "—", med, low, None))
        oversized = Path(tmp) / "oversized.apicviz.json"
        with oversized.open("wb") as handle:  # sparse: 40 MiB of notes, over the 32 MiB file limit
            handle.write(b'{"notes": "')
            handle.seek(40 * 1024 * 1024)
            handle.write(b'", "vcpus": []}')
        med, low = measure(lambda: refuse_file(oversized), reps)
        rows.append(("refuse a 40 MiB scenario file (size limit)", "—", med, low, None))
        env = dict(os.environ)
        env.pop("DISPLAY", None)
        env.pop("WAYLAND_DISPLAY", None)

        def eval_cli(*flags: str) -> None:
            proc = subprocess.run([str(APICVIZ), "eval", *flags, str(path)], capture_output=True, env=env, timeout=300,
                                  check=False)
            if proc.returncode != 0:
                raise RuntimeError(proc.stderr.decode(errors="replace"))

        med, low = measure(lambda: eval_cli("--json"), eval_reps)
        rows.append(("`apicviz eval --json` (subprocess, wall, incl. sweep)", "4096", med, low, EVAL_TARGET_MS))
        med, low = measure(lambda: eval_cli("--json", "--no-sweep"), eval_reps)
        rows.append(("`apicviz eval --json --no-sweep` (subprocess, wall)", "4096", med, low, EVAL_TARGET_MS))
        med, low = measure(eval_cli, eval_reps)
        rows.append(("`apicviz eval` readable (subprocess, wall)", "4096", med, low, EVAL_TARGET_MS))
        start_med, start_low = measure(
            lambda: subprocess.run([sys.executable, "-c", "import apicviz.cli"], check=True, env=env), eval_reps)
        rows.append(("interpreter start + `import apicviz.cli` (for reference)", "—", start_med, start_low, None))

        # Memory.
        load_eval_sweep = (
            "import sys; sys.path.insert(0, %r)\n"
            "from apicviz.model import evaluate, load_scenario\n"
            "from apicviz.model.sweep import sweep\n"
            "ev = evaluate(load_scenario(%r)); sweep(ev)\n"
        )
        huge_path = Path(tmp) / "huge.apicviz.json"
        save_scenario(huge_id_vm(), huge_path)
        base_rss = child_maxrss_kib(f"import sys; sys.path.insert(0, {str(ROOT)!r}); import apicviz.model")
        rss_4096 = child_maxrss_kib(load_eval_sweep % (str(ROOT), str(path)))
        rss_huge = child_maxrss_kib(load_eval_sweep % (str(ROOT), str(huge_path)))
    heap_4096 = traced_peak_mib(lambda: sweep(evaluate(big)))
    huge = huge_id_vm()
    heap_huge = traced_peak_mib(lambda: sweep(evaluate(huge)))
    alloc = huge_but_allocatable_vm()
    heap_alloc = traced_peak_mib(lambda: sweep(evaluate(alloc)))

    print(f"# apicviz model benchmark ({'quick' if args.quick else 'full'} run)\n")
    print(f"Python {sys.version.split()[0]} on {os.uname().sysname} {os.uname().machine}, {os.cpu_count()} CPUs; "
          f"{reps} repetitions (sweep {sweep_reps}, subprocess {eval_reps}); scenario: upstream kernel, 32-bit IDs, "
          "mostly x2APIC with xAPIC cluster/flat vCPUs, a few aliases, 64 interrupts.\n")
    print("| measurement | vCPUs | median | min | target | |")
    print("|---|---:|---:|---:|---:|:-:|")
    for what, n, med, low, target in rows:
        tgt = f"≤ {fmt_ms(target)}" if target is not None else ""
        print(f"| {what} | {n} | {fmt_ms(med)} | {fmt_ms(low)} | {tgt} | {verdict(med, target)} |")

    print("\n## Recalculation cost per vCPU (linear growth means a flat column)\n")
    print("| vCPUs | median | per vCPU |")
    print("|---:|---:|---:|")
    for n, med in per_vcpu:
        print(f"| {n} | {fmt_ms(med)} | {med * 1000 / n:.2f} µs |")

    print("\n## Peak memory\n")
    print("| scenario | Python heap peak (tracemalloc, evaluate + sweep) | process max RSS (load + evaluate + sweep) |")
    print("|---|---:|---:|")
    print(f"| baseline: interpreter + `import apicviz.model` | — | {base_rss / 1024:.1f} MiB |")
    print(f"| 4096 vCPUs | {heap_4096:.1f} MiB | {rss_4096 / 1024:.1f} MiB (+{(rss_4096 - base_rss) / 1024:.1f}) |")
    grown = (rss_huge - base_rss) / 1024
    print(f"| vCPU ID 0xfffffffe | {heap_huge:.2f} MiB | {rss_huge / 1024:.1f} MiB (+{grown:.1f}) |")
    print(f"| max_apic_id 268,435,387 (map of 2 GiB in KVM) | {heap_alloc:.2f} MiB | — |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
