"""The set-based classifier against the per-vCPU rule, on random VMs, their messages and whole sweeps."""
from __future__ import annotations

from hypothesis import given
from severity_reference import reference_findings
from test_model_properties import SETTINGS, interrupts_for, scenarios

from apicviz.model import evaluate
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


@SETTINGS
@given(scenarios())
def test_set_classifier_matches_the_per_vcpu_rule_on_sweeps(sc):
    _check(sc)


@SETTINGS
@given(scenarios().flatmap(lambda sc: interrupts_for(sc.vcpus, max_size=12).map(
    lambda irqs: Scenario(sc.title, sc.notes, sc.kvm, sc.vcpus, irqs))))
def test_set_classifier_matches_the_per_vcpu_rule_on_random_messages(sc):
    _check(sc)
