"""After an edit the map repaints only the slots that changed, and what is on screen is what a full repaint draws."""
from __future__ import annotations

import random

from PySide6.QtWidgets import QApplication

from apicviz.gui.controller import edits
from apicviz.gui.controller.controller import VCPUS, Controller
from apicviz.gui.viewmodels.map_slots import MapSlots
from apicviz.gui.views.map_view import MapView
from apicviz.model import Scenario, Vcpu, evaluate
from apicviz.model.scenario import DFR_CLUSTER, DFR_FLAT, Interrupt, KvmConfig


def random_scenario(rng: random.Random) -> Scenario:
    ids = rng.sample(range(0x1F0), rng.randint(1, 24))
    vcpus = [Vcpu(id=i, apic=rng.choice(("xapic", "xapic", "x2apic", "disabled")),
                  xapic_id=rng.choice((i & 0xFF, 3, 7)), logical_id=rng.choice((0, 1, 2, 0x11)),
                  dfr=rng.choice((DFR_FLAT, DFR_CLUSTER)),
                  sw_enabled=rng.random() > 0.2) for i in ids]
    irqs = [Interrupt(dest=rng.choice((0, 3, 7, 0x123, 0xFF)))]
    kernel = rng.choice(("5.2", "6.1", "upstream"))
    return Scenario(kvm=KvmConfig(kernel=kernel, use_32bit_ids=rng.random() > 0.5), vcpus=vcpus, interrupts=irqs)


def all_slots(*slots: MapSlots) -> set[int]:
    out: set[int] = set(range(0x200))
    for s in slots:
        out |= set(s.holders) | set(s.losers_by_slot) | set(s.markers)
    return out


def test_dirty_slots_cover_every_slot_that_looks_different() -> None:
    """MapSlots.dirty_since never misses a slot whose drawing changes (random one-field edits)."""
    rng = random.Random(13)
    fields = {"xapic_id": lambda: rng.choice((0, 3, 7, 0x23)), "apic": lambda: rng.choice(("xapic", "x2apic")),
              "logical_id": lambda: rng.choice((0, 1, 4)), "sw_enabled": lambda: rng.random() > 0.5,
              "id": lambda: rng.randrange(0x1F0, 0x300)}
    checked = 0
    for _ in range(300):
        sc = random_scenario(rng)
        before = MapSlots(evaluate(sc))
        before.set_overlay([0], None)
        after_sc = Scenario(kvm=sc.kvm, vcpus=list(sc.vcpus), interrupts=sc.interrupts)
        row = rng.randrange(len(sc.vcpus))
        name = rng.choice(list(fields))
        value = fields[name]()
        if name == "id" and value in {v.id for v in sc.vcpus}:
            continue
        changed = Vcpu(**{**sc.vcpus[row].__dict__, name: value})
        after_sc.vcpus[row] = changed
        after = MapSlots(evaluate(after_sc))
        after.set_overlay([rng.randrange(len(sc.vcpus))], None)
        dirty = after.dirty_since(before)
        if dirty is None or before.rows() != after.rows():
            continue  # the grid repaints everything (new rows move the layout)
        looks = [a for a in all_slots(before, after) if before.info(a) != after.info(a)]
        missed = [hex(a) for a in looks if a not in dirty]
        assert not missed, f"{name}={value} on row {row}: {missed} not repainted"
        checked += 1
    assert checked > 100  # most edits take the partial path


def _on_screen(widget) -> object:
    """What the window shows now (the backing store), not a fresh render."""
    window = widget.window()
    return window.screen().grabWindow(window.winId()).toImage()


def test_partial_repaint_shows_what_a_full_repaint_draws(qtbot) -> None:
    vcpus = [Vcpu(id=i, logical_id=1 << (i % 8) if i < 8 else 0) for i in range(40)]
    ctrl = Controller(Scenario(kvm=KvmConfig(kernel="6.1"), vcpus=vcpus, interrupts=[Interrupt(dest=3)]))
    ctrl.set_scenario(ctrl.scenario)
    view = MapView(ctrl)
    qtbot.addWidget(view)
    view.resize(900, 600)
    view.show()
    qtbot.waitExposed(view)
    ctrl.select_interrupt(0)
    for value in (0x80, 0x05, 0x3, 0x1):
        assert edits.set_values(ctrl, VCPUS, [1], "xapic_id", value)
        ctrl.select_vcpus([1])
        QApplication.processEvents()
        QApplication.processEvents()
        partial = _on_screen(view)
        view.grid.viewport().repaint()
        full = _on_screen(view)
        assert partial == full, f"xAPIC ID {value:#x}: the partial repaint differs from a full one"
