"""Saving a file atomically without breaking what the user has there.

``os.replace`` of a temp file over the target is atomic, but done naively it
turns a symlink into a plain file, replaces a device node by a regular file
(``-o /dev/full`` as root did), leaves mode 0600, silently replaces a
read-only file, and a kill between create and rename leaves the temp file
behind. Here, for every save (scenario, picture, import, report):

* a symlink is followed and its target written (atomically, next to the target);
* anything but a regular file is refused with a message (``-o -`` is how to
  write to standard output);
* a read-only file is refused with :class:`ReadOnlyFile` unless the caller
  says to replace it (the GUI asks, the CLI wants ``--force``);
* an existing file keeps its mode (and owner, when we may set it); a new
  file gets 0666 minus the umask, like any program's output;
* the data is written into an *unnamed* file (``O_TMPFILE``), so a kill while
  writing leaves nothing; only for the instant between giving it a name and
  renaming it over the target does a ``.apicviz-tmp-PID-…`` file exist. Such
  names, left by a process that is gone, are removed on the next save into
  that folder. Where ``O_TMPFILE`` is not supported the temp file is named from
  the start, and the same clean-up applies.
"""
from __future__ import annotations

import contextlib
import errno
import os
import secrets
import stat
from pathlib import Path

from .errors import ScenarioError
from .file_io import file_kind

TEMP_PREFIX = ".apicviz-tmp-"


class ReadOnlyFile(ScenarioError):
    """The target exists and is read-only; pass ``replace_read_only=True`` to replace it anyway."""


def current_umask() -> int:
    """The process umask, read without changing it where Linux shows it (/proc/self/status)."""
    with contextlib.suppress(OSError, ValueError, StopIteration), open("/proc/self/status") as status:
        return int(next(line for line in status if line.startswith("Umask:")).split()[1], 8)
    mask = os.umask(0o022)  # elsewhere: set and put back
    os.umask(mask)
    return mask


def resolve_target(path: str | os.PathLike[str]) -> Path:
    """The file a save to ``path`` must write: symlinks followed (a dangling one names the file to create)."""
    return Path(os.path.realpath(os.fspath(path)))


def is_read_only(info: os.stat_result, path: Path) -> bool:
    """No write permission for us; for root (who may write anything) a file with no write bit at all."""
    if os.geteuid() == 0:
        return not info.st_mode & 0o222
    return not os.access(path, os.W_OK)


def check_target(path: str | os.PathLike[str], replace_read_only: bool = False) -> tuple[Path, os.stat_result | None]:
    """The resolved target and its stat (None when it does not exist yet); refuses what must not be replaced."""
    target = resolve_target(path)
    try:
        info = os.stat(target)
    except FileNotFoundError:
        return target, None
    except OSError as exc:
        raise ScenarioError("", f"cannot write {path}: {exc.strerror or exc}") from None
    if not stat.S_ISREG(info.st_mode):
        via = f" (the symlink {path} points there)" if os.path.islink(path) else ""
        raise ScenarioError("", f"cannot write {target}{via}: it is {file_kind(info.st_mode)}, not a regular file; "
                                f"apicviz saves regular files only (-o - writes to standard output)")
    if not replace_read_only and is_read_only(info, target):
        raise ReadOnlyFile("", f"{target} is read-only (mode {stat.S_IMODE(info.st_mode):04o}); "
                               f"replace it only on purpose (--force on the command line)")
    return target, info


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def clean_stale_temps(directory: Path) -> list[Path]:
    """Remove ``.apicviz-tmp-PID-…`` files whose process is gone; returns what was removed."""
    removed: list[Path] = []
    try:
        entries = list(os.scandir(directory))
    except OSError:
        return removed
    for entry in entries:
        if not entry.name.startswith(TEMP_PREFIX):
            continue
        pid_text = entry.name[len(TEMP_PREFIX):].split("-", 1)[0]
        if not pid_text.isdigit() or _pid_alive(int(pid_text)):  # our own too: another thread may be saving
            continue
        with contextlib.suppress(OSError):
            if entry.is_file(follow_symlinks=False):
                os.unlink(entry.path)
                removed.append(Path(entry.path))
    return removed


def _temp_name(target: Path) -> Path:
    return target.with_name(f"{TEMP_PREFIX}{os.getpid()}-{secrets.token_hex(4)}-{target.name}"[:255])


def _open_unnamed(directory: Path) -> int | None:
    """An O_TMPFILE descriptor in ``directory``, or None where the system or file system has none."""
    flag = getattr(os, "O_TMPFILE", 0)
    if not flag:
        return None
    try:
        return os.open(directory, flag | os.O_WRONLY | os.O_CLOEXEC, 0o600)
    except OSError as exc:
        if exc.errno in (errno.EOPNOTSUPP, errno.EISDIR, errno.EINVAL, errno.ENOENT):
            return None
        raise


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]
    os.fsync(fd)


def _fsync_dir(directory: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _link_unnamed(fd: int, target: Path) -> Path | None:
    """Give the O_TMPFILE file a temp name next to ``target``; None where /proc cannot do it."""
    temp = _temp_name(target)
    try:
        os.link(f"/proc/self/fd/{fd}", temp, follow_symlinks=True)
    except OSError as exc:
        if exc.errno in (errno.ENOENT, errno.EXDEV, errno.EPERM, errno.EOPNOTSUPP):
            return None
        raise
    return temp


def _write_file(fd: int, data: bytes, mode: int, info: os.stat_result | None) -> None:
    os.fchmod(fd, mode)
    if info is not None and (info.st_uid, info.st_gid) != (os.geteuid(), os.getegid()):
        with contextlib.suppress(OSError):
            os.fchown(fd, info.st_uid, info.st_gid)
    _write_all(fd, data)


def _write_temp(target: Path, data: bytes, mode: int, info: os.stat_result | None) -> Path:
    """The data in a file named ``.apicviz-tmp-…`` next to ``target`` (unnamed while it is written)."""
    fd = _open_unnamed(target.parent)
    if fd is not None:
        try:
            _write_file(fd, data, mode, info)
            temp = _link_unnamed(fd, target)
        finally:
            os.close(fd)
        if temp is not None:
            return temp
    temp = _temp_name(target)
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
    try:
        _write_file(fd, data, mode, info)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        raise
    finally:
        os.close(fd)
    return temp


def atomic_write(path: str | os.PathLike[str], data: bytes, replace_read_only: bool = False) -> Path:
    """Write ``data`` to ``path`` atomically (see the module docstring); returns the file written.

    Raises ScenarioError for a target that is not a regular file,
    :class:`ReadOnlyFile` for a read-only one, and OSError for the rest
    (a full disk, a folder we may not write).
    """
    target, info = check_target(path, replace_read_only)
    clean_stale_temps(target.parent)
    mode = stat.S_IMODE(info.st_mode) if info is not None else 0o666 & ~current_umask()
    temp = _write_temp(target, data, mode, info)
    try:
        os.replace(temp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        raise
    _fsync_dir(target.parent)
    return target
