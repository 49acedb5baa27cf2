"""Starting up: no display, missing X11 libraries, the example scenario, the exception dialog."""
from __future__ import annotations

import sys

from apicviz.gui.shell import launch as launch_mod
from apicviz.gui.shell.default_scenario import default_scenario
from apicviz.model import evaluate


def test_no_display_is_a_clear_exit_2(monkeypatch, capsys):
    for name in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(sys, "platform", "linux")
    assert launch_mod.launch(None) == 2
    err = capsys.readouterr().err
    assert "no display" in err
    assert "apicviz eval FILE" in err
    assert "apicviz render FILE -o out.png" in err


def test_display_problem_only_without_any_display():
    assert launch_mod.display_problem({}, "linux")
    assert launch_mod.display_problem({"DISPLAY": ":0"}, "linux") is None
    assert launch_mod.display_problem({"WAYLAND_DISPLAY": "wayland-0"}, "linux") is None
    assert launch_mod.display_problem({"QT_QPA_PLATFORM": "offscreen"}, "linux") is None
    assert launch_mod.display_problem({}, "darwin") is None


def test_missing_xcb_libraries_name_the_packages():
    missing = {"libxcb-cursor.so.0", "libxcb-keysyms.so.1"}
    message = launch_mod.xcb_problem({"DISPLAY": ":0"}, "linux", loads=lambda lib: lib not in missing)
    assert "sudo apt-get install libxcb-cursor0 libxcb-keysyms1" in message
    assert "libxcb-cursor.so.0" in message
    assert launch_mod.xcb_problem({"DISPLAY": ":0"}, "linux", loads=lambda lib: True) is None
    assert launch_mod.xcb_problem({"QT_QPA_PLATFORM": "offscreen"}, "linux", loads=lambda lib: False) is None
    assert launch_mod.xcb_problem({"WAYLAND_DISPLAY": "w"}, "linux", loads=lambda lib: False) is None
    assert launch_mod.xcb_problem({"WAYLAND_DISPLAY": "w", "DISPLAY": ":0"}, "linux", loads=lambda lib: False) is None
    assert launch_mod.xcb_problem({"QT_QPA_PLATFORM": "xcb"}, "linux", loads=lambda lib: False) is not None


def test_default_scenario_is_small_and_shows_a_drop():
    scenario = default_scenario()
    assert scenario.kvm.kernel == "6.1"
    assert 4 <= len(scenario.vcpus) <= 6
    assert 3 <= len(scenario.interrupts) <= 4
    ev = evaluate(scenario)
    assert any(r.dropped for r in ev.routes)
    assert ev.aliases_physical == {2: [2, 3]}
    assert default_scenario() is not scenario


def test_excepthook_shows_a_dialog_and_keeps_running(monkeypatch, qtbot, capsys):
    from apicviz.gui.shell import errors

    shown = []
    monkeypatch.setattr(errors, "show_exception", lambda parent, t, e, tb: shown.append((t, str(e))))
    previous = errors.install_excepthook(lambda: None)
    try:
        try:
            raise ValueError("boom")
        except ValueError:
            sys.excepthook(*sys.exc_info())
    finally:
        sys.excepthook = previous
    assert shown == [(ValueError, "boom")]
    assert "ValueError: boom" in capsys.readouterr().err
