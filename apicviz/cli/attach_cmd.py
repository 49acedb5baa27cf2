"""``apicviz attach SOCKET``: read a running QEMU's vCPUs over QMP into a scenario.

Without ``-o`` the scenario goes to standard output. It is written only
after everything was read (atomically, so nothing is half-written); the
messages go to standard error. Exit status: 0 written, 1 QEMU could not be
read (dead, busy or foreign socket, timeout, refused migration), 2 bad
command line.
"""
from __future__ import annotations

import argparse
import sys

from ..model.errors import ScenarioError, quote
from ..model.kernels import parse_kernel

PROG = "apicviz attach"


def _kernel(text: str) -> str:
    try:
        return parse_kernel(text, "--kernel")
    except ScenarioError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{quote(text)} is not a number of seconds") from None
    if not 0.1 <= value <= 3600:
        raise argparse.ArgumentTypeError(f"{value:g} s is out of range; allowed 0.1..3600")
    return value


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog=PROG,
        description="Connect to a running QEMU's QMP socket (start QEMU with -qmp unix:PATH,server=on,wait=off) "
                    "and build a scenario from its vCPUs: creation order, APIC IDs, xAPIC ID registers, LDR/DFR/SPIV, "
                    "the x2APIC API flags QEMU chose, and the APIC modes.",
    )
    p.add_argument("socket", metavar="SOCKET", help="QMP socket: unix:PATH or PATH")
    p.add_argument("-o", "--output", default="-", metavar="OUT.apicviz.json",
                   help="scenario to write (default: standard output)")
    p.add_argument("--force", action="store_true", help="replace OUT even if it is a read-only file")
    p.add_argument("--mode-from-migration", action="store_true",
                   help="read every vCPU's mode (IA32_APIC_BASE) from a migration to a temporary file; the VM "
                        "pauses while its RAM is written and is resumed afterwards")
    p.add_argument("--kernel", type=_kernel, default=None,
                   help='kernel to model (default: this host\'s, where a KVM VM runs; "upstream" for TCG)')
    p.add_argument("--timeout", type=_seconds, default=10.0, metavar="SECONDS",
                   help="time limit for the greeting and each QMP command (default 10)")
    p.add_argument("--migration-timeout", type=_seconds, default=300.0, metavar="SECONDS",
                   help="time limit for the migration snapshot (default 300)")
    return p


def run(argv: list[str]) -> int:
    from ..importers.common import limit_warnings
    from ..model.safe_write import check_target
    from ..model.scenario_file import save_scenario, scenario_to_text
    from ..qemu.attach import attach

    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else 2
    try:
        if args.output != "-":
            check_target(args.output, args.force)  # a device or read-only file: refused before attaching
        result = attach(args.socket, args.timeout, args.mode_from_migration, args.kernel, args.migration_timeout)
        if args.output == "-":
            sys.stdout.write(scenario_to_text(result.scenario))
            sys.stdout.flush()
        else:
            try:
                save_scenario(result.scenario, args.output, replace_read_only=args.force)
            except OSError as exc:
                raise ScenarioError(args.output, f"cannot write: {exc.strerror or exc}") from None
    except ScenarioError as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted; nothing written", file=sys.stderr)
        return 130
    except Exception as exc:  # noqa: BLE001 - a bug of ours: one line, never a traceback
        print(f"{PROG}: internal error: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    for warning in limit_warnings(result.warnings):
        print(f"{PROG}: warning: {warning}", file=sys.stderr)
    count = len(result.scenario.vcpus)
    where = "standard output" if args.output == "-" else args.output
    print(f"{PROG}: wrote {where}: {count} vCPU{'' if count == 1 else 's'} from {args.socket}", file=sys.stderr)
    return 0
