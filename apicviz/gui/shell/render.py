"""``apicviz render``: the main window drawn offscreen into a PNG that embeds its scenario."""
from __future__ import annotations

import os
import sys

from ...model import ScenarioError, load_scenario


def render_to_png(path: str, output: str, size: tuple[int, int], interrupt: int | None, map_only: bool,
                  force: bool = False) -> int:
    """Render deterministically (fixed size, shipped fonts, no saved settings) and save."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    scenario = load_scenario(path)
    if interrupt is not None and not 0 <= interrupt < len(scenario.interrupts):
        raise ScenarioError("--interrupt", f"{interrupt} is out of range; allowed 0..{len(scenario.interrupts) - 1}"
                            if scenario.interrupts else "the scenario has no interrupts")
    from PySide6.QtCore import QCoreApplication, QEvent, qInstallMessageHandler

    from .app import create_application, create_main_window
    from .picture import save_picture

    def quiet(_kind, _context, message: str) -> None:
        # The offscreen platform cannot honour window-manager hints; that is not news for a picture.
        if "propagateSizeHints" not in message:
            print(message, file=sys.stderr)

    qInstallMessageHandler(quiet)

    app = create_application(["apicviz-render"], remember_settings=False)
    window = create_main_window(scenario=scenario, path=path, remember_settings=False)
    window.resize(*size)
    window.show()
    controller = window.controller
    if interrupt is not None:
        controller.select_interrupt(interrupt)
    controller.ensure_sweep()
    for _ in range(3):
        app.processEvents()
        # Qt retires re-arranged dock tab bars with deleteLater, which only runs in an event loop.
        QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
    target = window.map_view if map_only else window
    save_picture(target, controller.scenario, output, replace_read_only=force)
    window.close()
    print(f"wrote {output} ({size[0]}x{size[1]}, scenario embedded)", file=sys.stderr)
    return 0
