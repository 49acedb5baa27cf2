"""The probe as other code uses it: worker thread, progress, cancel, skips, errors, and the CLI."""
from __future__ import annotations

import json
import os
import threading
from dataclasses import replace
from pathlib import Path

import pytest
from kvm_host_helpers import make, require_kvm

from apicviz.cli import main
from apicviz.host import host_info as host_info_module
from apicviz.host.host_info import KvmUnavailable, model_kernel, open_kvm
from apicviz.host.probe import ProbeCancelled, probe
from apicviz.model import save_scenario

HOST = require_kvm()
VCPUS = [{"id": 0}, {"id": 1, "apic": "x2apic"}, {"id": 2}]
IRQS = [{"source": 0, "dest": 2, "vector": 0x30}, {"dest": 1, "vector": 0x30}, {"source": 1, "dest": 0, "vector": 0x30}]


def test_runs_in_a_worker_thread_with_progress() -> None:
    seen: list[tuple[str, int, int]] = []
    box: dict = {}

    def work() -> None:
        box["result"] = probe(make(VCPUS, IRQS), progress=lambda *a: seen.append(a), host=HOST)

    t = threading.Thread(target=work)
    t.start()
    t.join(30)
    result = box["result"]
    assert [c.host_accepted for c in result.interrupts] == [[2], [1], [0]]
    assert ("build", 3, 3) in seen
    assert seen[-1] == ("interrupts", 3, 3)


def test_cancel_between_batches_releases_everything() -> None:
    before = len(os.listdir("/proc/self/fd"))
    with pytest.raises(ProbeCancelled):
        probe(make(VCPUS, IRQS), cancelled=lambda: True, host=HOST)
    assert len(os.listdir("/proc/self/fd")) == before
    # the thread's signal mask and the timer were released: the next probe works
    assert probe(make(VCPUS, IRQS), host=HOST).agree
    assert len(os.listdir("/proc/self/fd")) == before


def test_json_shape() -> None:
    data = probe(make(VCPUS, [*IRQS, {"dest": 0, "delivery": "sipi"}]), host=HOST).to_json("x.apicviz.json")
    assert data["format"] == "apicviz-probe"
    assert data["version"] == 1
    assert data["file"] == "x.apicviz.json"
    assert set(data["host"]) == {"release", "kernel", "behaviour", "vector_hashing", "smm", "max_vcpu_id"}
    assert data["scenario_kernel"] == "upstream"
    assert data["skipped"] is None
    assert data["agree"] is True
    assert data["interrupts"][0] == {"host_accepted": [2], "model_accepted": [2], "agree": True}
    assert list(data["interrupts"][3]) == ["skipped"]


def test_scenario_level_skips() -> None:
    too_big = probe(make([{"id": HOST.max_vcpu_id}], [{"dest": 0}]), host=HOST)
    assert too_big.skip_code == "vcpu_id"
    assert too_big.interrupts == []
    assert too_big.to_json("f")["skipped"] == too_big.skipped
    assert probe(make(VCPUS, IRQS, map_alloc_fails=True), host=HOST).skip_code == "map_alloc_fails"


def test_vector_hashing_and_arb_prio_rules() -> None:
    lowest = [{"dest_mode": "logical", "dest": 3, "delivery": "lowest", "vector": 0x31}]
    vcpus = [{"id": 0, "logical_id": 1, "arb_prio": 3}, {"id": 1, "logical_id": 2}]
    other = probe(make(vcpus, lowest, vector_hashing=not HOST.vector_hashing), host=HOST)
    assert other.interrupts[0].skip_code == "vector_hashing"
    no_hashing_host = replace(HOST, vector_hashing=False)
    assert probe(make(vcpus, lowest, vector_hashing=False), host=no_hashing_host).interrupts[0].skip_code == "arb_prio"


def test_pv_ipi_is_skipped() -> None:
    scenario = make(VCPUS, IRQS[:1])
    scenario.interrupts[0].via = "pv_ipi"  # type: ignore[attr-defined]  # key of the PV IPI model
    assert probe(scenario, host=HOST).interrupts[0].skip_code == "pv_ipi"


