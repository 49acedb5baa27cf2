"""8-bit MSIs (FORMAT.md "interrupts", KVM-BEHAVIOUR.md 9.1): without 32-bit IDs no MSI names a
destination above 0xff, and the sweep never routes a message nobody can send.

The file rule itself is tested in test_scenario_file.py and the malformed corpus;
here: the sweep, the comparison of two flag sets and the diff command.
"""
from __future__ import annotations

import pytest

from apicviz.model import ScenarioError, evaluate
from apicviz.model.compare import compare
from apicviz.model.scenario import Interrupt, KvmConfig, Scenario, Vcpu, check_scenario
from apicviz.model.sweep import IPI_X2APIC, IPI_XAPIC, KIND_ICR, MSI, sweep

KERNELS = ("4.11", "5.2", "6.1", "6.3", "upstream")
U32 = 0xFFFFFFFF


@pytest.mark.parametrize("kernel", KERNELS)
@pytest.mark.parametrize("apic", ["xapic", "x2apic"])
def test_one_vcpu_vm_has_no_disagreement(kernel, apic):
    """A single vCPU cannot be aliased or left out of the map: with messages that can be sent, KVM, its slow
    path and hardware agree on every destination. (The rows this sweep used to list were MSIs above 0xff,
    which no device can send without 32-bit IDs.)
    """
    ev = evaluate(Scenario(kvm=KvmConfig(kernel=kernel), vcpus=[Vcpu(0, apic=apic)]))
    result = sweep(ev)
    assert result.checked > 0
    assert [r.describe(ev) for r in result.rows] == []


@pytest.mark.parametrize("kernel", KERNELS)
@pytest.mark.parametrize("apic", ["xapic", "x2apic"])
def test_one_vcpu_vm_with_32bit_ids_shows_only_the_broadcast_quirk(kernel, apic):
    """With 32-bit IDs an MSI can name 0xffffffff. With the quirk on it is not a broadcast to the fast path
    and lies above max_apic_id (4.1 steps 4-5, 8.2): KVM drops it, while the APIC takes it as a broadcast
    (an xAPIC one sees 0xff). That is a real difference for a sendable message: the only rows left.
    """
    ev = evaluate(Scenario(kvm=KvmConfig(kernel=kernel, use_32bit_ids=True), vcpus=[Vcpu(0, apic=apic)]))
    rows = sweep(ev).rows
    assert sorted((r.dest_mode, r.dest, r.senders) for r in rows) == [("logical", U32, (MSI,)),
                                                                       ("physical", U32, (MSI,))]
    for r in rows:
        assert r.route.targets == []
        assert r.route.hardware_targets == [0]
        assert r.route.dropped == [0]


@pytest.mark.parametrize("kernel", KERNELS)
def test_xapic_only_vm_sweeps_8_bits_without_32bit_ids(kernel):
    """Nobody in an xAPIC-only VM without 32-bit IDs can write a destination above 0xff into an ICR or an MSI:
    no such row. (A PV IPI names any APIC ID; those rows are tested in test_pv_ipi.py.)

    Before 6.3 the aliases still show up (first writer keeps slot 0); from 6.3 they make the map NULL and
    the slow path agrees with hardware on every 8-bit message, so nothing is left.
    """
    vcpus = [Vcpu(0), Vcpu(1, xapic_id=0), Vcpu(0x123, xapic_id=0x23)]
    ev = evaluate(Scenario(kvm=KvmConfig(kernel=kernel), vcpus=vcpus))
    rows = [r for r in sweep(ev).rows if r.kind == KIND_ICR]
    assert bool(rows) == (not ev.result.behaviour.honors_aliasing)
    assert all(r.dest <= 0xFF for r in rows)
    assert all(set(r.senders) <= {MSI, IPI_XAPIC} for r in rows)


@pytest.mark.parametrize("kernel", ["5.2", "6.1"])  # 32-bit IDs change nothing before 6.3 (8.17)
def test_32bit_msis_bring_back_the_wide_rows(kernel):
    """xAPIC vCPU 0 and x2APIC vCPU 0x300, 32-bit IDs on: an MSI to an unnamed ID 0x100..0x2ff with low byte 0
    reaches vCPU 0 in hardware (it sees 8 bits) but nobody through KVM (no such x2APIC ID; no truncation for
    x2APIC-format messages). Without 32-bit IDs only the x2APIC vCPU's IPI can send those.
    """
    vcpus = [Vcpu(0), Vcpu(0x300, apic="x2apic")]
    wide = sweep(evaluate(Scenario(kvm=KvmConfig(kernel=kernel, use_32bit_ids=True), vcpus=vcpus))).rows
    narrow = sweep(evaluate(Scenario(kvm=KvmConfig(kernel=kernel), vcpus=vcpus))).rows
    wide_msi = [r for r in wide if r.dest > 0xFF and MSI in r.senders]
    assert wide_msi
    assert any(r.count > 1 and r.residue == 0 for r in wide_msi)
    assert all(r.kind == KIND_ICR for r in wide_msi)
    assert [r for r in narrow if r.dest > 0xFF and MSI in r.senders] == []
    assert any(r.dest > 0xFF and r.senders == (IPI_X2APIC,) for r in narrow)


def test_turning_32bit_ids_off_breaks_a_wide_msi():
    """The rule runs on every edit (check_scenario on a copy): the flag cannot go while a wide MSI needs it."""
    sc = Scenario(kvm=KvmConfig(kernel="6.1", use_32bit_ids=True), vcpus=[Vcpu(0), Vcpu(0x123, apic="x2apic")],
                  interrupts=[Interrupt(dest=0x23), Interrupt(dest=0x123)])
    check_scenario(sc)
    sc.kvm.use_32bit_ids = False
    with pytest.raises(ScenarioError) as info:
        check_scenario(sc)
    assert info.value.field == "interrupts[1].dest"
    assert "use_32bit_ids" in str(info.value)


def test_compare_refuses_a_side_that_cannot_send_the_msi():
    sc = Scenario(kvm=KvmConfig(kernel="6.1", use_32bit_ids=True), vcpus=[Vcpu(0x123, apic="x2apic")],
                  interrupts=[Interrupt(dest=0x123)])
    ok = compare(sc, sc.kvm, KvmConfig(kernel="upstream", use_32bit_ids=True))
    assert ok.label_b.startswith("upstream")
    with pytest.raises(ScenarioError, match=r"interrupts\[0\]\.dest"):
        compare(sc, sc.kvm, KvmConfig(kernel="upstream"))


def test_diff_command_names_the_rule(tmp_path, capsys):
    from apicviz.cli import main
    from apicviz.model import save_scenario

    sc = Scenario(kvm=KvmConfig(kernel="6.1", use_32bit_ids=True), vcpus=[Vcpu(0x123, apic="x2apic")],
                  interrupts=[Interrupt(dest=0x123)])
    path = tmp_path / "wide.apicviz.json"
    save_scenario(sc, path)
    assert main(["diff", str(path), "--against-set", "use_32bit_ids=false"]) == 1
    err = capsys.readouterr().err
    assert "interrupts[0].dest" in err
    assert "32-bit IDs" in err
    assert "Traceback" not in err
