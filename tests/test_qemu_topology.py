"""QEMU's -smp rule and x86 APIC IDs: QEMU's own unit-test data, captures of QEMU 7.2, and a live QEMU."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from qemu_helpers import qemu_vm, start_failure

from apicviz.importers.qemu_topology import (
    SmpConfig,
    apic_id_from_index,
    apic_id_layout,
    apic_id_limit,
    bitwidth_for_count,
    boot_apic_ids,
    parse_smp,
    qemu_enables_x2apic_api,
    slot_apic_ids,
)
from apicviz.model import ScenarioError
from apicviz.qemu.qmp import QmpClient

DATA = Path(__file__).parent / "data" / "qemu"
TOPO_CASES = json.loads((DATA / "x86_topo_cases.json").read_text())["cases"]
SMP_CASES = json.loads((DATA / "smp_qemu72.json").read_text())["cases"]
CONFIG_KEYS = ("cpus", "maxcpus", "sockets", "dies", "clusters", "cores", "threads")


def _topo_config(topo: dict, largest_index: int) -> SmpConfig:
    per_pkg = topo["dies"] * topo.get("modules", 1) * topo["cores"] * topo["threads"]
    sockets = largest_index // per_pkg + 1
    count = sockets * per_pkg
    return SmpConfig(cpus=count, maxcpus=count, sockets=sockets, dies=topo["dies"], modules=topo.get("modules", 1),
                     cores=topo["cores"], threads=topo["threads"])


@pytest.mark.parametrize("case", TOPO_CASES, ids=lambda c: json.dumps(c["topo"], separators=(",", ":")))
def test_qemu_unit_test_expectations(case: dict) -> None:
    ids = {int(k): v for k, v in case.get("ids", {}).items()}
    smp = _topo_config(case["topo"], max(ids, default=0))
    layout = apic_id_layout(smp)
    for level, width in case.get("widths", {}).items():
        assert getattr(layout, f"{level}_width") == width, level
    for level, offset in case.get("offsets", {}).items():
        assert getattr(layout, f"{level}_offset") == offset, level
    for index, apic_id in ids.items():
        assert apic_id_from_index(smp, index) == apic_id, index


def test_bitwidth_is_ceil_log2() -> None:
    assert [bitwidth_for_count(n) for n in (1, 2, 3, 4, 5, 8, 9, 72, 128, 129)] == [0, 1, 2, 2, 3, 3, 4, 7, 7, 8]
    with pytest.raises(ValueError, match="needs at least one item, not 0"):
        bitwidth_for_count(0)


@pytest.mark.parametrize("case", [c for c in SMP_CASES if "config" in c], ids=lambda c: c["smp"])
def test_smp_as_qemu_72_computed_it(case: dict) -> None:
    smp, _ = parse_smp(case["smp"])
    assert {k: getattr(smp, k) for k in CONFIG_KEYS} == {k: case["config"][k] for k in CONFIG_KEYS}
    assert boot_apic_ids(smp) == case["apic_ids"]


@pytest.mark.parametrize("case", [c for c in SMP_CASES if "error" in c and "modules" not in c["smp"]],
                         ids=lambda c: c["smp"])
def test_smp_refused_like_qemu_72(case: dict) -> None:
    with pytest.raises(ScenarioError) as info:
        parse_smp(case["smp"])
    assert "-smp" in str(info.value)


def test_smp_messages_name_the_cause() -> None:
    product = r"sockets \(2\) \* dies \(1\) \* cores \(2\) \* threads \(1\) != maxcpus \(5\)"
    with pytest.raises(ScenarioError, match=product):
        parse_smp("5,sockets=2")
    with pytest.raises(ScenarioError, match="maxcpus \\(2\\) must be at least cpus \\(4\\)"):
        parse_smp("4,maxcpus=2")
    with pytest.raises(ScenarioError, match="unknown parameter 'foo'; allowed cpus, maxcpus"):
        parse_smp("4,foo=1")
    with pytest.raises(ScenarioError, match="not a whole number"):
        parse_smp("1k")
    with pytest.raises(ScenarioError, match="x86 has no clusters"):
        parse_smp("4,clusters=2")
    with pytest.raises(ScenarioError, match="only on s390x"):
        parse_smp("4,books=2")
    with pytest.raises(ScenarioError, match=r"allowed 0\.\.4096"):
        parse_smp("5000")
    with pytest.raises(ScenarioError, match="only the first item may be a bare CPU count"):
        parse_smp("4,2")
    with pytest.raises(ScenarioError, match="empty"):
        parse_smp("")


def test_smp_warnings() -> None:
    _, warnings = parse_smp("4,sockets=0")
    assert any("sockets=0" in w and "omitted" in w for w in warnings)
    _, warnings = parse_smp("cpus=4,cpus=6")
    assert any("given twice" in w for w in warnings)
    _, warnings = parse_smp("288,sockets=2,cores=72,threads=2")
    assert any("need -M q35" in w for w in warnings)
    _, warnings = parse_smp("6,sockets=2,cores=3")
    assert warnings == []


def test_modules_follow_qemu_9_rule() -> None:
    smp, warnings = parse_smp("8,sockets=1,modules=2,cores=2,threads=2")
    assert any("QEMU 7.2 refuses" in w for w in warnings)
    # threads 1 bit, cores 1 bit, modules 1 bit (upstream test-x86-topo.c layout)
    assert boot_apic_ids(smp) == [0, 1, 2, 3, 4, 5, 6, 7]
    smp, _ = parse_smp("6,sockets=1,modules=2,cores=3")
    assert boot_apic_ids(smp) == [0, 1, 2, 4, 5, 6]


def test_prefer_sockets_before_machine_type_6_2() -> None:
    smp, _ = parse_smp("8,threads=2", prefer_sockets=True)
    assert (smp.sockets, smp.cores, smp.threads) == (4, 1, 2)
    assert boot_apic_ids(smp) == [0, 1, 2, 3, 4, 5, 6, 7]
    smp, _ = parse_smp("6,cores=3", prefer_sockets=True)
    assert (smp.sockets, smp.cores) == (2, 3)
    assert boot_apic_ids(smp) == [0, 1, 2, 4, 5, 6]


def test_big_topology_from_the_issue() -> None:
    smp, _ = parse_smp("288,sockets=2,cores=72,threads=2")
    ids = boot_apic_ids(smp)
    assert len(ids) == 288
    assert ids[:4] == [0, 1, 2, 3]
    assert ids[143] == 143
    assert ids[144] == 256
    assert ids[-1] == 399
    assert apic_id_limit(smp) == 400
    assert qemu_enables_x2apic_api(apic_id_limit(smp), False)


def test_hotplug_slots_count_for_the_flags() -> None:
    smp, _ = parse_smp("2,maxcpus=256")
    assert boot_apic_ids(smp) == [0, 1]
    assert len(slot_apic_ids(smp)) == 256
    assert apic_id_limit(smp) == 256
    assert qemu_enables_x2apic_api(256, False)
    smp, _ = parse_smp("255")
    assert apic_id_limit(smp) == 255
    assert not qemu_enables_x2apic_api(255, False)
    assert qemu_enables_x2apic_api(2, True)


# --- against a live QEMU 7.2 ------------------------------------------------------------------------------

@pytest.mark.parametrize("smp_text", ["6,sockets=2,cores=3", "12,sockets=2,dies=3,cores=2", "10,sockets=2,threads=5",
                                      "3,maxcpus=6,threads=2"])
def test_live_qemu_gives_the_same_apic_ids(smp_text: str) -> None:
    smp, _ = parse_smp(smp_text)
    with qemu_vm("-smp", smp_text, limit=60) as vm, QmpClient(vm.qmp) as qmp:
        config = qmp.command("qom-get", path="/machine", property="smp")
        live = [qmp.command("qom-get", path=c["qom-path"], property="apic-id") for c in qmp.command("query-cpus-fast")]
    assert {k: config[k] for k in CONFIG_KEYS} == {k: getattr(smp, k) for k in CONFIG_KEYS}
    assert live == boot_apic_ids(smp)


@pytest.mark.parametrize("smp_text", ["195", "2,maxcpus=195,sockets=3,cores=65", "2,maxcpus=255", "2,maxcpus=256"])
def test_live_qemu_needs_the_x2apic_api_exactly_when_we_say(smp_text: str) -> None:
    """Under TCG QEMU refuses to start exactly when it would need kvm_enable_x2apic() (apic_id_limit > 255)."""
    smp, _ = parse_smp(smp_text)
    failure = start_failure("-M", "q35", "-smp", smp_text)
    needs = qemu_enables_x2apic_api(apic_id_limit(smp), False)
    assert needs == (failure is not None and "X2APIC API" in failure), failure
