"""``apicviz diff``: one scenario under two kernels or flag sets."""
from __future__ import annotations

import argparse

from ..model import load_scenario


def run(argv: list[str]) -> int:
    from ..model.compare import compare, parse_kvm_overrides

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
    kvm_b = parse_kvm_overrides(scenario.kvm, args.against, args.set_b,
                                kernel_option="--against", set_option="--against-set")
    comp = compare(scenario, kvm_a, kvm_b)
    print("\n".join(comp.lines()))
    return 0
