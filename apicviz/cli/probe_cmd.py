"""``apicviz probe``: run each scenario on this machine's KVM and compare with the model (FORMAT.md, "Host check").

Exit status: 0 when every compared interrupt agrees, 1 when one disagrees or a
file is invalid, 2 when KVM cannot be used here at all.
"""
from __future__ import annotations

import argparse
import json
import sys


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="apicviz probe",
        description="Build each scenario as a real VM on /dev/kvm (no guest OS), deliver every interrupt and "
                    "compare who accepted it with the model for the host's kernel and configuration.")
    p.add_argument("files", nargs="+", metavar="FILE")
    p.add_argument("--json", action="store_true", help="one JSON result per line (FORMAT.md, Host check)")
    p.add_argument("--sweep", action="store_true",
                   help="also send every destination of the model's sweep as an MSI and as an IPI from each mode")
    other = p.add_argument_group("another kernel", "boot KERNEL in a throwaway VM (virtme-ng, QEMU) and probe there")
    other.add_argument("--kernel", metavar="KERNEL", help="a kernel image (bzImage, /boot/vmlinuz-*) or a built tree")
    other.add_argument("--modules", metavar="DIR", help="its modules: INSTALL_MOD_PATH of 'make modules_install'")
    other.add_argument("--kernel-package", metavar="PKG.deb",
                       help="a distribution kernel package, e.g. linux-image-*.deb")
    other.add_argument("--timeout", type=float, default=240.0, metavar="S", help="give up on the guest after S seconds")
    return p


def run(argv: list[str]) -> int:
    from ..host.host_info import KvmUnavailable, host_info
    from ..host.probe import probe
    from ..host.probe_text import host_header, probe_text
    from ..model import ScenarioError, load_scenario

    args = _parser().parse_args(argv)
    if args.kernel or args.kernel_package:
        from .probe_kernel import run_on_kernel

        return run_on_kernel(args)
    if args.modules:
        print("apicviz probe: --modules needs --kernel", file=sys.stderr)
        return 2
    out = sys.stdout
    try:
        host = host_info()
    except KvmUnavailable as exc:
        print(f"apicviz probe: KVM cannot be used here: {exc}", file=sys.stderr)
        return 2
    if not args.json:
        out.write(host_header(host) + "\n")
    status = 0
    for path in args.files:
        try:
            scenario = load_scenario(path)
        except (ScenarioError, OSError) as exc:
            status = 1
            message = str(exc) if isinstance(exc, ScenarioError) else f"cannot read: {exc.strerror or exc}"
            if args.json:
                out.write(json.dumps({"file": path, "error": message}) + "\n")
            else:
                print(f"{path}: error: {message}", file=sys.stderr)
            continue
        try:
            result = probe(scenario, sweep=args.sweep, host=host)
        except KvmUnavailable as exc:
            print(f"apicviz probe: KVM cannot be used here: {exc}", file=sys.stderr)
            return 2
        except Exception as exc:  # noqa: BLE001 - never a traceback for one file; the others still run
            status = 1
            message = f"internal error while probing: {type(exc).__name__}: {exc}"
            if args.json:
                out.write(json.dumps({"file": path, "error": message}) + "\n")
            else:
                print(f"{path}: {message}", file=sys.stderr)
            continue
        if not result.agree:
            status = 1
        if args.json:
            out.write(json.dumps(result.to_json(path), separators=(",", ":")) + "\n")
        else:
            out.write(probe_text(path, scenario, result))
        out.flush()
    return status
