"""``apicviz examples``: where the shipped teaching scenarios are, so an installed copy can use them.

The examples are package data; a user of a wheel has no checkout to look in.
Without ``--long`` the output is one path per line, for ``apicviz eval $(apicviz examples)``.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def _title(path: Path) -> str:
    try:
        title = json.loads(path.read_text(encoding="utf-8")).get("title")
    except (OSError, ValueError, AttributeError):
        return ""
    return title if isinstance(title, str) else ""


def run(argv: list[str]) -> int:
    from ..resources import example_files

    p = argparse.ArgumentParser(prog="apicviz examples",
                                description="List the example scenarios shipped with apicviz (full paths).")
    p.add_argument("-l", "--long", action="store_true", help="also print each example's title")
    args = p.parse_args(argv)
    files = example_files()
    if not files:
        print("apicviz examples: error: no examples found in the installed package", file=sys.stderr)
        return 1
    for path in files:
        print(f"{path}\t{_title(path)}" if args.long else str(path))
    return 0
