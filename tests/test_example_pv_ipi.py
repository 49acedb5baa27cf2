"""Example 11 teaches what it says: the 6.3 change makes ICR IPIs reach both aliased vCPUs, PV IPIs neither."""
from __future__ import annotations

from dataclasses import replace
from importlib.resources import files

import pytest

from apicviz.model import evaluate, scenario_from_text
from apicviz.model.explain import explain_route

NAME = "11-aliased-xapic-pv-ipi-6.1-vs-6.3.apicviz.json"


def example(kernel: str, **kvm):
    sc = scenario_from_text(files("apicviz.resources").joinpath("examples", NAME).read_text())
    sc.kvm = replace(sc.kvm, kernel=kernel, **kvm)
    return sc, evaluate(sc).to_json()


def test_title_and_notes_carry_the_lesson():
    sc, _ = example("6.3")
    assert sc.title == "Aliased xAPIC IDs on 6.1 vs 6.3: PV IPIs"
    for words in ("reaches both vCPUs", "reaches neither", "-EOPNOTSUPP", "failed to send PV IPI"):
        assert words in sc.notes
    assert [i.via for i in sc.interrupts] == ["icr", "pv_ipi", "pv_ipi"]


@pytest.mark.parametrize("kernel", ["5.15", "6.1", "6.2"])
def test_before_6_3_both_reach_the_first_vcpu_only(kernel):
    _, ev = example(kernel)
    icr, pv, other = ev["interrupts"]
    assert (icr["path"], icr["targets"], icr["dropped"]) == ("fast", [0], [1])
    assert (pv["path"], pv["pv_ipi_result"], pv["targets"], pv["dropped"]) == ("pv_ipi", "delivered", [0], [1])
    assert other["targets"] == [2]


@pytest.mark.parametrize("kernel", ["6.3", "6.6", "upstream"])
def test_from_6_3_icr_reaches_both_and_pv_reaches_neither(kernel):
    sc, ev = example(kernel)
    icr, pv, other = ev["interrupts"]
    assert ev["map"]["status"] == "none"
    assert (icr["path"], icr["targets"], icr["dropped"]) == ("slow", [0, 1], [])
    assert (pv["pv_ipi_result"], pv["targets"], pv["dropped"]) == ("no_map", [], [0, 1])
    assert (other["pv_ipi_result"], other["targets"], other["dropped"]) == ("no_map", [], [2])
    text = " ".join(explain_route(evaluate(sc), 1, brief=True))
    assert "-EOPNOTSUPP because the map is NULL since vCPUs 0x0 and 0x1 share APIC ID 0x0" in text


def test_32bit_ids_keep_the_old_map_on_6_3():
    _, ev = example("upstream", use_32bit_ids=True)
    icr, pv, _other = ev["interrupts"]
    assert icr["targets"] == pv["targets"] == [0]
