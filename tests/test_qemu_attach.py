"""``apicviz attach``: a real QEMU 7.2 (TCG, and KVM for x2APIC), paused or running a boot-sector guest."""
from __future__ import annotations

import json
import os
import re
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from guest_bootsector import DONE_ADDR, ApicSetup, build_bootsector
from qemu_helpers import Qemu, qemu_vm, require_kvm

from apicviz.cli.attach_cmd import run as attach_main
from apicviz.model import evaluate, load_scenario
from apicviz.model.scenario import DFR_CLUSTER, DFR_FLAT
from apicviz.qemu.attach import attach
from apicviz.qemu.qmp import QmpClient, QmpError

SMP6 = "6,sockets=2,cores=3"  # APIC IDs 0, 1, 2, 4, 5, 6
#: What each vCPU of the guest programs (by initial APIC ID): vCPU 5 rewrites its xAPIC ID to 1 (an alias).
GUEST = {
    0: ApicSetup(ldr=0x01),
    1: ApicSetup(ldr=0x02),
    2: ApicSetup(ldr=0x04, spiv=0x0FF),
    4: ApicSetup(dfr=0x0FFFFFFF, ldr=0x21),
    5: ApicSetup(ldr=0x10, new_xapic_id=1),
    6: ApicSetup(ldr=0x40),
}


def wait_done(vm: Qemu, count: int, limit: float = 90) -> None:
    """Poll the guest's done counter (HMP xp) until every vCPU programmed its APIC."""
    deadline = time.monotonic() + limit
    with QmpClient(vm.qmp) as qmp:
        while True:
            text = qmp.command("human-monitor-command", **{"command-line": f"xp /1wx {DONE_ADDR:#x}"})
            if int(text.split(":")[1], 16) >= count:
                return
            if time.monotonic() > deadline:
                raise AssertionError(f"the guest did not finish within {limit} s: {text!r}")
            time.sleep(0.2)


@contextmanager
def guest(setups: dict[int, ApicSetup], *args: str, smp: str = SMP6, count: int = 6) -> Iterator[Qemu]:
    """QEMU running the boot-sector guest until every vCPU has programmed its APIC."""
    with qemu_vm(*args, "-smp", smp, paused=False, limit=240, boot_image=build_bootsector(setups)) as vm:
        wait_done(vm, count)
        yield vm


def expected(setups: dict[int, ApicSetup], ids: list[int], x2apic: set[int] = frozenset()) -> list[dict]:
    out = []
    for i in ids:
        s = setups[i]
        if i in x2apic:
            out.append({"id": i, "apic": "x2apic", "sw_enabled": bool(s.spiv & 0x100)})
        else:
            out.append({"id": i, "apic": "xapic", "sw_enabled": bool(s.spiv & 0x100),
                        "xapic_id": i if s.new_xapic_id is None else s.new_xapic_id, "logical_id": s.ldr,
                        "dfr": DFR_FLAT if s.dfr == 0xFFFFFFFF else DFR_CLUSTER})
    return out


def seen(result) -> list[dict]:
    out = []
    for v in result.scenario.vcpus:
        if v.apic == "x2apic":
            out.append({"id": v.id, "apic": v.apic, "sw_enabled": v.sw_enabled})
        else:
            out.append({"id": v.id, "apic": v.apic, "sw_enabled": v.sw_enabled, "xapic_id": v.xapic_id,
                        "logical_id": v.logical_id, "dfr": v.dfr})
    return out


def status(vm: Qemu) -> dict:
    with QmpClient(vm.qmp) as qmp:
        return qmp.command("query-status")


# --- paused VMs (-S) ----------------------------------------------------------------------------------------

def test_attach_paused_vm() -> None:
    with qemu_vm("-smp", SMP6, "-name", "paused6") as vm:
        result = attach(vm.qmp)
        assert status(vm)["status"] == "prelaunch"  # reading does not start or stop anything
    s = result.scenario
    assert [v.id for v in s.vcpus] == [0, 1, 2, 4, 5, 6]
    assert all(v.apic == "xapic" and not v.sw_enabled and v.xapic_id == v.id and v.logical_id == 0
               and v.dfr == DFR_FLAT for v in s.vcpus)  # the reset state: SPIV 0xff, LDR 0, DFR flat
    assert not s.kvm.use_32bit_ids
    assert s.kvm.kernel == "upstream"
    assert s.title == "QEMU 'paused6' attached (6 vCPUs)"
    assert re.search(r"to QEMU \d+\.\d+\.\d+", s.notes), s.notes  # the version from the QMP greeting
    assert vm.qmp in s.notes
    assert " UTC" in s.notes
    assert "TCG" in s.notes
    assert "the CPU model has no x2APIC" in s.notes  # TCG: the mode is certain without migration
    assert not any("assumed xAPIC" in w for w in result.warnings)


