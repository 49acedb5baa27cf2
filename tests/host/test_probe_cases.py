"""Hand-written host checks: each delivery method and mode, the 6.3 situations, 32-bit IDs, quirk, SMM.

Each case states what the real kernel must do (from the architecture and
KVM-BEHAVIOUR.md for the host's range), and also requires the model to agree.
"""
from __future__ import annotations

import pytest
from kvm_host_helpers import make, require_kvm

from apicviz.host.probe import probe
from apicviz.model import ScenarioError

HOST = require_kvm()
NEW_MAP = HOST.behaviour == "6.3+"

#: vCPU 0 xAPIC, 1 x2APIC, 2 xAPIC (flat logical 0x4), 3 x2APIC, 4 xAPIC software-disabled
MIXED = [
    {"id": 0, "apic": "xapic", "logical_id": 1},
    {"id": 1, "apic": "x2apic"},
    {"id": 2, "apic": "xapic", "logical_id": 4},
    {"id": 3, "apic": "x2apic"},
    {"id": 4, "apic": "xapic", "sw_enabled": False, "logical_id": 8},
]
SENDERS = {"msi": None, "xapic": 0, "x2apic": 1}


def _one(vcpus: list[dict], irq: dict, **kvm: object) -> list[int]:
    """Probe one interrupt; it must agree with the model; return the host's accepted vCPU ids."""
    result = probe(make(vcpus, [irq], **kvm), host=HOST)
    assert result.skipped is None, result.skipped
    check = result.interrupts[0]
    assert not check.skipped, check.skip_reason
    assert check.agree, f"host {check.host_accepted} model {check.model_accepted}"
    return check.host_accepted or []


@pytest.mark.parametrize("method", sorted(SENDERS))
@pytest.mark.parametrize("delivery", ["fixed", "lowest", "nmi", "init", "smi"])
def test_each_method_and_mode_to_one_vcpu(method: str, delivery: str) -> None:
    irq = {"source": SENDERS[method], "dest_mode": "physical", "dest": 2, "delivery": delivery, "vector": 0x41}
    expected = [] if delivery == "smi" and not HOST.smm else [2]
    assert _one(MIXED, irq) == expected


@pytest.mark.parametrize("sender", [0, 1])
@pytest.mark.parametrize("delivery", ["fixed", "nmi", "init"])
def test_self_and_shorthands_seen_on_the_sender(sender: int, delivery: str) -> None:
    present_enabled = [0, 1, 2, 3] if delivery == "fixed" else [0, 1, 2, 3, 4]
    base = {"source": sender, "delivery": delivery, "vector": 0x52}
    assert _one(MIXED, dict(base, shorthand="self")) == [sender]
    assert _one(MIXED, dict(base, shorthand="all")) == present_enabled
    assert _one(MIXED, dict(base, shorthand="all-but-self")) == [i for i in present_enabled if i != sender]


def test_software_disabled_apic_discards_fixed_but_takes_nmi() -> None:
    assert _one(MIXED, {"dest_mode": "physical", "dest": 4, "vector": 0x30}) == []
    assert _one(MIXED, {"dest_mode": "physical", "dest": 4, "delivery": "nmi"}) == [4]


def test_logical_flat_from_xapic_sender_and_msi() -> None:
    assert _one(MIXED, {"source": 2, "dest_mode": "logical", "dest": 0x5, "vector": 0x60}) == [0, 2]
    assert _one(MIXED, {"dest_mode": "logical", "dest": 0x1, "vector": 0x61}) == [0]


def test_sipi_is_skipped_with_its_reason() -> None:
    result = probe(make(MIXED, [{"dest": 2, "delivery": "sipi", "vector": 0x10}]), host=HOST)
    check = result.interrupts[0]
    assert check.skip_code == "sipi"
    assert "INIT" in (check.skip_reason or "")
    assert result.to_json("f")["interrupts"][0] == {"skipped": check.skip_reason}


def test_aliased_xapic_ids_of_the_6_3_change() -> None:
    """Two xAPIC vCPUs with xAPIC ID 0: 6.3+ drops the map (both get it); older kernels pick the first."""
    vcpus = [{"id": 0, "apic": "xapic", "logical_id": 1}, {"id": 1, "apic": "xapic", "xapic_id": 0, "logical_id": 2},
             {"id": 2, "apic": "x2apic"}]
    expected = [0, 1] if NEW_MAP else [0]
    assert _one(vcpus, {"source": 2, "dest": 0, "vector": 0x30}) == expected
    assert _one(vcpus, {"dest": 0, "vector": 0x31}) == expected
    assert _one(vcpus, {"source": 0, "dest": 0, "vector": 0x32}) == expected
    assert _one(vcpus, {"source": 2, "dest": 1, "vector": 0x33}) == []


