"""One controller evaluates A and the compared kernel B once per edit; the docks only display results."""
from __future__ import annotations

from dataclasses import replace

import pytest

from apicviz.gui.controller import comparison as comparison_module
from apicviz.gui.controller import controller as controller_module
from apicviz.gui.controller import edits
from apicviz.gui.controller.comparison import CompareSettings, Results
from apicviz.gui.controller.controller import VCPUS, Controller
from apicviz.gui.controller.sweep_scheduler import SweepScheduler
from apicviz.model import Scenario, Vcpu, evaluate
from apicviz.model.scenario import KvmConfig


def aliased_61() -> Scenario:
    return Scenario(kvm=KvmConfig(kernel="6.1"), vcpus=[Vcpu(id=0), Vcpu(id=1), Vcpu(id=2)])


def count_evaluations(monkeypatch) -> list[str]:
    calls: list[str] = []

    def counted(where: str):
        def run(scenario, *args, **kwargs):
            calls.append(where)
            return evaluate(scenario, *args, **kwargs)
        return run

    monkeypatch.setattr(controller_module, "evaluate", counted("A"))
    monkeypatch.setattr(comparison_module, "evaluate", counted("B"))
    return calls


def test_an_edit_evaluates_a_and_b_once_and_signals_once(qtbot, monkeypatch) -> None:
    ctrl = Controller()
    ctrl.set_scenario(aliased_61())
    ctrl.set_comparison_use(shown=False, marking=True)
    calls = count_evaluations(monkeypatch)
    got: list[Results] = []
    ctrl.result_changed.connect(got.append)
    compared: list[object] = []
    ctrl.comparison_changed.connect(compared.append)
    assert edits.set_values(ctrl, VCPUS, [1], "xapic_id", 0)
    assert calls == ["A", "B"]
    assert len(got) == 1
    assert not compared
    results = got[0]
    assert results.evaluation is ctrl.evaluation
    assert results.comparison is ctrl.comparison
    assert results.marks is ctrl.marks is ctrl.comparison
    # B is the scenario under kernel B, exactly as a fresh evaluation gives it.
    b = results.comparison.b
    expected = evaluate(replace(ctrl.scenario.copy(), kvm=ctrl.compare_settings.kvm_b(ctrl.scenario.kvm)))
    assert b.to_json() == expected.to_json()
    assert b.scenario.kvm.kernel == "upstream"  # the default B for 6.1: the other side of the 6.3 change


def test_nobody_looking_means_no_second_evaluation(qtbot, monkeypatch) -> None:
    ctrl = Controller()
    ctrl.set_scenario(aliased_61())
    calls = count_evaluations(monkeypatch)
    assert edits.set_values(ctrl, VCPUS, [1], "xapic_id", 0)
    assert calls == ["A"]
    assert ctrl.comparison is None
    assert ctrl.marks is None
    ctrl.set_comparison_use(shown=True, marking=False)  # the Compare tab is shown: B, but no marks
    assert calls == ["A", "B"]
    assert ctrl.comparison is not None
    assert ctrl.marks is None
    ctrl.set_compare_settings(CompareSettings("5.2", False, False))
    assert calls == ["A", "B", "B"]
    assert ctrl.comparison.b.scenario.kvm.kernel == "5.2"


def test_whole_window_every_tab_open_evaluates_twice_per_edit(window, qtbot, monkeypatch) -> None:
    window.show()
    for dock in (window.sweep_dock, window.compare_dock, window.step_dock, window.interrupt_dock):
        dock.raise_()
        qtbot.wait(10)
    assert window.controller.marks is not None  # Compare marking stays on after a look at the tab
    calls = count_evaluations(monkeypatch)
    got: list[Results] = []
    window.controller.result_changed.connect(got.append)
    assert edits.set_values(window.controller, VCPUS, [0], "xapic_id", 0x42)
    qtbot.wait(50)
    assert calls == ["A", "B"]
    assert len(got) == 1


def test_undo_restores_the_previous_evaluation_exactly(qtbot) -> None:
    ctrl = Controller()
    ctrl.set_scenario(aliased_61())
    before = ctrl.evaluation.to_json()
    assert edits.set_values(ctrl, VCPUS, [2], "xapic_id", 1)
    assert ctrl.evaluation.to_json() != before
    ctrl.undo_stack.undo()
    assert ctrl.evaluation.to_json() == before
    ctrl.undo_stack.redo()
    assert ctrl.evaluation.result.phys_losers  # vCPU 2 lost slot 1 again


