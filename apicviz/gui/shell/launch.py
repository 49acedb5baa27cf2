"""Start the window: check for a display first, since Qt aborts the process without one.

On Linux, Qt's xcb plugin also aborts when a few X11 helper libraries are
missing (the classic "could not load the Qt platform plugin xcb"); we look
for them first and name the Debian packages instead.
"""
from __future__ import annotations

import ctypes
import os
import sys
from collections.abc import Callable, Mapping

#: Libraries the xcb platform plugin needs beyond Qt itself -> Debian/Ubuntu package.
XCB_LIBRARIES = {
    "libxcb-cursor.so.0": "libxcb-cursor0",
    "libxkbcommon-x11.so.0": "libxkbcommon-x11-0",
    "libxcb-icccm.so.4": "libxcb-icccm4",
    "libxcb-keysyms.so.1": "libxcb-keysyms1",
}
HEADLESS_HINT = (
    "For use without a display: `apicviz eval FILE` prints the map and every route, "
    "`apicviz render FILE -o out.png` draws the picture."
)
EXIT_NO_DISPLAY = 2
#: Benchmarks only (benchmarks/bench_actions.py): the wall-clock time (``time.time()``) at which the
#: launcher exec'd us. When set, the app prints the seconds to its first painted window and quits.
FIRST_PAINT_ENV = "APICVIZ_BENCH_LAUNCH_T0"


def platform_name(env: Mapping[str, str]) -> str:
    """The Qt platform plugin that will be used: QT_QPA_PLATFORM, else what Qt picks on Linux."""
    explicit = env.get("QT_QPA_PLATFORM", "").strip()
    if explicit:
        return explicit.split(":")[0].split(";")[0]
    if env.get("WAYLAND_DISPLAY"):
        return "wayland"  # Qt 6 tries Wayland first in a Wayland session (xcb only as a fallback)
    return "xcb"


def display_problem(env: Mapping[str, str] | None = None, system: str | None = None) -> str | None:
    """A message when there is clearly no display to open a window on, else None."""
    env = os.environ if env is None else env
    system = sys.platform if system is None else system
    if not system.startswith("linux"):
        return None
    if env.get("QT_QPA_PLATFORM") or env.get("DISPLAY") or env.get("WAYLAND_DISPLAY"):
        return None
    return ("apicviz: no display (neither DISPLAY nor WAYLAND_DISPLAY is set, and QT_QPA_PLATFORM is not set), "
            "so the window cannot open.\n" + HEADLESS_HINT)


def x_server_problem(env: Mapping[str, str] | None = None, system: str | None = None,
                     answers: Callable[[str], bool | None] | None = None) -> str | None:
    """A message when ``DISPLAY`` names an X server that is not there (Qt would abort on it)."""
    from .x11_probe import no_server_message, x_server_answers

    env = os.environ if env is None else env
    system = sys.platform if system is None else system
    display = env.get("DISPLAY", "")
    if not system.startswith("linux") or platform_name(env) != "xcb" or not display:
        return None
    if (answers or x_server_answers)(display) is not False:
        return None
    return no_server_message(display) + "\n" + HEADLESS_HINT


def _loads(name: str) -> bool:
    try:
        ctypes.CDLL(name)
    except OSError:
        return False
    return True


def missing_xcb_libraries(loads: Callable[[str], bool] = _loads) -> list[str]:
    """The xcb helper libraries that cannot be loaded (sonames)."""
    return [lib for lib in XCB_LIBRARIES if not loads(lib)]


def xcb_problem(env: Mapping[str, str] | None = None, system: str | None = None,
                loads: Callable[[str], bool] = _loads) -> str | None:
    """A message naming the Debian packages when Qt's xcb plugin would abort for a missing library."""
    env = os.environ if env is None else env
    system = sys.platform if system is None else system
    if not system.startswith("linux") or platform_name(env) != "xcb":
        return None
    missing = missing_xcb_libraries(loads)
    if not missing:
        return None
    packages = " ".join(XCB_LIBRARIES[lib] for lib in missing)
    return (f"apicviz: Qt's X11 (xcb) platform needs {', '.join(missing)}, which cannot be loaded.\n"
            f"Install on Debian/Ubuntu: sudo apt-get install {packages}\n"
            f"(Fedora: xcb-util-cursor xcb-util-wm xcb-util-keysyms libxkbcommon-x11.)\n" + HEADLESS_HINT)


def launch(path: str | None) -> int:
    """Open the main window (on ``path``, the last file, or the example) and run the event loop."""
    problem = display_problem() or x_server_problem() or xcb_problem()
    if problem:
        print(problem, file=sys.stderr)
        return EXIT_NO_DISPLAY

    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QMessageBox

    from ...model import ScenarioError
    from ...model.errors import dialog_text
    from .app import create_application, create_main_window
    from .errors import install_excepthook

    app = create_application(sys.argv[:1])
    error: str | None = None
    try:
        window = create_main_window(path)
    except ScenarioError as exc:
        error = f"{path}\n\n{exc}"
        window = create_main_window(None)
    install_excepthook(lambda: window)
    from .housekeeping import install_idle_gc

    install_idle_gc(window.controller)
    launched_at = os.environ.get(FIRST_PAINT_ENV)
    if launched_at:
        from .first_paint import quit_after_first_paint

        quit_after_first_paint(window, float(launched_at))
    window.show()
    QTimer.singleShot(0, lambda: offer_restore(window))
    if error:
        QTimer.singleShot(0, lambda: QMessageBox.critical(window, "Cannot open scenario", dialog_text(error)))
    return app.exec()


def offer_restore(window) -> bool:
    """After a crash or kill, offer the autosaves of windows that are gone (see :mod:`.autosave`)."""
    from .autosave import offer_restore as offer

    return offer(window)