@pytest.mark.parametrize("use_32bit_ids", [False, True])
def test_hotplug_hack_0x123_and_0x23(use_32bit_ids: bool) -> None:
    vcpus = [{"id": 0, "apic": "x2apic"}, {"id": 0x23}, {"id": 0x123, "xapic_id": 0x23}]
    hack = use_32bit_ids or not NEW_MAP  # vCPU 0x123 sits at phys_map[0x123], 0x23 keeps its slot
    assert _one(vcpus, {"source": 0, "dest": 0x23, "vector": 0x40}, use_32bit_ids=use_32bit_ids) == \
        ([0x23] if hack else [0x23, 0x123])
    assert _one(vcpus, {"source": 0, "dest": 0x123, "vector": 0x41}, use_32bit_ids=use_32bit_ids) == [0x123]


def test_32bit_ids_carry_a_wide_msi_destination() -> None:
    vcpus = [{"id": 0, "apic": "x2apic"}, {"id": 0x123, "apic": "x2apic"}, {"id": 0x23, "apic": "x2apic"}]
    assert _one(vcpus, {"dest": 0x123, "vector": 0x50}, use_32bit_ids=True) == [0x123]
    assert _one(vcpus, {"dest": 0x23, "vector": 0x51}, use_32bit_ids=True) == [0x23]
    with pytest.raises(ScenarioError, match="use_32bit_ids"):  # an 8-bit MSI cannot name 0x123 at all
        make(vcpus, [{"dest": 0x123, "vector": 0x50}])


@pytest.mark.parametrize("quirk_off", [False, True])
def test_broadcast_quirk(quirk_off: bool) -> None:
    vcpus = [{"id": 0, "apic": "x2apic"}, {"id": 1, "apic": "x2apic"}, {"id": 255, "apic": "x2apic"},
             {"id": 3, "apic": "xapic"}]
    everyone = [0, 1, 255, 3]
    got = _one(vcpus, {"dest": 0xFF, "vector": 0x70}, disable_broadcast_quirk=quirk_off)
    assert got == ([255] if quirk_off and NEW_MAP else everyone)


def test_smm_off_is_the_hosts_and_a_disagreement_shows() -> None:
    """The model uses the host's SMM setting; told the opposite, the comparison must catch it."""
    scenario = make(MIXED, [{"dest": 2, "delivery": "smi"}, {"dest": 2, "vector": 0x44}])
    result = probe(scenario, host=HOST)
    assert result.interrupts[0].host_accepted == ([2] if HOST.smm else [])
    assert result.agree
    from dataclasses import replace

    wrong = probe(scenario, host=replace(HOST, smm=not HOST.smm))
    assert [c.agree for c in wrong.interrupts] == [False, True]
    assert not wrong.agree


def test_repeated_interrupts_each_see_the_scenario() -> None:
    """Same vector, same target, ten times: every one is read back alone; the VM ends as built."""
    irqs = [{"source": 0, "dest": 2, "vector": 0x80}] * 5 + [{"dest": 2, "vector": 0x80}] * 5
    result = probe(make(MIXED, irqs), host=HOST)
    assert result.skipped is None
    assert [c.host_accepted for c in result.interrupts] == [[2]] * 10


def test_init_to_itself_resets_the_sender_and_the_next_interrupt_still_finds_it() -> None:
    """vCPU 0 answers to xAPIC ID 5; an INIT to itself resets that to 0; the probe must restore it."""
    vcpus = [{"id": 0, "xapic_id": 5, "logical_id": 1}, {"id": 1, "apic": "x2apic"}]
    irqs = [{"source": 0, "shorthand": "self", "delivery": "init"},
            {"source": 1, "dest": 5, "vector": 0x90},
            {"source": 0, "shorthand": "self", "delivery": "init"},
            {"source": 0, "dest_mode": "logical", "dest": 1, "vector": 0x91}]
    result = probe(make(vcpus, irqs), host=HOST)
    assert result.skipped is None, result.skipped
    assert [c.host_accepted for c in result.interrupts] == [[0], [0], [0], [0]]
    assert result.agree


def test_x2apic_ids_above_0xff_are_restored_through_xapic_mode() -> None:
    """Without 32-bit IDs an x2APIC page of vCPU 0x150 is restored by cycling the mode; logical routing survives."""
    vcpus = [{"id": 0, "apic": "x2apic"}, {"id": 0x150, "apic": "x2apic"}, {"id": 0x151, "apic": "x2apic"}]
    cluster = 0x15 << 16
    irqs = [{"dest": 0x50, "vector": 0x30}, {"source": 0, "dest": 0x150, "vector": 0x31},
            {"source": 0, "dest_mode": "logical", "dest": cluster | 0x3, "vector": 0x31},
            {"source": 0, "dest_mode": "logical", "dest": cluster | 0x2, "vector": 0x32}]
    result = probe(make(vcpus, irqs), host=HOST)
    assert result.skipped is None, result.skipped
    assert [c.host_accepted for c in result.interrupts] == [[], [0x150], [0x150, 0x151], [0x151]]
    assert result.agree
