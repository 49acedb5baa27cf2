"""``--sweep`` on the real kernel: every destination of the model's sweep, from every sender of its group."""
from __future__ import annotations

import json
from pathlib import Path

from kvm_host_helpers import COUNTS, make, require_kvm

from apicviz.host.probe import probe
from apicviz.model import evaluate, load_scenario, scenario_from_dict
from apicviz.model.sweep import sweep_destinations
from apicviz.resources import example_files

HOST = require_kvm()
VECTORS = Path(__file__).resolve().parents[1] / "data" / "vectors" / "kvm-public.jsonl"


def test_sweep_sends_each_destination_from_each_sender_of_its_group() -> None:
    scenario = make([{"id": 0}, {"id": 1, "apic": "x2apic"}, {"id": 0x123, "apic": "x2apic"}], [])
    result = probe(scenario, sweep=True, host=HOST)
    target = evaluate(scenario)  # the same destinations for any 6.x kernel of this VM
    expected = sum(len(d.senders) for d in sweep_destinations(target))
    assert result.sweep is not None
    assert result.sweep.compared == expected
    data = result.to_json("f")["sweep"]
    assert data["compared"] == expected
    assert data["agree"] is True
    by_dest = {(e["dest_mode"], e["dest"], e["sender"]): e for e in data["destinations"]}
    assert by_dest[("physical", 0x123, "ipi-x2apic")]["host_accepted"] == [0x123]
    assert ("physical", 0x123, "msi") not in by_dest  # an 8-bit MSI cannot name it
    assert by_dest[("physical", 0xFF, "msi")]["host_accepted"] == [0, 1, 0x123]  # broadcast quirk
    assert by_dest[("physical", 0xFF, "ipi-x2apic")]["host_accepted"] == []


def test_sweep_of_every_example_and_a_sample_of_vectors_agrees() -> None:
    scenarios = [load_scenario(p) for p in example_files()]
    lines = VECTORS.read_text().splitlines()
    for line in lines[::8]:
        scenario = scenario_from_dict(json.loads(line)["scenario"])
        if len(scenario.vcpus) <= 64:
            scenarios.append(scenario)
    compared = 0
    failures = []
    for scenario in scenarios:
        result = probe(scenario, sweep=True, host=HOST)
        if result.skipped:
            continue
        compared += result.sweep.compared
        failures += [f"{scenario.title}: {e.to_json()}" for e in result.sweep.disagreeing]
    COUNTS["sweep"] = f"{compared} destination × sender messages compared over {len(scenarios)} scenarios"
    assert compared > 1000, "the sweep comparison ran on (almost) nothing"
    assert not failures, "\n".join(failures[:20])
