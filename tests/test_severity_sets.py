"""The set-based classifier against the per-vCPU rule, on random VMs, their messages and whole sweeps."""
from __future__ import annotations

import copy
import dataclasses
from pathlib import Path

import pytest
from hypothesis import given
from model_strategies import scenarios_with_messages
from severity_reference import reference_findings
from test_model_properties import SETTINGS, scenarios

from apicviz.model import evaluate, load_scenario
from apicviz.model.scenario import Interrupt, Scenario
from apicviz.model.severity import classify, group_findings
from apicviz.model.sweep import sweep


def _same(route, irq, sc, xapic_mode) -> None:
    verdict = classify(route, irq, sc.vcpus, sc.kvm, xapic_mode)
    expected = reference_findings(route, irq, sc.vcpus, sc.kvm)
    assert [(f.vcpu, f.kind, f.reason) for f in verdict.findings] == expected
    # the groups hold the same findings, each vCPU once
    grouped = sorted((i, kind, reason) for (kind, reason), idxs in group_findings(verdict).items() for i in idxs)
    assert grouped == expected
    assert set(verdict.reasons) == {r for _i, _k, r in expected}


def _check(sc: Scenario) -> None:
    ev = evaluate(sc)
    xapic_mode = frozenset(ev.router.xapic_present)
    for irq, route in zip(sc.interrupts, ev.routes, strict=True):
        if irq.delivery != "lowest" and not irq.pv_ipi:
            _same(route, irq, sc, None)
            _same(route, irq, sc, xapic_mode)
    result = sweep(ev)
    for row in result.rows:
        if row.kind == "icr":
            irq = Interrupt(dest_mode=row.dest_mode, delivery="fixed")
            _same(row.route, irq, sc, xapic_mode)
        else:
            _same_pv(row.route, ev)


def _same_pv(route, ev) -> None:
    """A PV IPI row: the per-vCPU rule with KVM's ICR slow path as reference and the map fault renamed."""
    icr = Interrupt(dest_mode="physical", delivery=route.delivery)
    reference = ev.router.matches(icr, route.dest, route.source)
    shadow = copy.copy(route)
    shadow.path, shadow.slow_path_targets = "fast", reference
    fault = {"no_map": "pv_ipi_no_map", "unsupported": "pv_ipi_unsupported"}.get(route.pv_ipi_result,
                                                                                "fast_path_differs")
    expected = [(i, kind, fault if reason == "fast_path_differs" else reason)
                for i, kind, reason in reference_findings(shadow, icr, ev.scenario.vcpus, ev.scenario.kvm)]
    assert [(f.vcpu, f.kind, f.reason) for f in route.verdict.findings] == expected


@SETTINGS
@given(scenarios())
def test_set_classifier_matches_the_per_vcpu_rule_on_sweeps(sc):
    _check(sc)


@SETTINGS
@given(scenarios_with_messages())
def test_set_classifier_matches_the_per_vcpu_rule_on_random_messages(sc):
    _check(sc)


EXAMPLE_11 = (Path(__file__).resolve().parents[1] / "apicviz" / "resources" / "examples"
              / "11-aliased-xapic-pv-ipi-6.1-vs-6.3.apicviz.json")


@pytest.mark.parametrize("kernel", ["4.14", "6.1", "6.3"])
def test_pv_rows_of_the_pv_example_follow_the_per_vcpu_rule(kernel):
    """no_map (6.3), delivered (6.1) and unsupported (before 4.19) PV IPIs, and the sweep's PV rows."""
    sc = load_scenario(EXAMPLE_11)
    sc = Scenario(sc.title, sc.notes, dataclasses.replace(sc.kvm, kernel=kernel), sc.vcpus, sc.interrupts)
    ev = evaluate(sc)
    pv_routes = [r for irq, r in zip(sc.interrupts, ev.routes, strict=True) if irq.pv_ipi]
    assert pv_routes
    for route in pv_routes:
        _same_pv(route, ev)
    rows = [row for row in sweep(ev).rows if row.kind == "pv_ipi"]
    assert bool(rows) == (kernel != "4.14")  # no PV IPIs are swept before 4.19
    for row in rows:
        _same_pv(row.route, ev)
