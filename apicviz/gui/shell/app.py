"""Building the window without running it: used by ``launch``, the tests, and ``render``.

Construction never blocks and never shows a dialog, so a headless caller can
build a window on the offscreen platform, grab it and exit.
"""
from __future__ import annotations

import os
from pathlib import Path

from PySide6.QtGui import QIcon
from PySide6.QtWidgets import QApplication

from ... import __version__, resources
from ...model import Scenario, ScenarioError, load_scenario
from ..controller.controller import Controller
from . import fonts, settings
from .default_scenario import default_example_path, default_scenario
from .file_actions import is_picture, is_shipped
from .main_window import MainWindow


def app_icon() -> QIcon:
    return QIcon(str(resources.icon_file()))


def create_application(argv: list[str] | None = None, remember_settings: bool = True) -> QApplication:
    """The QApplication (created on first use) with apicviz's names, icon and shipped fonts.

    ``remember_settings`` is accepted for symmetry with :func:`create_main_window`;
    the application object itself keeps nothing between runs.
    """
    app = QApplication.instance()
    if app is None:
        fonts.prepare_environment()
        app = QApplication(argv or ["apicviz"])
        fonts.register_fonts()
    assert isinstance(app, QApplication)
    app.setApplicationName(settings.APPLICATION)
    app.setOrganizationName(settings.ORGANIZATION)
    app.setApplicationVersion(__version__)
    app.setDesktopFileName("apicviz")
    app.setWindowIcon(app_icon())
    return app


ensure_app = create_application


def initial_scenario(path: str | None, remember_settings: bool) -> tuple[Scenario, str | None, str, Path | None]:
    """(scenario, its save path, a status message or "", the shipped example it is or None).

    Only surprises get a message: it hides the status-bar summary for a while.
    An explicit bad ``path`` raises ScenarioError. A shipped example (the
    first-start one, or one named by path) has no save path: Save asks for a name.
    """
    if path:
        scenario = load_scenario(path)
        if is_picture(path):
            return scenario, None, f"Opened the scenario embedded in {path}; Save As keeps it as a scenario file", None
        if is_shipped(path):
            return scenario, None, "", Path(path)
        return scenario, os.path.abspath(path), "", None
    last = settings.last_file() if remember_settings else None
    if last:
        try:
            scenario = load_scenario(last)
        except ScenarioError as exc:
            return (default_scenario(), None, f"Could not reopen {last}: {exc} — showing the example instead",
                    default_example_path())
        if is_shipped(last):
            return scenario, None, "", Path(last)
        return scenario, None if is_picture(last) else last, "", None
    return default_scenario(), None, "", default_example_path()


def create_main_window(path: str | None = None, *, scenario: Scenario | None = None,
                       remember_settings: bool = True) -> MainWindow:
    """A ready, not yet shown main window.

    With ``scenario`` it shows that scenario (``path`` is then only its name);
    else it loads ``path``, or the last file, or the built-in example. An
    explicit ``path`` that cannot be read raises ScenarioError for the caller
    to report. ``remember_settings=False`` ignores (and never writes) the
    remembered last file and window layout, for reproducible pictures.
    """
    create_application()
    example: Path | None = None
    if scenario is not None:
        real_path = os.path.abspath(path) if path and not is_picture(path) else None
        message = ""
    else:
        scenario, real_path, message, example = initial_scenario(path, remember_settings)
    controller = Controller()
    window = MainWindow(controller, remember_settings=remember_settings)
    controller.setParent(window)
    controller.set_scenario(scenario, real_path)
    if example is not None:
        window.files.opened_example(example)  # its name in the title; Save asks for a new one
    if real_path and remember_settings:
        settings.add_recent(real_path)
        window.files.rebuild_recent_menu()
    if remember_settings:
        window.restore_layout()
        from .autosave import Autosaver

        window.autosaver = Autosaver(controller)
        window.autosaver.failed.connect(window.show_message)
    window.setWindowIcon(app_icon())
    if message:
        window.show_message(message)
    return window
