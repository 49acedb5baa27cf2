"""Reading input files without hanging or slurping: the one bounded reader.

Every file apicviz reads (scenarios, pictures, imported dumps) comes through
here: a device node or directory is refused without being opened (a terminal
would block, a tape rewind), a FIFO without a writer reads as empty instead of
blocking in ``open``, the size of a regular file is checked before reading,
and never more than ``limit + 1`` bytes are read, so an oversized input costs
no more memory than an allowed one.
"""
from __future__ import annotations

import os
import stat
import sys

from .errors import ScenarioError


def file_kind(mode: int) -> str:
    """Words for a file type that is not a regular file."""
    if stat.S_ISDIR(mode):
        return "a directory"
    if stat.S_ISCHR(mode):
        return "a character device"
    if stat.S_ISBLK(mode):
        return "a block device"
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe)"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


def _read_fd(fd: int, limit: int) -> bytes:
    parts: list[bytes] = []
    size = 0
    while size <= limit:
        piece = os.read(fd, min(1 << 20, limit + 1 - size))
        if not piece:
            break
        parts.append(piece)
        size += len(piece)
    return b"".join(parts)


def _regular_size(path: str | os.PathLike[str], shown: str) -> int | None:
    """The size of a regular file, None for a FIFO or socket; devices and directories are refused."""
    try:
        info = os.stat(path)
    except OSError as exc:
        raise ScenarioError("", f"cannot read {shown}: {exc.strerror or exc}") from None
    if stat.S_ISCHR(info.st_mode) or stat.S_ISBLK(info.st_mode) or stat.S_ISDIR(info.st_mode):
        raise ScenarioError("", f"cannot read {shown}: it is {file_kind(info.st_mode)}, not a file")
    return info.st_size if stat.S_ISREG(info.st_mode) else None


def _read_path(path: str | os.PathLike[str], limit: int, shown: str) -> bytes:
    """At most ``limit + 1`` bytes of ``path`` (``"-"``: standard input)."""
    if os.fspath(path) == "-":
        return _read_fd(sys.stdin.fileno(), limit)
    try:
        # O_NONBLOCK: opening a FIFO must not wait for a writer; reads block again afterwards.
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as exc:
        raise ScenarioError("", f"cannot read {shown}: {exc.strerror or exc}") from None
    try:
        os.set_blocking(fd, True)
        return _read_fd(fd, limit)
    except OSError as exc:
        raise ScenarioError("", f"cannot read {shown}: {exc.strerror or exc}") from None
    finally:
        os.close(fd)


def read_bounded(path: str | os.PathLike[str], limit: int, what: str, name: str | None = None) -> bytes:
    """Up to ``limit`` bytes of ``path`` (``"-"``: standard input); more is a ScenarioError.

    ``what`` names the kind of input in the message ("a scenario"); ``name`` is
    how the file is called in it (default: the path).
    """
    shown = name or os.fspath(path)
    if os.fspath(path) != "-":
        size = _regular_size(path, shown)
        if size is not None and size > limit:
            raise ScenarioError("", f"{shown} is {size:,} bytes; at most {limit:,} for {what}")
    data = _read_path(path, limit, shown)
    if len(data) > limit:
        raise ScenarioError("", f"{shown} is more than {limit:,} bytes; too large for {what}")
    return data


def display_name(path: str) -> str:
    return "<stdin>" if path == "-" else os.path.basename(path) or path


def read_all_bounded(paths: list[str], limit: int, what: str, max_files: int) -> list[tuple[str, bytes]]:
    """``(display name, bytes)`` of several files that together hold at most ``limit`` bytes.

    The sizes are checked before anything is read (a thousand 4 MiB files are
    refused at once, not after reading 4 GB), and each file is then read with
    what is left of the budget, so files that grow meanwhile are caught too.
    """
    if len(paths) > max_files:
        raise ScenarioError("", f"{len(paths):,} files; at most {max_files:,} for {what}")
    total = 0
    for path in paths:
        if path != "-":
            total += _regular_size(path, path) or 0
    if total > limit:
        raise ScenarioError("", f"the {len(paths):,} files hold {total:,} bytes; at most {limit:,} in all for {what}")
    out: list[tuple[str, bytes]] = []
    left = limit
    for path in paths:
        data = _read_path(path, left, path)
        if len(data) > left:
            raise ScenarioError(
                "", f"{display_name(path)}: the files hold more than {limit:,} bytes in all; too large for {what}")
        left -= len(data)
        out.append((display_name(path), data))
    return out
