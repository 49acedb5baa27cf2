"""Real QEMU for tests: start it bounded in time, wait for its QMP socket, always kill it by PID.

Tests that need QEMU call :func:`require_qemu` (a skip with the reason where
``qemu-system-x86_64`` is missing: ``.ci/run`` installs Debian's
``qemu-system-x86``). Every QEMU gets a watchdog that kills it after
``limit`` seconds, and the context manager kills and reaps it on exit.
"""
from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

QEMU = shutil.which("qemu-system-x86_64")
KVM_OK = os.access("/dev/kvm", os.R_OK | os.W_OK)


def require_qemu() -> str:
    if QEMU is None:
        pytest.skip("qemu-system-x86_64 is not installed (Debian: apt-get install qemu-system-x86; .ci/run does it)")
    return QEMU


def require_kvm() -> None:
    require_qemu()
    if not KVM_OK:
        pytest.skip("/dev/kvm is missing or not accessible: the x2APIC guest needs KVM (QEMU 7.2's TCG has no x2APIC)")


@dataclass
class Qemu:
    proc: subprocess.Popen
    qmp: str  # socket path
    hmp: str | None
    workdir: Path

    @property
    def pid(self) -> int:
        return self.proc.pid


def start_failure(*args: str, limit: float = 30) -> str | None:
    """Start QEMU with ``args`` and ``-S``; return its error text if it refuses to start, else None."""
    qemu = require_qemu()
    with tempfile.TemporaryDirectory(prefix="apq", dir="/tmp") as tmp:
        sock = os.path.join(tmp, "q.sock")
        proc = subprocess.Popen([qemu, "-S", "-display", "none", "-nodefaults", *args,
                                 "-qmp", f"unix:{sock},server=on,wait=off"],
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        try:
            deadline = time.monotonic() + limit
            while time.monotonic() < deadline and proc.poll() is None and not os.path.exists(sock):
                time.sleep(0.05)
            if proc.poll() is None:
                time.sleep(0.3)  # some checks run after the socket appears
            if proc.poll() is None:
                return None
            return proc.stderr.read() if proc.stderr else "exited"
        finally:
            _stop(proc)


@contextmanager
def qemu_vm(*args: str, limit: float = 120, hmp: bool = False, paused: bool = True,
            boot_image: bytes | None = None) -> Iterator[Qemu]:
    """A QEMU with a QMP socket (and optionally an HMP one); killed after ``limit`` s at the latest.

    ``boot_image`` becomes the first IDE disk, which SeaBIOS boots.
    """
    qemu = require_qemu()
    workdir = Path(tempfile.mkdtemp(prefix="apq", dir="/tmp"))
    sock = str(workdir / "qmp.sock")
    hsock = str(workdir / "hmp.sock") if hmp else None
    disk: list[str] = []
    if boot_image is not None:
        (workdir / "boot.img").write_bytes(boot_image)
        disk = ["-drive", f"file={workdir / 'boot.img'},format=raw,if=ide"]
    cmd = [qemu, "-display", "none", "-nodefaults", "-m", "32", *(["-S"] if paused else []), *args, *disk,
           "-qmp", f"unix:{sock},server=on,wait=off"]
    if hsock:
        cmd += ["-monitor", f"unix:{hsock},server=on,wait=off"]
    # A file, so a chatty QEMU never blocks on a full pipe; closed when the VM is stopped.
    errlog = open(workdir / "stderr.txt", "w")  # noqa: SIM115
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=errlog, text=True)
    watchdog = threading.Timer(limit, proc.kill)
    watchdog.daemon = True
    watchdog.start()
    try:
        deadline = time.monotonic() + 30
        while not os.path.exists(sock) or (hsock and not os.path.exists(hsock)):
            if proc.poll() is not None:
                raise AssertionError(f"QEMU exited at start: {(workdir / 'stderr.txt').read_text()}")
            if time.monotonic() > deadline:
                raise AssertionError("QEMU did not create its QMP socket within 30 s")
            time.sleep(0.05)
        for path in filter(None, (sock, hsock)):
            _wait_listening(path, deadline)
        yield Qemu(proc=proc, qmp=sock, hmp=hsock, workdir=workdir)
    finally:
        watchdog.cancel()
        _stop(proc)
        errlog.close()
        shutil.rmtree(workdir, ignore_errors=True)


def _wait_listening(path: str, deadline: float) -> None:
    """QEMU binds the socket file before it listens: connect once (and hang up) to be sure it accepts."""
    while True:
        probe = socket.socket(socket.AF_UNIX)
        try:
            probe.connect(path)
            return
        except ConnectionRefusedError:
            if time.monotonic() > deadline:
                raise AssertionError(f"QEMU never listened on {path}") from None
            time.sleep(0.05)
        finally:
            probe.close()


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.kill()
    with contextlib.suppress(subprocess.TimeoutExpired):  # a QEMU that ignores SIGKILL
        proc.wait(timeout=15)
    if proc.stderr:
        proc.stderr.close()
