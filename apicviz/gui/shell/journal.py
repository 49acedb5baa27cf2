"""The autosave journal of one window: append-only, one record per edit, replayed on restore.

No Qt here (the window's :mod:`.autosave` drives it), so the format is tested
on its own. A window owns two files in the autosave folder:

* ``apicviz-PID-STAMP.lock`` — held with ``flock`` for the window's whole life;
  the kernel drops the lock when the process dies, however it dies, so "the
  lock can be taken" means "the owner is gone";
* ``apicviz-PID-STAMP.journal`` — lines ``CRC32<TAB>JSON``. The first record
  is a snapshot of the whole scenario, each later one the difference from the
  record before (the changed top-level fields, and for ``vcpus`` and
  ``interrupts`` the one slice that changed). Every record is written with one
  ``write()`` before the edit is shown, so a kill -9 never loses an edit that
  the window showed; ``fdatasync`` follows on a background thread, for power
  loss. Every :data:`SNAPSHOT_EVERY` records (or :data:`SNAPSHOT_BYTES`) the
  journal is rewritten as one snapshot, atomically, which bounds replay.

A torn last line (a kill in the middle of ``write()``, before the edit was
shown) fails its CRC and is ignored on replay.
"""
from __future__ import annotations

import contextlib
import fcntl
import json
import os
import secrets
import threading
import time
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ...model import strict_json
from ...model.errors import ScenarioError
from ...model.file_io import read_bounded
from ...model.safe_write import atomic_write, clean_stale_temps
from ...model.scenario import Scenario
from ...model.scenario_file import scenario_from_dict, scenario_to_dict

PREFIX = "apicviz-"
JOURNAL_SUFFIX = ".journal"
LOCK_SUFFIX = ".lock"
SNAPSHOT_EVERY = 200
SNAPSHOT_BYTES = 4 * 1024 * 1024
#: A journal is one snapshot (at most a 32 MiB scenario) and what followed it.
MAX_JOURNAL_BYTES = 96 * 1024 * 1024
_LISTS = ("vcpus", "interrupts")


