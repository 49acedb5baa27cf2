"""Shared pieces of the host-check tests: the KVM requirement, scenario building, counters."""
from __future__ import annotations

from typing import Any

import pytest

from apicviz.host.host_info import HostInfo, KvmUnavailable, host_info
from apicviz.model import Scenario, scenario_from_dict

#: test name -> summary line, printed by conftest at the end of the run
COUNTS: dict[str, str] = {}


def require_kvm() -> HostInfo:
    """The host's KVM, or a module-level skip that names why (shown by ``-rs``)."""
    try:
        return host_info()
    except KvmUnavailable as exc:
        pytest.skip(f"host check needs a usable /dev/kvm: {exc}", allow_module_level=True)


def make(vcpus: list[dict[str, Any]], interrupts: list[dict[str, Any]], **kvm: Any) -> Scenario:
    """A scenario from FORMAT.md dictionaries (kernel defaults to upstream; the probe retargets it)."""
    api = {k: kvm.pop(k) for k in ("use_32bit_ids", "disable_broadcast_quirk") if k in kvm}
    raw: dict[str, Any] = {"format": "apicviz-scenario", "version": 1, "kvm": dict(kvm, x2apic_api=api),
                           "vcpus": vcpus, "interrupts": interrupts}
    return scenario_from_dict(raw)
