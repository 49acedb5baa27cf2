"""The cyclic collector never runs in a worker thread (a Qt object freed there deadlocks the window)."""
from __future__ import annotations

import gc
import threading

import pytest

from apicviz.collector_hold import collector_held, hold_collector, release_collector
from apicviz.gui.controller.controller import BACKGROUND_SWEEP_VCPUS, Controller
from apicviz.gui.controller.workers import Worker
from apicviz.gui.shell.housekeeping import YOUNG_THRESHOLD, install_idle_gc
from apicviz.model import Scenario, Vcpu


@pytest.fixture(autouse=True)
def collector_on():
    """Each test starts and ends with automatic collection on and nobody holding it."""
    assert not collector_held()
    gc.enable()
    yield
    assert not collector_held()
    assert gc.isenabled()


def test_holds_nest_and_restore_what_was_there():
    hold_collector()
    hold_collector()
    assert not gc.isenabled()
    release_collector()
    assert not gc.isenabled()  # one holder is left
    release_collector()
    assert gc.isenabled()
    gc.disable()
    hold_collector()
    release_collector()
    assert not gc.isenabled()  # it was off before: it stays off
    gc.enable()


def test_a_worker_holds_the_collector_until_it_is_collected():
    go = threading.Event()
    worker = Worker(go.wait, "test-worker")
    worker.start()
    assert collector_held()
    assert not gc.isenabled()
    go.set()
    assert worker.finished()
    assert gc.isenabled()
    worker.finished()  # a second call changes nothing
    assert gc.isenabled()


def test_a_thread_that_outlives_its_wait_keeps_its_hold():
    go = threading.Event()
    worker = Worker(go.wait, "test-worker")
    worker.start()
    assert not worker.finished(0.05)  # still running: collecting now could free Qt objects in it
    assert collector_held()
    go.set()
    assert worker.finished()


def test_no_collection_runs_in_a_sweep_worker(qtbot):
    """Collections are recorded with the thread they run in; big VMs sweep in a worker meanwhile."""
    threads: list[str] = []

    def record(phase: str, _info: dict) -> None:
        if phase == "start":
            threads.append(threading.current_thread().name)

    gc.callbacks.append(record)
    try:
        controller = Controller()
        vcpus = [Vcpu(id=i, apic="xapic" if i < 0x100 else "x2apic") for i in range(BACKGROUND_SWEEP_VCPUS * 4)]
        controller.set_scenario(Scenario(vcpus=vcpus))
        for k in range(3):
            with qtbot.waitSignal(controller.sweep_changed, timeout=20000):
                controller.scenario.vcpus[1].xapic_id = k
                controller.rerun()
        qtbot.waitUntil(lambda: not controller.sweeps.busy, timeout=20000)
        controller.shutdown()
    finally:
        gc.callbacks.remove(record)
    assert "apicviz-sweep" not in threads
    assert set(threads) <= {threading.main_thread().name}


def test_the_app_collects_young_objects_on_the_main_thread(qtbot):
    controller = Controller()
    collector = install_idle_gc(controller)
    try:
        assert not gc.isenabled()  # nothing collects on its own, in any thread
        junk = [[] for _ in range(YOUNG_THRESHOLD * 2)]  # tracked objects: the young generation fills up
        assert gc.get_count()[0] >= YOUNG_THRESHOLD
        qtbot.waitUntil(lambda: collector.young_collections > 0, timeout=3000)
        assert gc.get_count()[0] < YOUNG_THRESHOLD
        del junk
    finally:
        collector.stop()
        controller.shutdown()
