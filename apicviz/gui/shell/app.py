"""Building the window without running it: used by ``launch``, the tests, and ``render``.

Construction never blocks and never shows a dialog, so a headless caller can
build a window on the offscreen platform, grab it and exit.
"""
from __future__ import annotations

import os

from PySide6.QtGui import QIcon
from PySide6.QtWidgets import QApplication

from ... import __version__, resources
from ...model import Scenario, ScenarioError, load_scenario
from ..controller.controller import Controller
from . import fonts, settings
from .default_scenario import default_scenario
from .file_actions import is_picture
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


def initial_scenario(path: str | None, remember_settings: bool) -> tuple[Scenario, str | None, str]:
    """(scenario, its save path, a status message or "").

    Only surprises get a message: it hides the status-bar summary for a while.
    An explicit bad ``path`` raises ScenarioError.
    """
    if path:
        scenario = load_scenario(path)
        if is_picture(path):
            return scenario, None, f"Opened the scenario embedded in {path}; Save As keeps it as a scenario file"
        return scenario, os.path.abspath(path), ""
    last = settings.last_file() if remember_settings else None
    if last:
        try:
            scenario = load_scenario(last)
        except ScenarioError as exc:
            return default_scenario(), None, f"Could not reopen {last}: {exc} — showing the example instead"
        return scenario, None if is_picture(last) else last, ""
    return default_scenario(), None, ""


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
    if scenario is not None:
        real_path = os.path.abspath(path) if path and not is_picture(path) else None
        message = ""
    else:
        scenario, real_path, message = initial_scenario(path, remember_settings)
    controller = Controller()
    window = MainWindow(controller, remember_settings=remember_settings)
    controller.setParent(window)
    controller.set_scenario(scenario, real_path)
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
