"""The window's view of a real kernel's answer, and the bug report's section about it (no Qt, no KVM).

The probe JSON here is written by hand in the FORMAT.md "Host check" shape, so
every state the views distinguish (agree, differs, settings-only, skipped,
a scenario not probed at all) is covered whatever this machine's KVM does.
"""
from __future__ import annotations

from typing import Any

from apicviz.gui.viewmodels.host_verdict import AGREE, DIFFERS, SETTINGS, SKIPPED, build_verdict
from apicviz.model import evaluate, scenario_from_dict
from apicviz.model.kernel_report import kernel_section, verdict_line
from apicviz.model.report import bug_report


def scenario(kernel: str = "upstream", smm: bool = True):
    raw: dict[str, Any] = {
        "format": "apicviz-scenario", "version": 1, "kvm": {"kernel": kernel, "smm": smm},
        "vcpus": [{"id": 0, "apic": "xapic"}, {"id": 1, "apic": "xapic", "xapic_id": 0}, {"id": 2, "apic": "xapic"}],
        "interrupts": [
            {"name": "IPI | to APIC 0", "source": 2, "dest": 0, "vector": 48},
            {"source": None, "dest": 2, "vector": 49},
            {"source": 2, "dest": 0, "delivery": "smi"},
            {"source": 2, "dest": 0, "delivery": "sipi", "vector": 1},
        ],
    }
    return scenario_from_dict(raw)


def probe_json(interrupts: list[dict[str, Any]], skipped: str | None = None) -> dict[str, Any]:
    return {"format": "apicviz-probe", "version": 1, "file": "x", "scenario_kernel": "upstream",
            "host": {"release": "6.18.44-test", "kernel": "6.18", "behaviour": "6.3+", "vector_hashing": True,
                     "smm": False, "max_vcpu_id": 4096},
            "skipped": skipped, "interrupts": interrupts, "agree": all(e.get("agree", True) for e in interrupts)}


def verdict(ev, probe):
    return build_verdict(probe, ev, source="host", label="Linux 6.18.44", short="host 6.18",
                         header="host Linux 6.18.44-test → model kernel 6.18", notes=["SMM on here, off on the host"])


def test_rows_say_which_answers_differ():
    ev = evaluate(scenario())
    assert ev.ids(ev.routes[0].accepted) == [0, 1]
    assert ev.ids(ev.routes[2].accepted) == [0, 1]
    v = verdict(ev, probe_json([
        {"host_accepted": [0, 1], "model_accepted": [0, 1], "agree": True},
        {"host_accepted": [], "model_accepted": [2], "agree": False},
        {"host_accepted": [], "model_accepted": [], "agree": True},  # SMI without SMM: the scenario says 0, 1
        {"skipped": "SIPI needs a vCPU in the INIT state"},
    ]))
    assert [r.state for r in v.rows] == [AGREE, DIFFERS, SETTINGS, SKIPPED]
    assert [r.text for r in v.rows] == ["✓ 0x0, 0x1", "≠ nobody", "✓ nobody (scenario: 0x0, 0x1)", "– skipped"]
    assert v.summary() == "≠ host 6.18: 2/3 agree, 1 not expressible; 1 unlike the scenario"
    assert v.level == "bad"
    tip = v.tip()
    assert tip.startswith("host Linux 6.18.44-test")
    assert "SIPI needs a vCPU in the INIT state" in tip
    assert "SMM on here, off on the host" in tip
    assert "only the model: 0x2" in v.cell_tip(1)
    # The map marks the vCPUs the kernel treated otherwise: #1's 0x2 (model), #2's 0x0 and 0x1 (scenario).
    assert v.marked_vcpus(1) == {2}
    assert v.marked_vcpus(2) == {0, 1}
    assert v.marked_vcpus(0) == set()
    assert v.marked_vcpus(3) == set()
    assert v.marked_vcpus() == {0, 1, 2}
    assert any("did not accept vCPU 0x2" in line and "(≠)" in line for line in v.vcpu_lines(2))


def test_all_agreeing_is_green_and_a_settings_difference_amber():
    ev = evaluate(scenario(smm=False))
    agree = [{"host_accepted": ev.ids(r.accepted), "model_accepted": ev.ids(r.accepted), "agree": True}
             for r in ev.routes[:3]] + [{"skipped": "SIPI"}]
    v = verdict(ev, probe_json(agree))
    assert v.level == "ok"
    assert v.summary() == "host 6.18: 3/3 agree, 1 not expressible"
    ev_smm = evaluate(scenario(smm=True))
    v2 = verdict(ev_smm, probe_json(agree))
    assert v2.level == "warn"
    assert v2.summary().endswith("; 1 unlike the scenario")


def test_a_scenario_not_probed_skips_every_row():
    ev = evaluate(scenario())
    v = verdict(ev, probe_json([], skipped="map_alloc_fails cannot be made to happen"))
    assert all(r.state == SKIPPED and "map_alloc_fails" in r.reason for r in v.rows)
    assert v.summary() == "host 6.18: not probed"
    assert v.level == "info"
    assert "not probed: map_alloc_fails" in v.tip()


def test_report_section_lists_disagreements_first_and_escapes_tables():
    ev = evaluate(scenario())
    probe = probe_json([
        {"host_accepted": [0, 1], "model_accepted": [0, 1], "agree": True},
        {"host_accepted": [], "model_accepted": [2], "agree": False},
        {"host_accepted": [], "model_accepted": [], "agree": True},
        {"skipped": "SIPI | needs INIT"},
    ])
    check = verdict(ev, probe).report_json()
    lines = kernel_section(check, ev, 10_000)
    assert lines[0] == "### On a real kernel: Linux 6.18.44 (this host)"
    assert verdict_line(check) == "2/3 interrupts agree with the model for this kernel, 1 not expressible"
    rows = [line for line in lines if line.startswith("| ") and line[2].isdigit()]
    # Contradicted, then changed by the scenario's settings (the SMI), skipped, agreeing.
    assert [r.split(" | ")[0] for r in rows] == ["| 1", "| 2", "| 3", "| 0"]
    assert "≠ **differs**" in rows[0]
    assert "✓ (the scenario's settings differ)" in rows[1]
    assert "– skipped: SIPI \\| needs INIT" in rows[2]
    assert "IPI \\| to APIC 0" in rows[3]
    short = kernel_section(check, ev, 600)
    assert any("more interrupts" in line for line in short)
    text = bug_report(ev, kernels=[check])
    assert text.index("### On a real kernel") < text.index("### vCPUs")
    assert "SMM on here, off on the host" in text
    assert "### On a real kernel" not in bug_report(ev)
