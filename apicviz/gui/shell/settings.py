"""What the app remembers between runs: recent files, the last scenario, window layout.

Always an INI file in the user scope, so tests can redirect it with
``QSettings.setPath(IniFormat, UserScope, tmp)`` and never touch real settings.
"""
from __future__ import annotations

import os

from PySide6.QtCore import QByteArray, QSettings

ORGANIZATION = "apicviz"
APPLICATION = "apicviz"
MAX_RECENT = 8


def settings() -> QSettings:
    return QSettings(QSettings.Format.IniFormat, QSettings.Scope.UserScope, ORGANIZATION, APPLICATION)


def _list(value: object) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [value] if value else []
    if isinstance(value, (list, tuple)):
        return [str(v) for v in value]
    return [str(value)]


def recent_files() -> list[str]:
    return _list(settings().value("recent_files"))


def add_recent(path: str) -> list[str]:
    path = os.path.abspath(path)
    files = [path] + [p for p in recent_files() if p != path]
    files = files[:MAX_RECENT]
    settings().setValue("recent_files", files)
    settings().setValue("last_file", path)
    return files


def remove_recent(path: str) -> None:
    s = settings()
    s.setValue("recent_files", [p for p in recent_files() if p != path])
    if s.value("last_file") == path:
        s.remove("last_file")


def clear_recent() -> None:
    settings().remove("recent_files")


def last_file() -> str | None:
    value = settings().value("last_file")
    return str(value) if value else None


def recent_kernels() -> list[tuple[str, str]]:
    """Kernels checked before (KVM > Check on another kernel…): (kernel image, tree or .deb; modules or '')."""
    out = []
    for entry in _list(settings().value("kernels/recent")):
        kernel, _, modules = entry.partition("\n")
        if kernel:
            out.append((kernel, modules))
    return out


def add_recent_kernel(kernel: str, modules: str = "") -> list[tuple[str, str]]:
    entry = (os.path.abspath(kernel), os.path.abspath(modules) if modules else "")
    kept = [entry] + [k for k in recent_kernels() if k != entry]
    kept = kept[:MAX_RECENT]
    settings().setValue("kernels/recent", [f"{k}\n{m}" for k, m in kept])
    return kept


def save_window(geometry: QByteArray, state: QByteArray, version: int = 0) -> None:
    s = settings()
    s.setValue("window/geometry", geometry)
    s.setValue("window/state", state)
    s.setValue("window/layout_version", version)


def clear_window() -> None:
    """Forget the window layout (it was broken): the next start uses the default."""
    settings().remove("window")


def _layout_current(version: int | None) -> bool:
    if version is None:
        return True
    saved = settings().value("window/layout_version", -1)
    try:
        return int(str(saved)) == version
    except ValueError:
        return False


def window_geometry(version: int | None = None) -> QByteArray | None:
    """The saved geometry, or None (none saved, or ``version`` given and another one saved it)."""
    value = settings().value("window/geometry")
    if isinstance(value, QByteArray) and not value.isEmpty() and _layout_current(version):
        return value
    return None


def window_state(version: int | None = None) -> QByteArray | None:
    value = settings().value("window/state")
    if isinstance(value, QByteArray) and not value.isEmpty() and _layout_current(version):
        return value
    return None
