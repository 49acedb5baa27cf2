"""Subcommands other than ``eval``: render, report, diff, import."""
from __future__ import annotations

import sys


def run(name: str, argv: list[str]) -> int:
    if name == "import":
        from .cli_import import main as import_main

        return import_main(argv)
    print(f"apicviz {name}: not available yet", file=sys.stderr)
    return 2