def _encode(record: dict[str, Any]) -> bytes:
    text = json.dumps(record, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    return b"%08x\t%s\n" % (zlib.crc32(text), text)


def _decode(line: bytes) -> dict[str, Any] | None:
    """A record, or None for a torn or damaged line."""
    crc, tab, text = line.partition(b"\t")
    if not tab or len(crc) != 8 or not line.endswith(b"\n"):
        return None
    try:
        if int(crc, 16) != zlib.crc32(text[:-1]):
            return None
        record = strict_json.loads(text[:-1].decode("utf-8"))
    except (ValueError, ScenarioError):
        return None
    return record if isinstance(record, dict) else None


def _splice(old: list[Any], new: list[Any]) -> list[Any] | None:
    """``[start, end, items]`` such that ``old[start:end] = items`` gives ``new``; None when equal."""
    if old == new:
        return None
    limit = min(len(old), len(new))
    start = 0
    while start < limit and old[start] == new[start]:
        start += 1
    tail = 0
    while tail < limit - start and old[len(old) - 1 - tail] == new[len(new) - 1 - tail]:
        tail += 1
    return [start, len(old) - tail, new[start:len(new) - tail]]


def diff(old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    """What changed from ``old`` to ``new`` (scenario dicts): ``set`` fields and list splices."""
    out: dict[str, Any] = {}
    changed = {k: v for k, v in new.items() if k not in _LISTS and old.get(k) != v}
    gone = [k for k in old if k not in new and k not in _LISTS]
    if changed:
        out["set"] = changed
    if gone:
        out["unset"] = gone
    for key in _LISTS:
        splice = _splice(old.get(key, []), new.get(key, []))
        if splice is not None:
            out[key] = splice
    return out


def apply(state: dict[str, Any], change: dict[str, Any]) -> dict[str, Any]:
    """``state`` with one diff record applied (a new dict; lists copied where spliced)."""
    out = dict(state)
    out.update(change.get("set", {}))
    for key in change.get("unset", []):
        out.pop(key, None)
    for key in _LISTS:
        if key in change:
            start, end, items = change[key]
            rows = list(out.get(key, []))
            rows[start:end] = items
            out[key] = rows
    return out


@dataclass
class Replayed:
    """What a journal holds: the scenario after its last whole record, and how it was made."""

    scenario: Scenario
    path: str | None
    edits: int
    time: float
    records: int


def replay(journal: Path) -> Replayed | None:
    """The scenario a journal ends with; None for an empty, unreadable or invalid one."""
    try:
        data = read_bounded(journal, MAX_JOURNAL_BYTES, "an autosave journal")
    except ScenarioError:
        return None
    state: dict[str, Any] | None = None
    last: dict[str, Any] = {}
    records = 0
    for line in data.splitlines(keepends=True):
        record = _decode(line)
        if record is None:
            break  # a torn tail: the edit it carried was never shown
        if record.get("kind") == "snapshot" and isinstance(record.get("scenario"), dict):
            state = record["scenario"]
        elif record.get("kind") == "diff" and state is not None and isinstance(record.get("change"), dict):
            try:
                state = apply(state, record["change"])
            except (TypeError, ValueError, KeyError):
                break
        else:
            break
        last = record
        records += 1
    if state is None:
        return None
    try:
        scenario = scenario_from_dict(state)
    except ScenarioError:
        return None
    path = last.get("path")
    return Replayed(scenario, path if isinstance(path, str) else None, int(last.get("edits", 0)),
                    float(last.get("time", 0.0)), records)


class _Syncer:
    """fdatasync on a background thread: the GUI thread only write()s (which already survives kill -9).

    Requests are numbered; a sync covers every request made before it started.
    """

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._fd: int | None = None
        self._wanted = 0
        self._done = 0
        self._stop = False
        self._thread: threading.Thread | None = None  # started with the first edit

    def request(self, fd: int) -> None:
        with self._cond:
            self._fd = fd
            self._wanted += 1
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="apicviz-autosave-sync", daemon=True)
                self._thread.start()
            self._cond.notify_all()

    def flush(self) -> None:
        """Wait until everything requested so far is on disk (before the fd is closed)."""
        with self._cond:
            target = self._wanted
            while self._done < target and self._thread is not None and self._thread.is_alive():
                self._cond.wait(1.0)

    def _run(self) -> None:
        while True:
            with self._cond:
                while self._done == self._wanted and not self._stop:
                    self._cond.wait()
                if self._done == self._wanted:
                    return
                fd, target = self._fd, self._wanted
            if fd is not None:
                with contextlib.suppress(OSError):
                    os.fdatasync(fd)
            with self._cond:
                self._done = target
                self._cond.notify_all()

    def stop(self) -> None:
        self.flush()
        with self._cond:
            self._stop = True
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join(timeout=5)


@dataclass
class Journal:
    """One window's autosave: its lock held from creation, records appended on :meth:`record`."""

    folder: Path
    name: str = field(default_factory=lambda: f"{PREFIX}{os.getpid()}-{int(time.time())}-{secrets.token_hex(3)}")
    _lock_fd: int | None = None
    _fd: int | None = None
    _state: dict[str, Any] | None = None
    _records: int = 0
    _bytes: int = 0
    edits: int = 0

    def __post_init__(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        clean_stale_temps(self.folder)  # a snapshot cut short by a kill of another window
        self._lock_fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        fcntl.flock(self._lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        self._syncer = _Syncer()

    @property
    def path(self) -> Path:
        return self.folder / (self.name + JOURNAL_SUFFIX)

    @property
    def lock_path(self) -> Path:
        return self.folder / (self.name + LOCK_SUFFIX)

    def record(self, scenario: Scenario, path: str | None, edits: int | None = None) -> None:
        """Append the change since the last record (a snapshot first, and every SNAPSHOT_EVERY records)."""
        state = scenario_to_dict(scenario)
        self.edits = self.edits + 1 if edits is None else edits
        meta = {"time": time.time(), "edits": self.edits, "path": path}
        if self._fd is None or self._state is None or self._records >= SNAPSHOT_EVERY \
                or self._bytes >= SNAPSHOT_BYTES:
            self._snapshot(state, meta)
            return
        change = diff(self._state, state)
        line = _encode({"kind": "diff", **meta, "change": change})
        self._write(line)
        self._state = state

    def _snapshot(self, state: dict[str, Any], meta: dict[str, Any]) -> None:
        """Replace the journal by one snapshot record, atomically, and append from there."""
        line = _encode({"kind": "snapshot", **meta, "scenario": state})
        self._close_journal()
        atomic_write(self.path, line, replace_read_only=True)
        self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CLOEXEC)
        self._state, self._records, self._bytes = state, 1, len(line)

    def _write(self, line: bytes) -> None:
        assert self._fd is not None
        view = memoryview(line)
        while view:
            view = view[os.write(self._fd, view):]
        self._records += 1
        self._bytes += len(line)
        self._syncer.request(self._fd)

    def _close_journal(self) -> None:
        if self._fd is not None:
            self._syncer.flush()
            os.close(self._fd)
            self._fd = None

    def clear(self) -> None:
        """Nothing is unsaved any more (saved, or undone back to the saved state): drop the journal."""
        self._close_journal()
        self._state, self._records, self._bytes, self.edits = None, 0, 0, 0
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()

    def close(self, keep: bool = False) -> None:
        """The window closes: remove the journal (unless ``keep``) and the lock, then release it."""
        if keep:
            self._close_journal()
        else:
            self.clear()
        self._syncer.stop()
        if self._lock_fd is not None:
            if not keep:
                with contextlib.suppress(FileNotFoundError):
                    self.lock_path.unlink()
            os.close(self._lock_fd)
            self._lock_fd = None


@dataclass
class Orphan:
    """An autosave whose window is gone, claimed (its lock held) while the user decides about it."""

    journal: Path
    found: Replayed
    _lock_fd: int | None

    def release(self) -> None:
        """Keep it for a later start: just let go of the claim."""
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None

    def discard(self) -> None:
        """Delete it (restored into this window, or the user said so)."""
        with contextlib.suppress(FileNotFoundError):
            self.journal.unlink()
        if self.journal.suffix == JOURNAL_SUFFIX:
            with contextlib.suppress(FileNotFoundError):
                self.journal.with_suffix(LOCK_SUFFIX).unlink()
        self.release()


def _claim(lock: Path) -> int | None:
    """The lock of a window that is gone, now held by us; None while its owner lives."""
    try:
        fd = os.open(lock, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    except OSError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(fd)
        return None
    return fd


def find_orphans(folder: Path, legacy: Path | None = None) -> list[Orphan]:
    """Autosaves whose owner is gone, newest first, each claimed; live windows' journals are never touched.

    Locks without a journal (a window that died before its first edit, or
    between removing its journal and its lock) are cleaned up on the way.
    """
    out: list[Orphan] = []
    try:
        names = sorted(os.listdir(folder))
    except OSError:
        names = []
    for name in names:
        if not name.startswith(PREFIX) or not name.endswith((JOURNAL_SUFFIX, LOCK_SUFFIX)):
            continue
        stem = name.rsplit(".", 1)[0]
        journal, lock = folder / (stem + JOURNAL_SUFFIX), folder / (stem + LOCK_SUFFIX)
        if name.endswith(LOCK_SUFFIX) and journal.exists():
            continue  # handled with its journal
        fd = _claim(lock)
        if fd is None:
            continue  # a live window (maybe this one)
        if not journal.exists():
            with contextlib.suppress(FileNotFoundError):
                lock.unlink()
            os.close(fd)
            continue
        found = replay(journal)
        if found is None:  # damaged beyond its first record: left as it is for a person to look at
            os.close(fd)
            continue
        out.append(Orphan(journal, found, fd))
    if legacy is not None and legacy.exists():
        found = replay_legacy(legacy)
        if found is not None:
            out.append(Orphan(legacy, found, None))
    out.sort(key=lambda o: o.found.time, reverse=True)
    return out


def replay_legacy(path: Path) -> Replayed | None:
    """The single ``autosave.apicviz.json`` of apicviz before per-window journals."""
    try:
        raw = strict_json.loads(read_bounded(path, MAX_JOURNAL_BYTES, "an autosave").decode("utf-8"))
        scenario = scenario_from_dict(raw["scenario"])
        where = raw.get("path")
        return Replayed(scenario, where if isinstance(where, str) else None, 0, path.stat().st_mtime, 1)
    except (OSError, ValueError, KeyError, TypeError, ScenarioError):
        return None
