"""Saves respect the file: mode, symlinks, devices, FIFOs, directories, read-only files, kills mid-save."""
from __future__ import annotations

import os
import random
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from apicviz.model import Scenario, Vcpu, load_scenario, save_scenario
from apicviz.model.errors import ScenarioError
from apicviz.model.safe_write import TEMP_PREFIX, ReadOnlyFile, atomic_write, clean_stale_temps

ROOT = Path(__file__).resolve().parents[1]
APICVIZ = [sys.executable, "-m", "apicviz"]
SCENARIO = Scenario(vcpus=[Vcpu(id=0), Vcpu(id=1)])


def temps(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith(TEMP_PREFIX))


@pytest.fixture
def umask_022():
    old = os.umask(0o022)
    yield
    os.umask(old)


def mode(path: Path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_a_new_file_gets_0666_minus_the_umask(tmp_path, umask_022) -> None:
    save_scenario(SCENARIO, tmp_path / "new.apicviz.json")
    assert mode(tmp_path / "new.apicviz.json") == 0o644
    os.umask(0o027)
    save_scenario(SCENARIO, tmp_path / "other.apicviz.json")
    assert mode(tmp_path / "other.apicviz.json") == 0o640


@pytest.mark.parametrize("kept", [0o600, 0o640, 0o664, 0o755])
def test_an_existing_file_keeps_its_mode(tmp_path, kept) -> None:
    path = tmp_path / "s.apicviz.json"
    path.write_text("old")
    path.chmod(kept)
    save_scenario(SCENARIO, path)
    assert mode(path) == kept
    assert len(load_scenario(path).vcpus) == 2


def test_a_symlink_is_written_through(tmp_path) -> None:
    real = tmp_path / "real" / "s.apicviz.json"
    real.parent.mkdir()
    real.write_text("old")
    link = tmp_path / "link.apicviz.json"
    link.symlink_to(real)
    save_scenario(SCENARIO, link)
    assert link.is_symlink()
    assert len(load_scenario(real).vcpus) == 2
    dangling = tmp_path / "dangling.apicviz.json"
    dangling.symlink_to(tmp_path / "real" / "created.apicviz.json")
    save_scenario(SCENARIO, dangling)
    assert dangling.is_symlink()
    assert (tmp_path / "real" / "created.apicviz.json").is_file()
    assert temps(tmp_path / "real") == []


@pytest.mark.parametrize("kind", ["fifo", "directory", "/dev/null", "symlink to /dev/full"])
def test_anything_but_a_regular_file_is_refused(tmp_path, kind) -> None:
    if kind == "fifo":
        target = tmp_path / "fifo"
        os.mkfifo(target)
    elif kind == "directory":
        target = tmp_path / "dir"
        target.mkdir()
    elif kind == "/dev/null":
        target = Path("/dev/null")
    else:
        target = tmp_path / "link"
        target.symlink_to("/dev/full")
    before = os.stat(target)
    with pytest.raises(ScenarioError, match="not a regular file") as err:
        save_scenario(SCENARIO, target)
    assert "-o - writes to standard output" in str(err.value)
    after = os.stat(target)
    assert (after.st_ino, after.st_mode) == (before.st_ino, before.st_mode)


def test_a_read_only_file_is_replaced_only_on_purpose(tmp_path) -> None:
    path = tmp_path / "ro.apicviz.json"
    path.write_text("old")
    path.chmod(0o444)
    with pytest.raises(ReadOnlyFile, match="read-only"):
        save_scenario(SCENARIO, path)
    assert path.read_text() == "old"
    save_scenario(SCENARIO, path, replace_read_only=True)
    assert mode(path) == 0o444
    assert len(load_scenario(path).vcpus) == 2


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(APICVIZ + list(args), capture_output=True, text=True, timeout=120, check=False,
                          cwd=ROOT)


def test_cli_import_refuses_devices_and_read_only_files_and_writes_stdout(tmp_path) -> None:
    dump = ROOT / "tests" / "data" / "import" / "info_lapic_one_cpu.txt"
    out = run_cli("import", "qemu-info-lapic", str(dump), "-o", "/dev/full")
    assert out.returncode == 1
    assert "character device" in out.stderr
    assert os.path.exists("/dev/full")
    assert stat.S_ISCHR(os.stat("/dev/full").st_mode)
    out = run_cli("import", "qemu-info-lapic", str(dump), "-o", "-")
    assert out.returncode == 0
    assert '"format": "apicviz-scenario"' in out.stdout
    ro = tmp_path / "ro.apicviz.json"
    ro.write_text("old")
    ro.chmod(0o444)
    out = run_cli("import", "qemu-info-lapic", str(dump), "-o", str(ro))
    assert out.returncode == 1
    assert "read-only" in out.stderr
    assert "--force" in out.stderr
    assert ro.read_text() == "old"
    out = run_cli("import", "qemu-info-lapic", str(dump), "-o", str(ro), "--force")
    assert out.returncode == 0, out.stderr
    assert mode(ro) == 0o444
    assert load_scenario(ro).vcpus


def test_cli_report_writes_stdout_for_dash_and_refuses_a_fifo(tmp_path) -> None:
    example = ROOT / "apicviz" / "resources" / "examples" / "04-wrap-0x123-and-0x23.apicviz.json"
    out = run_cli("report", str(example), "-o", "-")
    assert out.returncode == 0
    assert out.stdout.startswith("#")
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    out = run_cli("report", str(example), "-o", str(fifo))  # would block forever if opened for writing
    assert out.returncode == 1
    assert "FIFO" in out.stderr


def test_stale_temps_of_dead_processes_are_removed(tmp_path) -> None:
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True,
                          check=True)
    stale = tmp_path / f"{TEMP_PREFIX}{dead.stdout.strip()}-abcd-s.apicviz.json"
    live = tmp_path / f"{TEMP_PREFIX}{os.getpid()}-abcd-s.apicviz.json"
    other = tmp_path / ".s.apicviz.json.tmp"
    for path in (stale, live, other):
        path.write_text("x")
    assert clean_stale_temps(tmp_path) == [stale]
    assert live.exists()
    assert other.exists()


WRITER = r"""
import sys
from apicviz.model.safe_write import atomic_write
path, n = sys.argv[1], 0
big = [bytes([65 + k]) * (8 << 20) for k in range(4)]
print("ready", flush=True)
while True:
    atomic_write(path, big[n % 4])
    n += 1
"""


def test_a_kill_at_any_moment_of_a_save_leaves_the_old_or_the_new_file_and_no_temp(tmp_path) -> None:
    """kill -9 at random moments of 8 MB saves: the file is always whole; no temp stays after the next save."""
    target = tmp_path / "big.bin"
    rng = random.Random(1515)
    left_behind = 0
    for _cycle in range(6):
        child = subprocess.Popen([sys.executable, "-c", WRITER, str(target)], stdout=subprocess.PIPE, text=True)
        assert child.stdout is not None
        assert child.stdout.readline().strip() == "ready"
        time.sleep(rng.uniform(0.05, 0.6))
        os.kill(child.pid, signal.SIGKILL)
        child.wait(timeout=30)
        child.stdout.close()
        if target.exists():
            data = target.read_bytes()
            assert len(data) == 8 << 20
            assert data == data[:1] * len(data)  # one whole save, never a mix or a cut
        left_behind += len(temps(tmp_path))
        atomic_write(tmp_path / "next.bin", b"next save into the same folder")
        assert temps(tmp_path) == []
    print(f"temp files visible right after the kills: {left_behind}")
