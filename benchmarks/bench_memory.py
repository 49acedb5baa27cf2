"""Peak memory (max RSS) of the whole window with a big VM, and of a huge-ID what-if VM.

Run: .venv/bin/python benchmarks/bench_memory.py  (offscreen; prints MB). Target: ≤ 300 MB at 4096 vCPUs.
Each case runs in a fresh process so one does not inherit the other's peak.
"""
from __future__ import annotations

import os
import resource
import subprocess
import sys

CASES = {
    "4096 vCPUs (window, sweep)": "[{'id': i, 'apic': 'xapic' if i < 0x100 else 'x2apic'} for i in range(4096)]",
    "IDs up to 0xfffffffe (window, sweep)": "[{'id': i} for i in range(64)] + [{'id': 0xfffffffe, 'apic': 'x2apic'},"
                                            " {'id': 0x7ffffff0, 'apic': 'x2apic'}]",
}

CHILD = """
import os, resource, sys
os.environ['QT_QPA_PLATFORM'] = 'offscreen'
from apicviz.gui.shell.app import create_application, create_main_window
from apicviz.model import scenario_from_dict
app = create_application(['bench'], remember_settings=False)
vcpus = {vcpus}
w = create_main_window(scenario=scenario_from_dict({{'vcpus': vcpus}}), remember_settings=False)
w.show(); app.processEvents()
w.controller.ensure_sweep(); app.processEvents()
w.controller.scenario.vcpus[1].xapic_id = 0; w.controller.rerun(); w.controller.ensure_sweep(); app.processEvents()
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
"""


def main() -> None:
    print("| case | peak RSS (MB) |")
    print("|---|---|")
    for name, vcpus in CASES.items():
        out = subprocess.run([sys.executable, "-c", CHILD.format(vcpus=vcpus)], capture_output=True, text=True,
                             env=dict(os.environ, QT_QPA_PLATFORM="offscreen"), check=True)
        print(f"| {name} | {float(out.stdout.strip().splitlines()[-1]):.0f} |")
    print(f"(this process: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB)")


if __name__ == "__main__":
    main()
