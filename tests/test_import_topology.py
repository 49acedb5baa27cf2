"""``apicviz import qemu-smp`` and ``apicviz import libvirt``: vCPUs, creation order, APIC IDs, flags."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from import_helpers import only_files, run_cli, run_main
from qemu_helpers import qemu_vm

from apicviz.importers.libvirt_domain import import_libvirt_domain, parse_xml_safely
from apicviz.importers.qemu_topology import parse_smp
from apicviz.importers.topology_scenario import import_qemu_smp
from apicviz.model import ScenarioError, evaluate, load_scenario
from apicviz.qemu.qmp import QmpClient

LIBVIRT = Path(__file__).parent / "data" / "libvirt"


def ids(result) -> list[int]:
    return [v.id for v in result.scenario.vcpus]


# --- qemu-smp ------------------------------------------------------------------------------------------

def test_smp_six_vcpus_two_sockets() -> None:
    result = import_qemu_smp("6,sockets=2,cores=3")
    assert ids(result) == [0, 1, 2, 4, 5, 6]
    assert {v.apic for v in result.scenario.vcpus} == {"xapic"}
    assert [v.xapic_id for v in result.scenario.vcpus] == [0, 1, 2, 4, 5, 6]
    assert not result.scenario.kvm.use_32bit_ids
    assert not result.scenario.kvm.disable_broadcast_quirk
    assert "-smp 6,sockets=2,cores=3,threads=1" in result.scenario.notes


def test_smp_big_vm_defaults_to_x2apic_with_both_flags() -> None:
    result = import_qemu_smp("288,sockets=2,cores=72,threads=2")
    assert len(ids(result)) == 288
    assert ids(result)[144] == 256
    assert ids(result)[-1] == 399
    assert {v.apic for v in result.scenario.vcpus} == {"x2apic"}
    assert result.scenario.kvm.use_32bit_ids
    assert result.scenario.kvm.disable_broadcast_quirk
    assert evaluate(result.scenario).to_json()["map"]["status"] == "optimized"


def test_smp_xapic_big_vm_warns_of_wrapping_ids() -> None:
    result = import_qemu_smp("288,sockets=2,cores=72,threads=2", mode="xapic")
    assert any("wrap" in w for w in result.warnings)
    assert result.scenario.vcpus[144].xapic_id == 0  # APIC ID 0x100 -> xAPIC ID 0x00
    assert evaluate(result.scenario).to_json()["aliases"]["physical"]["0"] == [0, 256]


def test_smp_hotplug_slots() -> None:
    assert ids(import_qemu_smp("2,maxcpus=4,sockets=2,cores=2")) == [0, 1]
    assert ids(import_qemu_smp("2,maxcpus=4,sockets=2,cores=2", all_slots=True)) == [0, 1, 2, 3]
    result = import_qemu_smp("2,maxcpus=256")  # only two vCPUs, but the slots reach APIC ID 0xff
    assert ids(result) == [0, 1]
    assert result.scenario.kvm.use_32bit_ids
    assert "APIC ID, 0xff, is 0xff or more" in result.scenario.notes


def test_smp_iommu_sets_flags() -> None:
    assert import_qemu_smp("4", iommu_x2apic=True).scenario.kvm.use_32bit_ids


def test_cli_qemu_smp_writes_atomically(tmp_path: Path, capsys) -> None:
    out = tmp_path / "vm.apicviz.json"
    run = run_main(capsys, "qemu-smp", "6,sockets=2,cores=3", "-o", str(out), "--x2apic", "--kernel", "6.1")
    assert run.status == 0, run.err
    scenario = load_scenario(out)
    assert [v.id for v in scenario.vcpus] == [0, 1, 2, 4, 5, 6]
    assert {v.apic for v in scenario.vcpus} == {"x2apic"}
    assert scenario.kvm.kernel == "6.1"
    before = only_files(tmp_path)
    bad = run_main(capsys, "qemu-smp", "5,sockets=2", "-o", str(tmp_path / "bad.json"))
    assert bad.status == 1
    assert "product of the levels must match maxcpus" in bad.err
    assert "Traceback" not in bad.err
    assert only_files(tmp_path) == before
    usage = run_main(capsys, "qemu-smp", "4", "-o", str(out), "--xapic", "--x2apic")
    assert usage.status == 2


def test_installed_cli_qemu_smp_to_stdout() -> None:
    run = run_cli("qemu-smp", "4,threads=2", "-o", "-")
    assert run.status == 0
    assert [v["id"] for v in json.loads(run.out)["vcpus"]] == [0, 1, 2, 3]


# --- libvirt --------------------------------------------------------------------------------------------

def test_libvirt_order_decides_creation_order() -> None:
    result = import_libvirt_domain((LIBVIRT / "ordered_hotplug.xml").read_bytes(), None, "ordered_hotplug.xml")
    # slots 0, 1 at boot; then libvirt vcpu 4 (order 3) and vcpu 2 (order 4); sockets=2, cores=3 -> 2 core bits
    assert ids(result) == [0, 1, 5, 2]
    assert not result.scenario.kvm.use_32bit_ids
    assert result.scenario.title == "libvirt domain ordered (4 vCPUs)"
    every = import_libvirt_domain((LIBVIRT / "ordered_hotplug.xml").read_bytes(), None, "x", all_slots=True)
    assert ids(every) == [0, 1, 5, 2, 4, 6]


def test_libvirt_iommu_eim_sets_both_flags() -> None:
    result = import_libvirt_domain((LIBVIRT / "big_iommu_eim.xml").read_bytes(), None, "big.xml")
    assert ids(result) == list(range(16))
    assert result.scenario.kvm.use_32bit_ids
    assert result.scenario.kvm.disable_broadcast_quirk
    assert "intel IOMMU with eim='on'" in result.scenario.notes
    assert {v.apic for v in result.scenario.vcpus} == {"xapic"}


def test_libvirt_without_topology_and_without_x2apic() -> None:
    result = import_libvirt_domain((LIBVIRT / "no_topology.xml").read_bytes(), None, "plain.xml")
    assert ids(result) == [0, 1, 2]
    assert any("not 'kvm'" in w for w in result.warnings)
    with pytest.raises(ScenarioError, match="x2apic CPU feature is disabled"):
        import_libvirt_domain((LIBVIRT / "no_topology.xml").read_bytes(), "x2apic", "plain.xml")


@pytest.mark.parametrize("name", ["entity_bomb.xml", "external_entity.xml"])
def test_libvirt_refuses_doctypes(name: str) -> None:
    with pytest.raises(ScenarioError, match="DOCTYPE"):
        import_libvirt_domain((LIBVIRT / name).read_bytes(), None, name)


@pytest.mark.parametrize(("xml", "message"), [
    ("<domain type='kvm'><vcpu>two</vcpu></domain>", "expected a whole number"),
    ("<domain type='kvm'></domain>", "no <vcpu> element"),
    ("<domain type='kvm'><vcpu current='3'>2</vcpu></domain>", "out of range; allowed 1..2"),
    ("<domain type='kvm'><vcpu>4</vcpu><cpu><topology sockets='2' cores='3' threads='1'/></cpu></domain>",
     "sockets\\*dies\\*cores\\*threads = 6, but <vcpu> is 4"),
    (("<domain type='kvm'><vcpu>4</vcpu><cpu><topology sockets='2' clusters='2' cores='1' threads='1'/></cpu>"
     "</domain>"), "no clusters"),
    (("<domain type='kvm'><vcpu current='1'>2</vcpu><vcpus><vcpu id='0' enabled='yes' hotpluggable='yes' order='1'/>"
     "<vcpu id='1' enabled='no' hotpluggable='yes'/></vcpus></domain>"), "QEMU needs vCPU 0 at boot"),
    (("<domain type='kvm'><vcpu current='2'>3</vcpu><vcpus><vcpu id='0' enabled='yes' hotpluggable='no'/>"
     "<vcpu id='1' enabled='no' hotpluggable='yes'/><vcpu id='2' enabled='yes' hotpluggable='no'/></vcpus></domain>"),
     "must be 0..1"),
    (("<domain type='kvm'><vcpu current='2'>2</vcpu><vcpus><vcpu id='0' enabled='yes' order='1'/>"
     "<vcpu id='1' enabled='yes' hotpluggable='yes'/></vcpus></domain>"), "order is given for some"),
    ("<domain type='kvm'><vcpu>2</vcpu><vcpus><vcpu id='0' enabled='yes'/></vcpus></domain>", "missing ids \\[1\\]"),
    ("<domain type='kvm'><vcpu>2</vcpu><vcpus><vcpu id='0' enabled='maybe'/></vcpus></domain>", "use 'yes' or 'no'"),
    ("<domain><vcpu>2</vcpu>", "not well-formed XML"),
    ("<network/>", "not <domain>"),
    ("<domain type='kvm'><name>&foo;</name><vcpu>2</vcpu></domain>", "undefined entity"),
])
def test_libvirt_bad_domains(xml: str, message: str) -> None:
    with pytest.raises(ScenarioError, match=message):
        import_libvirt_domain(xml, None, "d.xml")


def test_parse_xml_keeps_namespaced_tags() -> None:
    root = parse_xml_safely("<domain xmlns:qemu='x'><qemu:commandline/></domain>", "d.xml")
    assert root.find("qemu:commandline") is not None


def test_cli_libvirt(tmp_path: Path, capsys) -> None:
    out = tmp_path / "d.apicviz.json"
    run = run_main(capsys, "libvirt", str(LIBVIRT / "ordered_hotplug.xml"), "-o", str(out))
    assert run.status == 0, run.err
    assert [v.id for v in load_scenario(out).vcpus] == [0, 1, 5, 2]
    bad = run_main(capsys, "libvirt", str(LIBVIRT / "entity_bomb.xml"), "-o", str(tmp_path / "x.json"))
    assert bad.status == 1
    assert "DOCTYPE" in bad.err
    assert not (tmp_path / "x.json").exists()


def test_libvirt_order_matches_a_live_qemu() -> None:
    """Do what libvirt does for ordered_hotplug.xml — -smp 2,maxcpus=6,... then device_add in order — and compare."""
    result = import_libvirt_domain((LIBVIRT / "ordered_hotplug.xml").read_bytes(), None, "ordered_hotplug.xml")
    smp, _ = parse_smp("6,sockets=2,cores=3,threads=1")
    with qemu_vm("-smp", "2,maxcpus=6,sockets=2,dies=1,cores=3,threads=1", limit=60) as vm, \
            QmpClient(vm.qmp) as qmp:
        slots = qmp.command("query-hotpluggable-cpus")
        for slot_index in (4, 2):  # libvirt vcpu ids by order 3, 4
            want = {"socket-id": slot_index // (smp.cores * smp.threads),
                    "core-id": slot_index // smp.threads % smp.cores, "thread-id": slot_index % smp.threads}
            (slot,) = [s for s in slots if {k: s["props"].get(k) for k in want} == want]
            qmp.command("device_add", driver=slot["type"], id=f"vcpu{slot_index}", **slot["props"])
        live = [qmp.command("qom-get", path=c["qom-path"], property="apic-id") for c in qmp.command("query-cpus-fast")]
    assert live == ids(result)


QT_CHECK = (
    "import contextlib, io, sys\n"
    "from apicviz.cli import main\n"
    "with contextlib.redirect_stdout(io.StringIO()):\n"
    "    status = main({argv!r})\n"
    "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('PySide6', 'shiboken6', 'pyqtgraph'))\n"
    "assert status == 0, status\n"
    "assert not bad, bad\n"
)


def run_without_qt(argv: list[str]) -> None:
    """What a real run loads, lazy imports included: no Qt for these subcommands."""
    import subprocess
    import sys

    proc = subprocess.run([sys.executable, "-c", QT_CHECK.format(argv=argv)], capture_output=True, text=True,
                          timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr


@pytest.mark.parametrize("argv", [["import", "qemu-smp", "6,sockets=2,cores=3", "-o", "-"],
                                  ["import", "libvirt", str(LIBVIRT / "ordered_hotplug.xml"), "-o", "-"]])
def test_topology_imports_never_load_qt(argv: list[str]) -> None:
    run_without_qt(argv)
