"""``apicviz import``: build a scenario from KVM register pages, QEMU's ``info lapic``,
a QEMU ``-smp`` value or a libvirt domain XML.

Nothing is written unless every input parsed and the scenario passed its
checks; the output is then saved atomically, so a failed import never leaves
a half-written file. Exit status: 0 written, 1 bad input (or unwritable
output), 2 bad command line. Messages go to standard error; standard output
carries only the scenario itself with ``-o -``.
"""
from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable

from ..importers.common import ImportResult, limit_warnings, parse_id_list, parse_mode_list
from ..model.errors import ScenarioError
from ..model.kernels import parse_kernel
from ..model.scenario import MAX_VCPUS

PROG = "apicviz import"


class UsageError(Exception):
    """A command-line mistake found after argparse accepted the arguments (exit status 2)."""


def _option(parse: Callable[[str], object]) -> Callable[[str], object]:
    """Turn a ScenarioError from one of our parsers into argparse's usage error (exit 2)."""

    def convert(text: str) -> object:
        try:
            return parse(text)
        except ScenarioError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    return convert


def _apic_bases(text: str) -> list[int]:
    from ..importers.kvm_lapic_state import U64_MAX, apic_mode_from_base
    from ..model.numbers import parse_int

    items = text.split(",")
    if len(items) > MAX_VCPUS:
        raise ScenarioError("--apic-base", f"{len(items)} values; at most {MAX_VCPUS} vCPUs")
    values = [parse_int(item, f"--apic-base[{n}]", 0, U64_MAX) for n, item in enumerate(items)]
    for n, value in enumerate(values):
        apic_mode_from_base(value, f"--apic-base[{n}]")
    return values


def _common_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("-o", "--output", required=True, metavar="OUT.apicviz.json",
                   help="scenario to write ('-' for standard output); written only if the whole import succeeds")
    p.add_argument("--force", action="store_true", help="replace OUT even if it is a read-only file")
    p.add_argument("--ids", type=_option(parse_id_list), metavar="ID,ID,...",
                   help="vCPU IDs in input order, decimal or hex (e.g. 0,1,0x123)")
    p.add_argument("--x2apic-32bit-ids", action="store_true",
                   help="KVM_X2APIC_API_USE_32BIT_IDS was enabled (sets kvm.x2apic_api.use_32bit_ids)")
    p.add_argument("--kernel", type=_option(parse_kernel), default="upstream",
                   help='kernel whose KVM behaviour to model: "MAJOR.MINOR" or "upstream" (default)')


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog=PROG, description="Build a scenario from KVM or QEMU local-APIC dumps.")
    sub = p.add_subparsers(dest="format", metavar="FORMAT", required=True)
    kvm = sub.add_parser(
        "kvm-lapic-state",
        help="struct kvm_lapic_state pages (KVM_GET_LAPIC), 1024 bytes per vCPU",
        description="Import KVM_GET_LAPIC register pages: 1024 bytes per vCPU, several pages or files in "
                    "vCPU creation order.",
    )
    kvm.add_argument("files", nargs="+", metavar="FILE", help="page file(s); '-' reads standard input")
    _common_options(kvm)
    kvm.add_argument("--apic-base", type=_option(_apic_bases), metavar="VALUE,...",
                     help="IA32_APIC_BASE per vCPU, or one for all (bit 11 EN, bit 10 EXTD); default: xAPIC")
    qemu = sub.add_parser(
        "qemu-info-lapic",
        help="text of QEMU's HMP `info lapic` (one or more CPUs)",
        description="Import the text of QEMU's HMP `info lapic`, one CPU's dump or several pasted together.",
    )
    qemu.add_argument("file", metavar="FILE", help="text file; '-' reads standard input")
    _common_options(qemu)
    qemu.add_argument("--mode", type=_option(parse_mode_list), metavar="MODE[,MODE...]",
                      help="xapic, x2apic or disabled: one for all or one per dump (default: xapic)")
    smp = sub.add_parser(
        "qemu-smp",
        help="the vCPUs QEMU creates for an -smp value, with QEMU's APIC IDs",
        description="The vCPUs QEMU 7.2 creates for -smp SMP (KVM), in creation order, with the APIC IDs of "
                    "QEMU's topology rule and the x2APIC API flags QEMU would set. Example: "
                    "apicviz import qemu-smp 288,sockets=2,cores=72,threads=2 -o big.apicviz.json",
    )
    smp.add_argument("smp", metavar="SMP", help="the value of QEMU's -smp, e.g. 6,sockets=2,cores=3")
    _topology_options(smp)
    smp.add_argument("--iommu-eim", action="store_true",
                     help="the VM has an IOMMU with x2APIC interrupt remapping (intel-iommu eim=on, amd-iommu "
                          "xtsup=on): QEMU then enables the x2APIC API")
    smp.add_argument("--prefer-sockets", action="store_true",
                     help="fill in missing counts as machine types before 6.2 do (sockets before cores)")
    virt = sub.add_parser(
        "libvirt",
        help="the vCPUs QEMU creates for a libvirt domain XML (virsh dumpxml)",
        description="The vCPUs QEMU creates for a libvirt domain (<vcpu>, <vcpus> with order, <topology>, the "
                    "IOMMU's eim), in creation order, with their APIC IDs and the x2APIC API flags.",
    )
    virt.add_argument("file", metavar="DOMAIN.xml", help="domain XML; '-' reads standard input")
    _topology_options(virt)
    return p


