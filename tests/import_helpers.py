"""Shared by the importer tests: sample paths, running the CLI, checking nothing was written."""
from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from apicviz.cli.import_cmd import run as main

DATA = Path(__file__).parent / "data" / "import"
APICVIZ = Path(sys.executable).parent / "apicviz"


@dataclass
class Run:
    status: int
    out: str
    err: str


def run_main(capsys, *argv: str) -> Run:
    """Call ``apicviz.cli.import_cmd.run`` in-process and capture what it printed."""
    status = main(list(argv))
    captured = capsys.readouterr()
    return Run(status, captured.out, captured.err)


def run_cli(*argv: str, stdin: bytes | None = None) -> Run:
    """Run the installed ``apicviz import`` entry point as a user would."""
    proc = subprocess.run(
        [str(APICVIZ), "import", *argv], input=stdin, capture_output=True, timeout=60, check=False,
    )
    return Run(proc.returncode, proc.stdout.decode("utf-8", "replace"), proc.stderr.decode("utf-8", "replace"))


def only_files(directory: Path) -> list[str]:
    """Every file in ``directory``, temp files included, to prove a failed import wrote nothing."""
    return sorted(p.name for p in directory.iterdir())
