"""Reports people can paste: under GitHub's limit for any VM, kernel terms, each file's sweep, clear CLI errors."""
from __future__ import annotations

import json
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from apicviz.gui.shell import launch as launch_mod
from apicviz.gui.shell import x11_probe
from apicviz.model import evaluate, load_scenario, scenario_from_dict
from apicviz.model.numbers import id_ranges
from apicviz.model.report import GITHUB_LIMIT, bug_report, vcpu_groups
from apicviz.model.scenario import MAX_INTERRUPTS
from apicviz.model.sweep import sweep

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "apicviz" / "resources" / "examples"
APICVIZ = [sys.executable, "-m", "apicviz"]


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(APICVIZ + list(args), capture_output=True, text=True, timeout=120, check=False)


def big_vm(mode: str, interrupts: int = 3, rewritten: int = 0) -> dict:
    vcpus = [{"id": i, "apic": mode} for i in range(4096)]
    for v in vcpus[100:100 + rewritten]:
        v["xapic_id"] = 7  # a few guest-rewritten IDs: they break the groups and must show
    irqs = [{"source": 5, "dest_mode": "physical", "dest": i % 0xff} for i in range(interrupts)]
    irqs.append({"source": 5, "shorthand": "all"})
    return {"format": "apicviz-scenario", "version": 1, "kvm": {"kernel": "6.1"},
            "vcpus": vcpus, "interrupts": irqs}


@pytest.mark.parametrize(("mode", "interrupts", "rewritten"),
                         [("xapic", 3, 5), ("x2apic", 3, 0), ("xapic", MAX_INTERRUPTS, 0)])
def test_report_of_4096_vcpus_fits_github(mode, interrupts, rewritten):
    ev = evaluate(scenario_from_dict(big_vm(mode, interrupts - 1, rewritten)))
    text = bug_report(ev, sweep=sweep(ev))
    assert len(text) < GITHUB_LIMIT
    assert text.endswith("\n")
    assert not text.endswith("\n\n")
    assert "like vCPUs grouped" in text
    assert "Attach the scenario file" in text
    assert "Export Picture" in text
    assert "```json" not in text  # the 140 kB scenario is not pasted
    if rewritten:
        assert "| 100–104 | 0x64–0x68 | 5 | xapic | 0x7 |" in text  # the rewritten IDs, one group of their own
    if mode == "x2apic":
        assert "| 0–4095 | 0x0–0xfff | 4096 | x2apic |" in text


def test_disagreeing_interrupts_come_first_and_in_full():
    data = big_vm("xapic", 0)
    data["interrupts"] = ([{"name": f"fine {n}", "source": 0x300, "dest_mode": "physical", "dest": 0x300}
                           for n in range(MAX_INTERRUPTS - 1)]
                          + [{"name": "the drop", "source": 5, "dest_mode": "physical", "dest": 3}])
    for v in data["vcpus"]:
        v["apic"] = "x2apic"
    data["vcpus"][3] = {"id": 3, "apic": "xapic"}
    data["vcpus"][4] = {"id": 4, "apic": "xapic", "xapic_id": 3}
    data["interrupts"][-1]["source"] = 4
    ev = evaluate(scenario_from_dict(data))
    assert ev.routes[-1].dropped  # vCPU 4 loses slot 3 on 6.1
    text = bug_report(ev)
    assert len(text) < GITHUB_LIMIT
    assert text.index("the drop") < text.index("fine 0")
    assert "more interrupts not shown" in text


def test_small_report_is_whole_in_kernel_terms():
    ev = evaluate(load_scenario(EXAMPLES / "01-hotplug-beyond-255-32bit-ids.apicviz.json"))
    text = bug_report(ev, sweep=sweep(ev))
    assert "| `KVM_X2APIC_API_USE_32BIT_IDS` | on |" in text
    assert "| `KVM_X2APIC_API_DISABLE_BROADCAST_QUIRK` | off |" in text
    assert "| `kvm.vector_hashing` | Y |" in text
    assert "True" not in text
    assert "False" not in text
    assert '"format": "apicviz-scenario"' in text
    assert text.endswith("</details>\n")


def test_id_ranges_and_groups():
    assert id_ranges([]) == "—"
    assert id_ranges([0, 1]) == "0x0, 0x1"
    assert id_ranges([0, 1, 2, 3, 9]) == "0x0–0x3, 0x9 (5)"
    vm = scenario_from_dict({"vcpus": [{"id": i * 2} for i in range(6)] + [{"id": 0x100, "xapic_id": 1}]})
    assert vcpu_groups(vm.vcpus) == [(0, 5), (6, 6)]


def test_report_command_writes_newline_terminated_file(tmp_path):
    path = tmp_path / "big.apicviz.json"
    path.write_text(json.dumps(big_vm("xapic")))
    out = tmp_path / "report.md"
    proc = run("report", str(path), "-o", str(out))
    assert proc.returncode == 0, proc.stderr
    text = out.read_text(encoding="utf-8")
    assert len(text) < GITHUB_LIMIT
    assert text.endswith("\n")


def test_eval_of_several_files_sweeps_each_and_json_names_the_file():
    files = [str(EXAMPLES / "02-aliased-xapic-id-6.1.apicviz.json"),
             str(EXAMPLES / "04-wrap-0x123-and-0x23.apicviz.json")]
    proc = run("eval", *files)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.count("\nsweep: ") == 2
    proc = run("eval", "--json", *files)
    lines = [json.loads(line) for line in proc.stdout.splitlines()]
    assert [line["file"] for line in lines] == files
    assert all("sweep" in line for line in lines)


def test_diff_names_the_wrong_option():
    example = str(EXAMPLES / "02-aliased-xapic-id-6.1.apicviz.json")
    for args, option in ((["--against", "3.10"], "--against:"), (["--kernel", "nine"], "--kernel:"),
                         (["--against-set", "foo=1"], "--against-set:"), (["--set", "use_32bit_ids=maybe"], "--set:")):
        proc = run("diff", example, *args)
        assert proc.returncode == 1, (args, proc.stderr)
        assert f"error: {option}" in proc.stderr, (args, proc.stderr)


def test_mistyped_subcommand_is_reported_as_one():
    proc = run("evl", "x.apicviz.json")
    assert proc.returncode == 2
    assert "unknown command 'evl'" in proc.stderr
    assert "did you mean 'eval'" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_display_without_a_server_is_the_same_clear_exit(monkeypatch, tmp_path, capsys):
    monkeypatch.setattr(x11_probe, "X11_UNIX_DIR", str(tmp_path / "no-x11"))
    monkeypatch.setenv("DISPLAY", ":917")
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    monkeypatch.delenv("QT_QPA_PLATFORM", raising=False)
    monkeypatch.setattr(sys, "platform", "linux")
    assert launch_mod.launch(None) == launch_mod.EXIT_NO_DISPLAY
    err = capsys.readouterr().err
    assert "no X server answers" in err
    assert "':917'" in err
    assert "apicviz eval FILE" in err


def test_x_server_probe_finds_a_listening_socket(tmp_path, monkeypatch):
    monkeypatch.setattr(x11_probe, "X11_UNIX_DIR", str(tmp_path))
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(str(tmp_path / "X3"))
    server.listen(1)
    try:
        assert x11_probe.x_server_answers(":3.0") is True
        assert x11_probe.x_server_answers("unix:3") is True
        assert x11_probe.x_server_answers(":4") is False
    finally:
        server.close()
    assert x11_probe.parse_display("localhost:10.0") == ("localhost", 10)
    assert x11_probe.x_server_answers("/private/tmp/launch-x/org.xquartz:0") is None