def _topology_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("-o", "--output", required=True, metavar="OUT.apicviz.json",
                   help="scenario to write ('-' for standard output); written only if the whole import succeeds")
    p.add_argument("--force", action="store_true", help="replace OUT even if it is a read-only file")
    group = p.add_mutually_exclusive_group()
    group.add_argument("--xapic", dest="mode", action="store_const", const="xapic",
                       help="the guest keeps every APIC in xAPIC mode")
    group.add_argument("--x2apic", dest="mode", action="store_const", const="x2apic",
                       help="the guest switched every APIC to x2APIC (Linux does on KVM when the CPU has x2APIC)")
    p.add_argument("--all-slots", action="store_true",
                   help="also the hot-pluggable maxcpus slots, as if plugged in slot order (default: only the "
                        "vCPUs that exist at start)")
    p.add_argument("--kernel", type=_option(parse_kernel), default="upstream",
                   help='kernel whose KVM behaviour to model: "MAJOR.MINOR" or "upstream" (default)')


def _display_name(path: str) -> str:
    from ..model.file_io import display_name

    return display_name(path)


def _run_kvm(args: argparse.Namespace) -> ImportResult:
    from ..importers.kvm_lapic_state import KVM_APIC_REG_SIZE, import_lapic_sources
    from ..model.file_io import read_all_bounded

    limit = MAX_VCPUS * KVM_APIC_REG_SIZE
    sources = read_all_bounded(args.files, limit, f"{MAX_VCPUS} kvm_lapic_state pages", max_files=MAX_VCPUS)
    bases = args.apic_base
    return import_lapic_sources(sources, args.ids, bases, args.x2apic_32bit_ids)


def _run_qemu(args: argparse.Namespace) -> ImportResult:
    from ..importers.qemu_info_lapic import MAX_INFO_LAPIC_BYTES, import_info_lapic
    from ..model.file_io import read_bounded

    name = _display_name(args.file)
    data = read_bounded(args.file, MAX_INFO_LAPIC_BYTES, "an `info lapic` dump", name=name)
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ScenarioError(
            f"{name}: byte {exc.start}",
            f"not UTF-8 text (byte {data[exc.start]:#04x}); `info lapic` output is plain text",
        ) from None
    result = import_info_lapic(text, args.ids, args.mode, name)
    result.scenario.kvm.use_32bit_ids = args.x2apic_32bit_ids
    return result


def _run_smp(args: argparse.Namespace) -> ImportResult:
    from ..importers.topology_scenario import import_qemu_smp

    return import_qemu_smp(args.smp, args.mode, args.iommu_eim, args.all_slots, args.prefer_sockets)


def _run_libvirt(args: argparse.Namespace) -> ImportResult:
    from ..importers.libvirt_domain import MAX_XML_BYTES, import_libvirt_domain
    from ..model.file_io import read_bounded

    name = _display_name(args.file)
    data = read_bounded(args.file, MAX_XML_BYTES, "a domain XML", name=name)
    return import_libvirt_domain(data, args.mode, name, args.all_slots)


_RUNNERS = {"kvm-lapic-state": _run_kvm, "qemu-info-lapic": _run_qemu, "qemu-smp": _run_smp,
            "libvirt": _run_libvirt}


def _inputs(args: argparse.Namespace) -> list[str]:
    if args.format == "kvm-lapic-state":
        return list(args.files)
    return [args.file] if hasattr(args, "file") else []


def _check_output(args: argparse.Namespace, inputs: list[str]) -> None:
    from ..model.safe_write import check_target

    if args.output == "-":
        return
    check_target(args.output, args.force)  # a device, directory or read-only file: refused before any work
    for path in inputs:
        if (path != "-" and os.path.exists(args.output) and os.path.exists(path)
                and os.path.samefile(args.output, path)):
            raise UsageError(f"-o {args.output} is also an input file; choose another output")


def _write(result: ImportResult, output: str, force: bool) -> None:
    from ..model.scenario_file import save_scenario, scenario_to_text

    if output == "-":
        sys.stdout.write(scenario_to_text(result.scenario))
        sys.stdout.flush()
        return
    try:
        save_scenario(result.scenario, output, replace_read_only=force)
    except OSError as exc:
        raise ScenarioError(output, f"cannot write: {exc.strerror or exc}") from None


def run(argv: list[str]) -> int:
    """Run ``apicviz import``; returns the exit status and never raises."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # usage error (2) or --help (0)
        return exc.code if isinstance(exc.code, int) else 2
    try:
        _check_output(args, _inputs(args))
        result = _RUNNERS[args.format](args)
        result.scenario.kvm.kernel = args.kernel
        _write(result, args.output, args.force)
    except UsageError as exc:
        parser.print_usage(sys.stderr)
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 2
    except ScenarioError as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 1
    except Exception as exc:  # noqa: BLE001 - a bug of ours: say so in one line, never a traceback
        print(f"{PROG}: internal error: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    for warning in limit_warnings(result.warnings):
        print(f"{PROG}: warning: {warning}", file=sys.stderr)
    count = len(result.scenario.vcpus)
    where = "standard output" if args.output == "-" else args.output
    print(f"{PROG}: wrote {where}: {count} vCPU{'' if count == 1 else 's'}, "
          f"{len(result.warnings)} warning{'' if len(result.warnings) == 1 else 's'}", file=sys.stderr)
    return 0
