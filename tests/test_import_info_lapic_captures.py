"""``import qemu-info-lapic`` on real captures from Debian's QEMU 7.2 running tests/guest_bootsector.py.

The guest (6 vCPUs, -smp 6,sockets=2,cores=3: APIC IDs 0, 1, 2, 4, 5, 6) sets LDRs 0x01, 0x02, 0x04
(software-disabled), 0x21 (cluster), 0x10 (xAPIC ID rewritten to 1) and, under KVM, switches APIC 6 to
x2APIC (TCG: LDR 0x40). See tests/data/import/README.md.
"""
from __future__ import annotations

import pytest
from import_helpers import DATA, run_main

from apicviz.importers import import_info_lapic
from apicviz.importers.terminal_text import render_line
from apicviz.model import load_scenario
from apicviz.model.scenario import DFR_CLUSTER, DFR_FLAT

IDS = [0, 1, 2, 4, 5, 6]


def load(name: str, ids=None, modes=None):
    return import_info_lapic((DATA / name).read_text(encoding="utf-8"), ids, modes, name)


def ambiguous(result) -> list[str]:
    return [w for w in result.warnings if "cannot tell xAPIC from x2APIC" in w]


def test_qmp_capture_has_crlf_and_imports() -> None:
    raw = (DATA / "info_lapic_qmp_kvm_crlf.txt").read_bytes()
    assert raw.count(b"\r\n") == raw.count(b"\n") > 100  # exactly what human-monitor-command returned
    result = load("info_lapic_qmp_kvm_crlf.txt", ids=IDS)
    vcpus = result.scenario.vcpus
    assert [v.id for v in vcpus] == IDS
    assert [v.logical_id for v in vcpus] == [0x01, 0x02, 0x04, 0x21, 0x10, 0x00]
    assert [v.sw_enabled for v in vcpus] == [True, True, False, True, True, True]
    assert [v.dfr for v in vcpus] == [DFR_FLAT, DFR_FLAT, DFR_FLAT, DFR_CLUSTER, DFR_FLAT, DFR_FLAT]


def test_kvm_capture_warns_for_every_vcpu_that_could_be_x2apic() -> None:
    """The CPU model has x2APIC (ICR2 says X2APIC ID); LDR 1 << id or 0 reads the same in both modes."""
    result = load("info_lapic_qmp_kvm_crlf.txt", ids=IDS)
    warned = ambiguous(result)
    assert [w.split("(")[1].split(")")[0] for w in warned] == [
        "CPU 0, vCPU 0x0", "CPU 1, vCPU 0x1", "CPU 2, vCPU 0x2", "CPU 5, vCPU 0x6"]
    assert "LDR 0x0 is a possible xAPIC logical ID" in warned[-1]
    assert "give --mode" in warned[-1]
    # APIC 4 (cluster 0x21) and APIC 5 (0x10, not 1 << 5) can only be xAPIC: no warning for them
    assert all("vCPU 0x4" not in w and "vCPU 0x5" not in w for w in warned)
    assert not ambiguous(load("info_lapic_qmp_kvm_crlf.txt", ids=IDS, modes=["xapic"]))


def test_tcg_capture_is_xapic_where_the_dump_shows_it() -> None:
    """QEMU 7.2's TCG CPUs have no x2APIC and their ICR2 line says "(APIC ID)": those dumps are certain.

    CPU 0's last IPI was the SIPI broadcast, whose shorthand leaves the ICR2 line without that marker; its
    LDR 0x01 is also vCPU 0's x2APIC LDR, so it alone is warned about.
    """
    result = load("info_lapic_qmp_tcg_crlf.txt", ids=IDS)
    assert [w.split("(")[1].split(")")[0] for w in ambiguous(result)] == ["CPU 0, vCPU 0x0"]
    assert [v.logical_id for v in result.scenario.vcpus] == [0x01, 0x02, 0x04, 0x21, 0x10, 0x40]


def test_raw_hmp_session_with_escape_sequences() -> None:
    text = (DATA / "info_lapic_hmp_socket_session.txt").read_text(encoding="utf-8")
    assert "\x1b[K" in text
    assert "\x1b[D" in text
    result = import_info_lapic(text, None, None, "session.txt")
    vcpus = result.scenario.vcpus
    # "info lapic 0", "cpu 2" + "info lapic", "info lapic 5", "info lapic 6": prompts give APIC IDs 0, 5, 6
    assert [v.id for v in vcpus] == [0, 2, 5, 6]
    assert [v.logical_id for v in vcpus] == [0x01, 0x04, 0x10, 0x00]
    assert [w for w in ambiguous(result) if "vCPU 0x6" in w]
    assert "xAPIC ID is that ID's low 8 bits" in result.warnings[0]


def test_render_line_replays_the_monitor_echo() -> None:
    echo = "(qemu) i\x1b[K\x1b[Din\x1b[K\x1b[D\x1b[Dinf\x1b[K\x1b[D\x1b[D\x1b[Dinfo\x1b[K"
    assert render_line(echo) == "(qemu) info"
    assert render_line("abc\x08\x08X") == "aXc"
    assert render_line("hello\rJ") == "Jello"
    assert render_line("ab\x1b[2Kcd") == "  cd"
    assert render_line("x\x1b[31mred\x1b[0m") == "xred"
    assert render_line("a\x1b[5Gb") == "a   b"


def test_cli_imports_the_session(tmp_path, capsys) -> None:
    out = tmp_path / "s.apicviz.json"
    run = run_main(capsys, "qemu-info-lapic", str(DATA / "info_lapic_hmp_socket_session.txt"), "-o", str(out))
    assert run.status == 0, run.err
    assert "cannot tell xAPIC from x2APIC" in run.err
    assert [v.id for v in load_scenario(out).vcpus] == [0, 2, 5, 6]


@pytest.mark.parametrize("name", ["info_lapic_qmp_kvm_crlf.txt", "info_lapic_qmp_tcg_crlf.txt"])
def test_default_ids_are_cpu_indexes_with_a_warning(name: str) -> None:
    result = load(name)
    assert [v.id for v in result.scenario.vcpus] == [0, 1, 2, 3, 4, 5]
    assert "need not be the APIC ID" in result.warnings[0]


def test_tcg_capture_matches_a_live_qemu() -> None:
    """The saved TCG capture is what QEMU 7.2 prints for this guest today (registers; timers aside)."""
    from guest_bootsector import build_bootsector
    from qemu_helpers import qemu_vm
    from test_qemu_attach import GUEST, wait_done

    from apicviz.qemu.qmp import QmpClient

    with qemu_vm("-smp", "6,sockets=2,cores=3", paused=False, limit=180, boot_image=build_bootsector(GUEST)) as vm:
        wait_done(vm, 6)
        with QmpClient(vm.qmp) as qmp:
            live = "".join(qmp.command("human-monitor-command", **{"command-line": "info lapic",
                                                                   "cpu-index": c["cpu-index"]})
                           for c in qmp.command("query-cpus-fast"))
    assert "\r\n" in live
    saved = load("info_lapic_qmp_tcg_crlf.txt", ids=IDS).scenario.vcpus
    assert import_info_lapic(live, IDS, None, "live").scenario.vcpus == saved
