"""``apicviz render``: the window drawn offscreen to a PNG that embeds the scenario.

It selects the offscreen platform before the first Qt import so it works
without a display.
"""
from __future__ import annotations

import argparse
import os

from ..model import ScenarioError
from ..model.errors import quote
from ..model.safe_write import check_target


def run(argv: list[str]) -> int:
    p = argparse.ArgumentParser(
        prog="apicviz render",
        description="Render the main window to a PNG without a display; the PNG embeds the scenario.",
    )
    p.add_argument("file", metavar="FILE")
    p.add_argument("-o", "--output", required=True, metavar="out.png")
    p.add_argument("--force", action="store_true", help="replace out.png even if it is a read-only file")
    p.add_argument("--size", default="1280x800", help="window size WIDTHxHEIGHT (default 1280x800)")
    p.add_argument("--interrupt", type=int, default=None, metavar="N", help="select interrupt N (0-based)")
    p.add_argument("--map-only", action="store_true", help="render the map view alone")
    p.add_argument("--host", action="store_true",
                   help="run the host check on /dev/kvm first: the Host column, its chip and the PNG carry the verdict")
    args = p.parse_args(argv)
    try:
        width, height = (int(x) for x in args.size.lower().split("x"))
        if not (200 <= width <= 8000 and 200 <= height <= 8000):
            raise ValueError
    except ValueError:
        raise ScenarioError("--size", f"{quote(args.size)}: use WIDTHxHEIGHT, each 200..8000") from None
    check_target(args.output, args.force)  # a device or read-only file: refused before rendering
    os.environ["QT_QPA_PLATFORM"] = "offscreen"
    from ..gui.shell.render import render_to_png

    return render_to_png(args.file, args.output, (width, height), args.interrupt, args.map_only, args.force,
                         host=args.host)
