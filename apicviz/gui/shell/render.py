"""``apicviz render``: the main window drawn offscreen into a PNG that embeds its scenario."""
from __future__ import annotations

import os
import sys
from typing import Any

from ...model import ScenarioError, load_scenario

#: How long ``--host`` waits for the probe (a 1024-vCPU VM takes a few seconds).
HOST_TIMEOUT_S = 120.0


def render_to_png(path: str, output: str, size: tuple[int, int], interrupt: int | None, map_only: bool,
                  force: bool = False, host: bool = False) -> int:
    """Render deterministically (fixed size, shipped fonts, no saved settings) and save.

    The PNG is exactly ``size``: the window (or with ``map_only`` the map on its
    own) is laid out at that size, and a size it cannot be drawn at is refused.
    ``host``: run the host check first, so the picture shows its column and chip and carries its verdict.
    """
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    scenario = load_scenario(path)
    if interrupt is not None and not 0 <= interrupt < len(scenario.interrupts):
        raise ScenarioError("--interrupt", f"{interrupt} is out of range; allowed 0..{len(scenario.interrupts) - 1}"
                            if scenario.interrupts else "the scenario has no interrupts")
    from PySide6.QtCore import QCoreApplication, QEvent, qInstallMessageHandler
    from PySide6.QtWidgets import QWidget

    from ..views.map_view import MapView
    from .app import create_application, create_main_window
    from .picture import save_picture

    def quiet(_kind, _context, message: str) -> None:
        # The offscreen platform cannot honour window-manager hints; that is not news for a picture.
        if "propagateSizeHints" not in message:
            print(message, file=sys.stderr)

    qInstallMessageHandler(quiet)

    app = create_application(["apicviz-render"], remember_settings=False)
    window = create_main_window(scenario=scenario, path=path, remember_settings=False)
    controller = window.controller
    target: QWidget = window
    if map_only:
        # The map alone, as its own window of exactly the asked size (not the map's share of a window).
        target = MapView(controller)
        target.setWindowTitle(window.windowTitle())
    target.resize(*size)
    target.show()
    if interrupt is not None:
        controller.select_interrupt(interrupt)
    controller.ensure_sweep()
    kernels: list[dict[str, Any]] = []
    if host:
        info, why = controller.host_check.availability()
        if info is None:
            window.close()
            print(f"apicviz render: --host: {why}", file=sys.stderr)
            return 2
        controller.set_host_check(True)
        controller.host_check.wait(HOST_TIMEOUT_S)
        verdict = controller.host_results.host.verdict
        if verdict is None:
            window.close()
            print(f"apicviz render: --host: {controller.host_results.host.message or 'no answer'}", file=sys.stderr)
            return 2
        kernels = [verdict.report_json()]
    for _ in range(3):
        app.processEvents()
        # Qt retires re-arranged dock tab bars with deleteLater, which only runs in an event loop.
        QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
        # The first layout pass may grow the window (the status chips settle into rows): size it again.
        target.resize(*size)
    app.processEvents()
    got = (target.width(), target.height())
    if got != tuple(size):
        least = target.minimumSizeHint()
        target.close()
        window.close()
        raise ScenarioError("--size", f"{size[0]}x{size[1]} is smaller than the {'map' if map_only else 'window'} "
                                      f"can be drawn (at least {least.width()}x{least.height()})")
    width, height = save_picture(target, controller.scenario, output, replace_read_only=force,
                                 kernels=kernels)
    target.close()
    window.close()
    print(f"wrote {output} ({width}x{height}, scenario embedded)", file=sys.stderr)
    return 0