def test_edits_replace_rows_so_old_evaluations_stay_snapshots(qtbot) -> None:
    ctrl = Controller()
    ctrl.set_scenario(aliased_61())
    old = ctrl.evaluation
    assert edits.set_values(ctrl, VCPUS, [1], "xapic_id", 0x20)
    assert old.scenario.vcpus[1].xapic_id == 1  # what the old evaluation saw is unchanged
    assert ctrl.evaluation.scenario.vcpus[1].xapic_id == 0x20


def slow_sweeps(monkeypatch) -> None:
    """The worker's sweep takes a while, so a test can act while it runs."""
    import time

    from apicviz.gui.controller import sweep_scheduler
    from apicviz.model.sweep import sweep

    def slow(ev, cancelled=None):
        time.sleep(0.3)
        return sweep(ev, cancelled)

    monkeypatch.setattr(sweep_scheduler, "sweep", slow)


def big_scenario(xapic_id_of_5: int = 5) -> Scenario:
    vcpus = [Vcpu(id=i, apic="xapic" if i < 0x100 else "x2apic") for i in range(600)]
    vcpus[5] = replace(vcpus[5], xapic_id=xapic_id_of_5)
    return Scenario(vcpus=vcpus)


def test_a_closed_window_gets_no_late_sweep(qtbot, monkeypatch) -> None:
    slow_sweeps(monkeypatch)
    ctrl = Controller()
    late: list[object] = []
    ctrl.sweep_changed.connect(late.append)
    ctrl.set_scenario(big_scenario())
    qtbot.waitUntil(lambda: ctrl.sweeps.busy, timeout=5000)  # the worker has started
    ctrl.shutdown()
    qtbot.wait(600)  # the worker finishes meanwhile; nothing may reach the (closing) window
    assert not late
    assert not ctrl.sweeps.busy


def test_stale_worker_results_are_dropped(qtbot, monkeypatch) -> None:
    """An edit while the worker sweeps the previous one: only the newest sweep is published."""
    slow_sweeps(monkeypatch)
    scheduler = SweepScheduler(background_from=1)
    published: list[object] = []
    scheduler.finished.connect(published.append)
    first, second = evaluate(big_scenario(5)), evaluate(big_scenario(0))
    scheduler.schedule(first)
    qtbot.waitUntil(lambda: scheduler.busy, timeout=5000)
    scheduler.schedule(second)  # the running job is now stale
    qtbot.waitUntil(lambda: scheduler.fresh, timeout=20000)
    assert len(published) == 1
    assert published[0] is scheduler.result
    from apicviz.model.sweep import sweep

    assert [(r.dest, r.route.dropped) for r in scheduler.result.rows] == \
        [(r.dest, r.route.dropped) for r in sweep(second).rows]
    assert [(r.dest, r.route.dropped) for r in scheduler.result.rows] != \
        [(r.dest, r.route.dropped) for r in sweep(first).rows]


@pytest.mark.parametrize("background", [False, True])
def test_a_failing_sweep_is_reported_once_and_not_retried(qtbot, monkeypatch, background) -> None:
    """A sweep that raises: one sweep_failed with the reason, no retry loop, and the next edit tries again."""
    from apicviz.gui.controller import sweep_scheduler

    calls: list[int] = []

    def broken(ev, cancelled=None):
        calls.append(1)
        raise ValueError("boom")

    monkeypatch.setattr(sweep_scheduler, "sweep", broken)
    ctrl = Controller()
    failures: list[str] = []
    ctrl.sweep_failed.connect(failures.append)
    ctrl.set_scenario(big_scenario() if background else Scenario(vcpus=[Vcpu(id=0), Vcpu(id=1)]))
    qtbot.waitUntil(lambda: bool(failures), timeout=5000)
    qtbot.wait(300)  # time for a retry loop to show itself
    assert failures == ["ValueError: boom"]
    assert len(calls) == 1
    assert not ctrl.sweeps.busy
    ctrl.rerun()
    qtbot.waitUntil(lambda: len(failures) == 2, timeout=5000)
    assert len(calls) == 2
    ctrl.shutdown()