def test_attach_order_after_hotplug() -> None:
    """query-cpus-fast order is creation order; cpu-index is the slot."""
    with qemu_vm("-smp", "1,maxcpus=4,cores=4") as vm:
        with QmpClient(vm.qmp) as qmp:
            slots = {s["props"]["core-id"]: s for s in qmp.command("query-hotpluggable-cpus")}
            for core in (3, 1):
                qmp.command("device_add", driver=slots[core]["type"], id=f"c{core}", **slots[core]["props"])
            indexes = [c["cpu-index"] for c in qmp.command("query-cpus-fast")]
        result = attach(vm.qmp)
    assert indexes == [0, 3, 1]
    assert [v.id for v in result.scenario.vcpus] == [0, 3, 1]


def test_attach_with_migration_leaves_a_paused_vm_paused() -> None:
    with qemu_vm("-smp", "2") as vm:
        result = attach(vm.qmp, mode_from_migration=True)
        assert status(vm)["running"] is False
    assert [v.apic for v in result.scenario.vcpus] == ["xapic", "xapic"]
    assert any("left paused" in w for w in result.warnings)
    assert "from IA32_APIC_BASE in the migration stream" in result.scenario.notes


# --- the boot-sector guest ----------------------------------------------------------------------------------

def test_attach_guest_tcg_equals_what_it_programmed() -> None:
    with guest(GUEST) as vm:
        result = attach(vm.qmp)
        migrated = attach(vm.qmp, mode_from_migration=True)
        after = status(vm)
    want = expected(GUEST, [0, 1, 2, 4, 5, 6])
    assert seen(result) == want
    assert seen(migrated) == want
    assert after["status"] == "running"
    ev = evaluate(result.scenario).to_json()
    assert ev["aliases"]["physical"] == {"1": [1, 5]}  # vCPU 5 rewrote its xAPIC ID to 1


def test_attach_guest_kvm_x2apic_mode_needs_migration() -> None:
    require_kvm()
    setups = dict(GUEST)
    setups[6] = ApicSetup(ldr=0x40, x2apic=True)
    with guest(setups, "-accel", "kvm", "-cpu", "qemu64,+x2apic") as vm:
        inferred = attach(vm.qmp)
        migrated = attach(vm.qmp, mode_from_migration=True)
        after = status(vm)
    assert after["status"] == "running"
    assert after["running"] is True
    assert seen(migrated) == expected(setups, [0, 1, 2, 4, 5, 6], x2apic={6})
    # Without the stream vCPU 6 looks like an xAPIC vCPU with LDR 0: said plainly, per vCPU.
    assert [v.apic for v in inferred.scenario.vcpus] == ["xapic"] * 6
    warned = [w for w in inferred.warnings if "mode assumed xAPIC" in w]
    assert any(w.startswith("vCPU 0x6:") for w in warned)
    assert not any(w.startswith("vCPU 0x5:") for w in warned)
    assert "vCPU 0x5: xAPIC: the lapic id reads the xAPIC ID register" in inferred.scenario.notes
    assert "accelerator KVM" in migrated.scenario.notes
    assert "kvm-apic" in migrated.scenario.notes


def test_attach_cli_writes_the_scenario(tmp_path: Path, capsys) -> None:
    with guest(GUEST) as vm:
        out = tmp_path / "vm.apicviz.json"
        assert attach_main([f"unix:{vm.qmp}", "-o", str(out)]) == 0
        stdout_status = attach_main([vm.qmp])
    captured = capsys.readouterr()
    scenario = load_scenario(out)
    assert [v.xapic_id for v in scenario.vcpus] == [0, 1, 2, 4, 1, 6]
    assert stdout_status == 0
    assert json.loads(captured.out)["format"] == "apicviz-scenario"
    assert "wrote" in captured.err


# --- flags QEMU chose ---------------------------------------------------------------------------------------

def test_attach_kvm_flags_with_apic_ids_beyond_255() -> None:
    require_kvm()
    with qemu_vm("-M", "q35", "-accel", "kvm", "-smp", "3,maxcpus=258,sockets=2,cores=129") as vm:
        with QmpClient(vm.qmp) as qmp:
            (slot,) = [s for s in qmp.command("query-hotpluggable-cpus")
                       if s["props"]["socket-id"] == 1 and s["props"]["core-id"] == 0]
            qmp.command("device_add", driver=slot["type"], id="c256", **slot["props"])
        result = attach(vm.qmp)
    s = result.scenario
    assert [v.id for v in s.vcpus] == [0, 1, 2, 256]
    assert s.kvm.use_32bit_ids
    assert s.kvm.disable_broadcast_quirk
    assert "largest possible APIC ID 0x180" in s.notes
    # vCPU 256 at reset: xAPIC ID register 0x00 (its 8 bits), so it is xAPIC for sure and aliases vCPU 0
    assert s.vcpus[3].apic == "xapic"
    assert s.vcpus[3].xapic_id == 0


