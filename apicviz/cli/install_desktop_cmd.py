"""``apicviz install-desktop``: put the packaged desktop entry and icon into the user's menu.

A desktop menu starts programs without the user's shell ``PATH`` (and never
inside a venv), so the copied entry's ``Exec=`` names this installation's
``apicviz`` by its full path. Files go where the XDG base-directory spec says
per-user data lives: ``$XDG_DATA_HOME`` (default ``~/.local/share``).
"""
from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

DESKTOP_NAME = "apicviz.desktop"
ICON_NAME = "apicviz.svg"


def data_home(env: Mapping[str, str] | None = None) -> Path:
    env = os.environ if env is None else env
    value = env.get("XDG_DATA_HOME", "")
    # The spec says a relative value is invalid and must be ignored.
    return Path(value) if value and os.path.isabs(value) else Path.home() / ".local" / "share"


def launcher_command() -> list[str]:
    """The command that starts this very installation of apicviz."""
    beside = Path(sys.executable).with_name("apicviz")  # a venv's or the system's console script
    if beside.is_file() and os.access(beside, os.X_OK):
        return [str(beside.absolute())]
    found = shutil.which("apicviz")  # e.g. ``pip install --user`` puts it in ~/.local/bin
    if found:
        return [str(Path(found).absolute())]
    return [str(Path(sys.executable).absolute()), "-m", "apicviz"]


def exec_argument(word: str) -> str:
    """One Exec= argument written as the desktop-entry spec reads it back.

    Reserved characters need double quotes, and inside them ``"`` `` ` `` ``$`` ``\\`` a
    backslash; ``%`` is doubled (field codes); then the key's string escape doubles
    every backslash once more.
    """
    quoted = word
    if not word or any(c in word for c in " \t\n\"'\\><~|&;$*?#()`"):
        inner = "".join("\\" + c if c in '"`$\\' else c for c in word)
        quoted = f'"{inner}"'
    return quoted.replace("%", "%%").replace("\\", "\\\\")


def desktop_entry(template: str, command: list[str]) -> str:
    """The packaged entry with ``Exec=`` pointing at ``command`` (keeping its ``%f`` file argument)."""
    exec_line = "Exec=" + " ".join(exec_argument(w) for w in command) + " %f"
    lines = [exec_line if line.startswith("Exec=") else line for line in template.splitlines()]
    return "\n".join(lines) + "\n"


def targets(root: Path) -> tuple[Path, Path]:
    return (root / "applications" / DESKTOP_NAME,
            root / "icons" / "hicolor" / "scalable" / "apps" / ICON_NAME)


def _refresh_menu_cache(applications: Path) -> None:
    """Desktops that keep a cache see the new entry at once; the others scan the folder anyway."""
    tool = shutil.which("update-desktop-database")
    if tool:
        subprocess.run([tool, str(applications)], check=False, capture_output=True, timeout=30)


def run(argv: list[str]) -> int:
    from .. import resources
    from ..model.scenario_file import atomic_write

    p = argparse.ArgumentParser(
        prog="apicviz install-desktop",
        description="Add apicviz to your desktop's application menu: copy the packaged desktop entry "
                    "and icon into $XDG_DATA_HOME (default ~/.local/share).")
    p.add_argument("--data-home", metavar="DIR", help="install under DIR instead of $XDG_DATA_HOME")
    p.add_argument("--remove", action="store_true", help="remove the entry and icon again")
    args = p.parse_args(argv)
    root = Path(args.data_home).absolute() if args.data_home else data_home()
    desktop_path, icon_path = targets(root)
    if args.remove:
        for path in (desktop_path, icon_path):
            if path.exists():
                path.unlink()
                print(f"removed {path}")
        _refresh_menu_cache(desktop_path.parent)
        return 0
    template = resources.desktop_file().read_text(encoding="utf-8")
    desktop_path.parent.mkdir(parents=True, exist_ok=True)
    icon_path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(str(desktop_path), desktop_entry(template, launcher_command()).encode("utf-8"))
    atomic_write(str(icon_path), resources.icon_file().read_bytes())
    _refresh_menu_cache(desktop_path.parent)
    print(f"installed {desktop_path}")
    print(f"installed {icon_path}")
    return 0
