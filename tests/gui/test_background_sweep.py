"""Big VMs sweep in a worker thread: the window stays responsive and stale sweeps are dropped."""
from __future__ import annotations

from apicviz.gui.controller.controller import BACKGROUND_SWEEP_VCPUS, Controller
from apicviz.model import Scenario, Vcpu
from apicviz.model.sweep import sweep


def big_scenario() -> Scenario:
    n = BACKGROUND_SWEEP_VCPUS + 100
    return Scenario(vcpus=[Vcpu(id=i, apic="xapic" if i < 0x100 else "x2apic") for i in range(n)])


def test_background_sweep_delivers_the_newest_result(qtbot):
    controller = Controller()
    controller.set_scenario(big_scenario())
    with qtbot.waitSignal(controller.sweep_changed, timeout=20000):
        pass
    # Two edits in a row: only the sweep of the final state may be published.
    controller.scenario.vcpus[1].xapic_id = 0x00
    controller.rerun()
    controller.scenario.vcpus[2].xapic_id = 0x00
    controller.rerun()
    with qtbot.waitSignal(controller.sweep_changed, timeout=20000):
        pass
    qtbot.waitUntil(lambda: not controller.sweeps.busy, timeout=20000)
    assert controller.sweeps.fresh
    expected = sweep(controller.evaluation)
    got = controller.sweep_result
    assert [(r.dest_mode, r.dest, r.route.targets, r.route.dropped) for r in got.rows] == \
        [(r.dest_mode, r.dest, r.route.targets, r.route.dropped) for r in expected.rows]


def test_ensure_sweep_is_current_even_while_worker_runs(qtbot):
    controller = Controller()
    controller.set_scenario(big_scenario())
    controller.scenario.vcpus[3].xapic_id = 0x00
    controller.rerun()
    result = controller.ensure_sweep()  # computed now, not waiting for the worker
    assert any(0 in r.route.dropped or 3 in r.route.dropped for r in result.rows)
    qtbot.waitUntil(lambda: not controller.sweeps.busy, timeout=20000)


def test_closing_the_window_during_a_sweep_leaves_no_worker(qtbot, dialogs):
    """The window waits for its worker on close: no thread outlives it, nothing is emitted from it."""
    import threading

    from apicviz.gui.controller import edits
    from apicviz.gui.shell.app import create_main_window

    for kernel in ("6.1", "5.2", "upstream"):
        window = create_main_window(scenario=big_scenario(), remember_settings=False)
        qtbot.addWidget(window)
        window.show()
        assert edits.set_kvm(window.controller, "kernel", kernel)
        qtbot.waitUntil(lambda w=window: w.controller.sweeps.busy, timeout=20000)
        assert window.close()
        assert [t for t in threading.enumerate() if t.name == "apicviz-sweep" and t.is_alive()] == []


def test_a_newer_edit_stops_the_running_sweep(qtbot):
    """The stale worker stops at its next look instead of finishing: it never publishes, the newest does."""
    controller = Controller()
    controller.set_scenario(Scenario(vcpus=[Vcpu(id=i, apic="xapic" if i < 0x100 else "x2apic")
                                            for i in range(4096)]))
    with qtbot.waitSignal(controller.sweep_changed, timeout=20000):
        pass
    scheduler = controller.sweeps
    controller.scenario.vcpus[1].xapic_id = 0x00
    controller.rerun()
    qtbot.waitUntil(lambda: scheduler.busy, timeout=5000)  # the first edit's sweep is running
    stale = scheduler._job
    assert stale is not None
    controller.scenario.vcpus[2].xapic_id = 0x00
    controller.rerun()
    assert stale.cancel.is_set()
    assert stale.done.wait(5)
    assert stale.result is None  # stopped, not finished
    with qtbot.waitSignal(controller.sweep_changed, timeout=20000):
        pass
    qtbot.waitUntil(lambda: not scheduler.busy and scheduler.fresh, timeout=20000)
    expected = sweep(controller.evaluation)
    assert [(r.dest_mode, r.dest, r.route.dropped) for r in controller.sweep_result.rows] == \
        [(r.dest_mode, r.dest, r.route.dropped) for r in expected.rows]
