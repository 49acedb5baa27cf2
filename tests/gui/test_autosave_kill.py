"""kill -9 at random moments of a real window's edits loses no shown edit; two windows keep their own autosave.

Each window runs in its own process (tests/gui/autosave_child.py) on the
offscreen platform, with its app-data and settings in a temp folder.
"""
from __future__ import annotations

import hashlib
import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from apicviz.gui.shell.journal import JOURNAL_SUFFIX, LOCK_SUFFIX, PREFIX, replay
from apicviz.model.safe_write import TEMP_PREFIX
from apicviz.model.scenario_file import scenario_to_text

HERE = Path(__file__).parent
CHILD = HERE / "autosave_child.py"
START = HERE.parents[1] / "apicviz" / "resources" / "examples" / "02-aliased-xapic-id-6.1.apicviz.json"
CYCLES = 10


def env_for(home: Path) -> dict[str, str]:
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", XDG_DATA_HOME=str(home / "data"),
               XDG_CONFIG_HOME=str(home / "config"), PYTHONPATH=str(HERE))
    env.pop("DISPLAY", None)
    return env


def autosave_folder(home: Path) -> Path:
    return home / "data" / "apicviz" / "apicviz"


def journals(home: Path) -> list[Path]:
    folder = autosave_folder(home)
    return sorted(folder.glob(f"{PREFIX}*{JOURNAL_SUFFIX}")) if folder.exists() else []


class Child:
    """One window process; ``lines`` collects what it printed."""

    def __init__(self, home: Path, *args: str) -> None:
        self.proc = subprocess.Popen([sys.executable, str(CHILD), *args], stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True, env=env_for(home))
        self.lines: list[str] = []
        self.stderr = ""

    def wait_for(self, word: str, timeout: float = 60) -> None:
        assert self.proc.stdout is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            line = self.proc.stdout.readline()
            if not line:
                raise AssertionError(f"child ended before {word!r}: {self.proc.stderr.read()[-3000:]}")
            self.lines.append(line.strip())
            if line.startswith(word):
                return
        raise AssertionError(f"no {word!r} within {timeout} s")

    def kill(self) -> list[str]:
        os.kill(self.proc.pid, signal.SIGKILL)
        out, self.stderr = self.proc.communicate(timeout=30)
        # A line the kill cut short (no newline yet) was never fully printed: the edit was not acknowledged.
        self.lines += [line.strip() for line in out.splitlines(keepends=True) if line.endswith("\n")]
        return self.lines


def done(lines: list[str]) -> dict[int, str]:
    """Edit number -> hash of the scenario right after that edit."""
    return {int(line.split()[1]): line.split()[2] for line in lines if line.startswith("done ")}


def shown(lines: list[str]) -> int:
    """The last edit the window showed (returned to the event loop after), 0 for none."""
    return max((int(line.split()[1]) for line in lines if line.startswith("shown ")), default=0)


def lost_edits(lines: list[str], journal_files: list[Path]) -> int:
    """Shown edits the autosave does not hold; also checks it holds exactly the state after its last edit."""
    found = [replay(j) for j in journal_files]
    last_shown, hashes = shown(lines), done(lines)
    if not hashes:
        assert all(f is None or f.edits <= 1 for f in found)
        return 0
    (restored,) = [f for f in found if f is not None]
    if restored.edits in hashes:
        digest = hashlib.sha1(scenario_to_text(restored.scenario).encode()).hexdigest()
        assert digest == hashes[restored.edits], f"the autosave of edit {restored.edits} is not that state"
    else:  # journaled, then killed before it could say so
        assert restored.edits == max(hashes) + 1, f"autosave has {restored.edits} edits, {max(hashes)} done"
    return max(0, last_shown - restored.edits)


def run_offer(home: Path, answer: str) -> dict:
    out = subprocess.run([sys.executable, str(CHILD), "offer", answer], capture_output=True, text=True,
                         env=env_for(home), timeout=120, check=False)
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_kill_at_random_moments_loses_no_shown_edit(tmp_path) -> None:
    rng = random.Random(15)
    report = []
    for cycle in range(CYCLES):
        home = tmp_path / f"cycle{cycle}"
        snapshot_every = rng.choice(["3", "7", "200"])  # kills also land in the middle of a snapshot
        child = Child(home, "edit", str(START), str(cycle), snapshot_every)
        child.wait_for("ready")
        time.sleep(rng.uniform(0.05, 1.5))
        lines = child.kill()
        lost = lost_edits(lines, journals(home))
        report.append((shown(lines), lost))
        assert lost == 0, f"cycle {cycle}: {lost} of {shown(lines)} shown edits lost; stderr {child.stderr[-2000:]}"
    # The last cycle's autosave is restored by a new window, as a user would after the crash.
    left = [f for f in (replay(j) for j in journals(home)) if f is not None]
    offered = run_offer(home, "yes")
    if left:
        assert offered["restored"]
        assert offered["dirty"]
        assert "ended without saving" in offered["asked"][0]
        assert f"{left[0].edits} unsaved edit" in offered["asked"][0]
        assert offered["sha1"] == hashlib.sha1(scenario_to_text(left[0].scenario).encode()).hexdigest()
    for cycle in range(CYCLES):  # a kill in the middle of a snapshot may leave its temp file; a new window cleans it
        folder = autosave_folder(tmp_path / f"cycle{cycle}")
        if list(folder.glob(f"{TEMP_PREFIX}*")):
            run_offer(tmp_path / f"cycle{cycle}", "cancel")
        assert list(folder.glob(f"{TEMP_PREFIX}*")) == []
    print(f"kill cycles: {len(report)}, edits shown: {sum(n for n, _ in report)}, "
          f"lost: {sum(lost for _, lost in report)}")


def test_two_windows_keep_their_own_autosave(tmp_path) -> None:
    """A live window's edits are never offered or deleted by another; a dead one's are offered once."""
    home = tmp_path / "home"
    first = Child(home, "edit", str(START), "1")
    first.wait_for("shown 3")
    saver = Child(home, "save", str(START), str(tmp_path / "saved.apicviz.json"))
    saver.wait_for("saved")
    assert len(journals(home)) == 1  # the saver's journal went with its save; the first's stays
    offered = run_offer(home, "discard")  # a third window while the first lives: nothing to offer
    assert offered["asked"] == []
    assert len(journals(home)) == 1
    lines = first.kill()
    assert lost_edits(lines, journals(home)) == 0
    saver.kill()
    offered = run_offer(home, "cancel")  # both are gone now: only the first had unsaved edits
    assert len(offered["asked"]) == 1
    assert not offered["restored"]
    assert len(journals(home)) == 1  # Cancel keeps it for the next start
    offered = run_offer(home, "yes")
    assert offered["restored"]
    assert offered["title"].startswith("edit ")
    # The first window's journal is gone; the restoring window (killed after) left its own.
    folder = autosave_folder(home)
    assert len(journals(home)) == 1
    assert len(list(folder.glob(f"*{LOCK_SUFFIX}"))) == 1
    offered = run_offer(home, "discard")
    assert len(offered["asked"]) == 1
    assert journals(home) == []


@pytest.mark.parametrize("answer", ["discard"])
def test_nothing_is_offered_after_a_clean_start(tmp_path, answer) -> None:
    offered = run_offer(tmp_path / "home", answer)
    assert offered["asked"] == []
    assert not offered["restored"]
