"""The VM level: resets leave the VM as built, also through the xAPIC-mode cycle older kernels need."""
from __future__ import annotations

import os

import pytest
from kvm_host_helpers import make, require_kvm

from apicviz.host import batch
from apicviz.host.deliver import Message
from apicviz.host.host_info import open_kvm
from apicviz.host.vm import build_vm, verify_unchanged

HOST = require_kvm()


@pytest.mark.parametrize("cycle", [False, True])
def test_x2apic_pages_restore_with_and_without_the_mode_cycle(cycle: bool) -> None:
    scenario = make([{"id": 0, "apic": "x2apic"}, {"id": 0x150, "apic": "x2apic"},
                     {"id": 0x151, "apic": "x2apic", "sw_enabled": False}, {"id": 7, "logical_id": 2}], [])
    kvm_fd = open_kvm()
    try:
        with build_vm(kvm_fd, scenario, {7}, HOST.max_vcpu_id, force_mode_cycle=cycle) as vm:
            assert all((hv.xapic_page is not None) == (cycle and hv.vcpu.x2apic_mode) for hv in vm.vcpus)
            cluster = 0x15 << 16
            messages = [Message(None, "physical", 0xFF, "none", "fixed", 0x40),  # MSI broadcast (quirk)
                        # mixed modes: slow path; vCPU 7's flat ID 2 shares a bit with the low byte 0x03
                        Message(0, "logical", cluster | 0x3, "none", "fixed", 0x41),
                        # 0xff from an xAPIC sender is no x2APIC broadcast: only the xAPIC vCPU
                        Message(3, "physical", 0xFF, "none", "nmi", 0, stub=True),
                        Message(0, "physical", 0x150, "none", "init", 0)]
            for _ in range(3):  # the same again and again: each run must see the VM as built
                got = [o.accepted for o in batch.run(vm, messages, False)]
                assert got == [[0, 1, 3], [1, 3], [3], [1]]
                assert verify_unchanged(vm) == []
    finally:
        os.close(kvm_fd)