def test_attach_kvm_flags_from_intel_iommu_eim() -> None:
    require_kvm()
    with qemu_vm("-M", "q35,kernel-irqchip=split", "-accel", "kvm", "-smp", "2",
                 "-device", "intel-iommu,intremap=on") as vm:
        result = attach(vm.qmp)
    assert result.scenario.kvm.use_32bit_ids
    assert "eim=on" in result.scenario.notes


def test_attach_tcg_has_no_flags_even_with_an_iommu() -> None:
    with qemu_vm("-M", "q35", "-smp", "2", "-device", "intel-iommu,intremap=on") as vm:
        result = attach(vm.qmp)
    assert not result.scenario.kvm.use_32bit_ids
    assert "eim=off" in result.scenario.notes


# --- sockets that are not a free QMP ------------------------------------------------------------------------

def test_attach_busy_socket_says_so(tmp_path: Path, capsys) -> None:
    with qemu_vm("-smp", "1") as vm, QmpClient(vm.qmp):
        out = tmp_path / "x.json"
        assert attach_main([vm.qmp, "-o", str(out), "--timeout", "1"]) == 1
    err = capsys.readouterr().err
    assert "no QMP greeting within 1 s" in err
    assert "one QMP client at a time" in err
    assert not out.exists()
    assert os.listdir(tmp_path) == []


def test_attach_hmp_socket_is_refused() -> None:
    with qemu_vm("-smp", "1", hmp=True) as vm, pytest.raises(QmpError, match="human monitor"):
        attach(vm.hmp)


def test_attach_dead_socket(tmp_path: Path, capsys) -> None:
    with qemu_vm("-smp", "1") as vm:
        path = vm.qmp
        vm.proc.kill()
        vm.proc.wait()
        assert attach_main([path, "-o", str(tmp_path / "x.json")]) == 1
    assert "nobody is listening" in capsys.readouterr().err


@contextmanager
def fake_server(tmp_path: Path, greeting: bytes | None, reply: bytes | None = None) -> Iterator[str]:
    """A unix socket that greets with ``greeting`` (None: silence) and answers the first line with ``reply``."""
    path = str(tmp_path / "fake.sock")
    server = socket.socket(socket.AF_UNIX)
    server.bind(path)
    server.listen(1)
    stop = threading.Event()

    def serve() -> None:
        server.settimeout(5)
        try:
            conn, _ = server.accept()
        except OSError:
            return
        with conn:
            if greeting is not None:
                conn.sendall(greeting)
            if reply is not None:
                conn.recv(4096)
                if not reply:
                    return  # hang up without answering
                conn.sendall(reply)
            stop.wait(5)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield path
    finally:
        stop.set()
        server.close()
        thread.join(5)


@pytest.mark.parametrize(("greeting", "reply", "message"), [
    (None, None, "no QMP greeting within 1 s"),
    (b"SSH-2.0-OpenSSH_9.2\r\n", None, "not a QMP socket: it greeted with 'SSH-2.0"),
    (b'{"hello": 1}\n', None, "not a QMP socket"),
    (b'{"QMP": {"version": {}, "capabilities": []}}\n', None, ("timed out after 1 s waiting for the reply to "
                                                              "'qmp_capabilities'")),
    (b'{"QMP": {"version": {}, "capabilities": []}}\n', b"", "QEMU closed the connection"),
])
def test_attach_foreign_sockets(tmp_path: Path, greeting, reply, message) -> None:
    with (fake_server(tmp_path, greeting, reply) as path,
          pytest.raises(QmpError, match=message.replace("(", r"\(").replace(")", r"\)"))):
        attach(path, timeout=1)


def test_attach_refuses_non_sockets(tmp_path: Path) -> None:
    (tmp_path / "f").write_text("x")
    with pytest.raises(QmpError, match="not a unix socket"):
        attach(str(tmp_path / "f"))
    with pytest.raises(QmpError, match="no such socket"):
        attach(str(tmp_path / "missing.sock"))
    with pytest.raises(QmpError, match="tcp: sockets are not supported"):
        attach("tcp:localhost:4444")


def test_attach_never_loads_qt() -> None:
    from test_import_topology import run_without_qt

    with qemu_vm("-smp", "2") as vm:
        run_without_qt(["attach", vm.qmp])