def test_a_vm_the_host_cannot_build_is_a_skip_not_a_traceback() -> None:
    """Pretend KVM allows huge IDs: KVM_CREATE_VCPU itself then refuses, and says so."""
    result = probe(make([{"id": 0}, {"id": 0x40000}], IRQS[:1]), host=replace(HOST, max_vcpu_id=1 << 30))
    assert result.skip_code == "build_failed"
    assert "KVM_CREATE_VCPU(0x40000)" in (result.skipped or "")
    assert "EINVAL" in (result.skipped or "")


def test_unusable_kvm_says_why(tmp_path: Path) -> None:
    with pytest.raises(KvmUnavailable, match="does not exist"):
        open_kvm(str(tmp_path / "no-kvm"))
    with pytest.raises(KvmUnavailable, match="not a KVM device"):
        open_kvm("/dev/null")


def test_model_kernel_of_releases() -> None:
    assert model_kernel("6.18.44-fc-v669") == "6.18"
    assert model_kernel("5.15.0-91-generic") == "5.15"
    assert model_kernel("4.4.0") is None


def _file(tmp_path: Path, name: str, vcpus: list, irqs: list) -> str:
    path = tmp_path / name
    save_scenario(make(vcpus, irqs), str(path))
    return str(path)


def test_cli_exit_codes(tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    good = _file(tmp_path, "good.apicviz.json", VCPUS, IRQS)
    assert main(["probe", "--json", good]) == 0
    line = json.loads(capsys.readouterr().out.strip())
    assert line["agree"] is True
    assert line["file"] == good

    bad = tmp_path / "bad.apicviz.json"
    bad.write_text('{"format": "apicviz-scenario", "version": 1, "vcpus": [{"id": "x"}]}')
    assert main(["probe", "--json", good, str(bad)]) == 1
    lines = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert lines[0]["agree"] is True
    assert "vcpus[0].id" in lines[1]["error"]

    assert main(["probe", good]) == 0
    text = capsys.readouterr().out
    assert "host Linux" in text
    assert "✓ #0" in text
    assert "3/3 agree" in text

    smi = _file(tmp_path, "smi.apicviz.json", VCPUS, [{"dest": 2, "delivery": "smi"}])
    monkeypatch.setattr(host_info_module, "detect_smm", lambda *a: (not HOST.smm, "pretended"))
    assert main(["probe", smi]) == 1
    assert "≠ #0" in capsys.readouterr().out

    monkeypatch.setattr(host_info_module, "KVM_DEVICE", str(tmp_path / "missing-kvm"))
    assert main(["probe", good]) == 2
    err = capsys.readouterr().err
    assert "KVM cannot be used here" in err
    assert "does not exist" in err
    assert "Traceback" not in err


def test_a_low_descriptor_limit_is_raised_for_big_vms() -> None:
    """300 vCPUs are 300 descriptors; a process started with a soft limit of 200 still probes them."""
    import subprocess
    import sys

    code = (
        "import resource\n"
        "soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)\n"
        "resource.setrlimit(resource.RLIMIT_NOFILE, (200, hard))\n"
        "from apicviz.host.probe import probe\n"
        "from apicviz.model.scenario import Interrupt, Scenario, Vcpu\n"
        "sc = Scenario(vcpus=[Vcpu(i, 'x2apic') for i in range(300)], interrupts=[Interrupt(source=0, dest=299)])\n"
        "r = probe(sc)\n"
        "assert r.skipped is None, r.skipped\n"
        "assert r.interrupts[0].host_accepted == [299], r.interrupts[0]\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr


def test_readable_output_names_settings_the_host_overrides(tmp_path: Path,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "smm.apicviz.json"
    save_scenario(make(VCPUS, [{"dest": 2, "delivery": "smi"}], smm=not HOST.smm, kernel="6.6"), str(path))
    assert main(["probe", str(path)]) == 0
    out = capsys.readouterr().out
    assert "differs from this host" in out
    assert "SMM" in out
