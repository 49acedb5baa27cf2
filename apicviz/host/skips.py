"""What a real host cannot express, with the reason — never a guess.

Each rule returns ``(code, reason)``: the code is for programs (the GUI picks
its words and colour from it), the reason is the sentence shown to users.
"""
from __future__ import annotations

from ..model.numbers import fmt_id
from ..model.scenario import Interrupt, Scenario
from . import kvm_abi as abi
from .host_info import HostInfo

Skip = tuple[str, str]

#: Scenario-level codes.
HOST_KERNEL = "host_kernel"
TOO_MANY_VCPUS = "too_many_vcpus"
VCPU_ID = "vcpu_id"
MAP_ALLOC_FAILS = "map_alloc_fails"
X2APIC_API = "x2apic_api"
#: Interrupt-level codes.
SIPI = "sipi"
PV_IPI = "pv_ipi"
VECTOR_HASHING = "vector_hashing"
ARB_PRIO = "arb_prio"


def scenario_skip(scenario: Scenario, host: HostInfo) -> Skip | None:
    """Why this scenario cannot be built on this host at all, or None."""
    if host.kernel is None:
        return HOST_KERNEL, (f"the host kernel {host.release} is older than 4.11, whose APIC map the model "
                             "does not cover: nothing to compare with")
    if len(scenario.vcpus) > host.max_vcpus:
        return TOO_MANY_VCPUS, (f"{len(scenario.vcpus)} vCPUs; this host's KVM creates at most "
                                f"{host.max_vcpus} per VM (KVM_CAP_MAX_VCPUS)")
    for index, v in enumerate(scenario.vcpus):
        if v.id >= host.max_vcpu_id:
            return VCPU_ID, (f"vcpus[{index}].id {fmt_id(v.id)} is at or above this host's KVM_CAP_MAX_VCPU_ID "
                             f"({fmt_id(host.max_vcpu_id)}): KVM refuses to create that vCPU")
    if scenario.kvm.map_alloc_fails:
        return MAP_ALLOC_FAILS, ("map_alloc_fails asks what KVM does when allocating the optimized map fails; "
                                 "a real host cannot be made to fail that allocation")
    needed = ((abi.KVM_X2APIC_API_USE_32BIT_IDS if scenario.kvm.use_32bit_ids else 0)
              | (abi.KVM_X2APIC_API_DISABLE_BROADCAST_QUIRK if scenario.kvm.disable_broadcast_quirk else 0))
    if needed & ~host.x2apic_api:
        return X2APIC_API, (f"this host's KVM_CAP_X2APIC_API offers flags {host.x2apic_api:#x}, "
                            f"the scenario needs {needed:#x}")
    return None


def interrupt_skip(scenario: Scenario, irq: Interrupt, host: HostInfo) -> Skip | None:
    """Why this interrupt cannot be sent and read back on this host, or None."""
    if getattr(irq, "via", "icr") == "pv_ipi":
        return PV_IPI, ("a PV IPI is a KVM_HC_SEND_IPI hypercall; this host's KVM does not service hypercalls "
                        "from such a stub")
    if irq.delivery == "sipi":
        return SIPI, "SIPI needs a vCPU in the INIT state"
    if irq.delivery == "lowest":
        if scenario.kvm.vector_hashing != host.vector_hashing:
            return VECTOR_HASHING, (f"lowest priority is arbitrated by kvm.vector_hashing, which is "
                                    f"{_onoff(host.vector_hashing)} on this host and "
                                    f"{_onoff(scenario.kvm.vector_hashing)} in the scenario")
        if not host.vector_hashing and any(v.arb_prio for v in scenario.vcpus):
            return ARB_PRIO, ("without vector hashing KVM arbitrates by arb_prio, which userspace cannot set "
                              "(KVM_SET_LAPIC resets it to 0)")
    return None


def _onoff(value: bool) -> str:
    return "on" if value else "off"
