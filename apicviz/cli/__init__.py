"""Command line: ``apicviz [FILE]`` opens the window; subcommands work without Qt.

Each subcommand is one module here with ``run(argv) -> int``, imported only
when it is called, so ``apicviz eval`` starts fast and never loads Qt. Only the
window and ``render`` import Qt.
"""
from __future__ import annotations

import argparse
import difflib
import importlib
import sys

from .. import __version__

#: subcommand -> (module in this package, one line of help)
COMMANDS: dict[str, tuple[str, str]] = {
    "eval": ("eval_cmd", "KVM's map and every interrupt's route (readable or --json)"),
    "render": ("render_cmd", "draw the window to a PNG that embeds the scenario"),
    "report": ("report_cmd", "Markdown bug report"),
    "diff": ("diff_cmd", "the same VM under two kernels or flag sets"),
    "import": ("import_cmd", "build a scenario from KVM LAPIC pages, QEMU 'info lapic', -smp or a libvirt domain"),
    "attach": ("attach_cmd", "read a running QEMU's vCPUs over QMP into a scenario"),
    "examples": ("examples_cmd", "list the example scenarios shipped with apicviz"),
    "install-desktop": ("install_desktop_cmd", "add apicviz with its icon to your desktop's menu"),
    "probe": ("probe_cmd", "run the scenario on this machine's KVM and compare with the model"),
}


def _gui_parser() -> argparse.ArgumentParser:
    names = "|".join(COMMANDS)
    p = argparse.ArgumentParser(
        prog="apicviz",
        description="Show how KVM builds its optimized local-APIC map and where every interrupt goes.",
        epilog=f"Commands without a window: apicviz {names} --help",
    )
    p.add_argument("file", nargs="?", help="scenario (.apicviz.json) or a PNG exported by apicviz")
    p.add_argument("--version", action="version", version=f"apicviz {__version__}")
    return p


def _looks_like_command(word: str) -> bool:
    """A bare word that is no file name but close to a subcommand is a typo, not a scenario."""
    return "." not in word and "/" not in word and bool(difflib.get_close_matches(word, COMMANDS, n=1, cutoff=0.6))


def run_command(name: str, argv: list[str]) -> int:
    """Run one subcommand; a ScenarioError or OSError becomes one line on stderr and status 1."""
    from ..model.errors import ScenarioError

    module = importlib.import_module(f"{__name__}.{COMMANDS[name][0]}")
    try:
        return int(module.run(argv))
    except ScenarioError as exc:
        print(f"apicviz {name}: error: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:
        print(f"apicviz {name}: error: {exc}", file=sys.stderr)
        return 1


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        if argv and argv[0] in COMMANDS:
            return run_command(argv[0], argv[1:])
        if argv and not argv[0].startswith("-") and _looks_like_command(argv[0]):
            import os

            if not os.path.exists(argv[0]):
                guess = difflib.get_close_matches(argv[0], COMMANDS, n=1, cutoff=0.6)[0]
                print(f"apicviz: unknown command {argv[0]!r} (did you mean {guess!r}?); "
                      f"commands: {', '.join(COMMANDS)}", file=sys.stderr)
                return 2
        args = _gui_parser().parse_args(argv)
        from ..gui.shell.launch import launch

        return launch(args.file)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 0
