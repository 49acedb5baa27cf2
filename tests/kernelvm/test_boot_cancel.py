"""A run on another kernel can be cancelled: the whole guest process group is killed at once.

A stand-in for ``vng`` (a shell script that starts a long ``sleep`` child, as
vng starts QEMU) exercises the real ``run_in_guest`` waiting and killing code
without booting anything; the real boot is tested in test_probe_on_debian_61.py.
"""
from __future__ import annotations

import time
from pathlib import Path

import pytest

from apicviz.kernelvm import KernelVmError, boot


def _dead(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return True
    return state in ("Z", "X")  # a zombie has been killed; only its parent's reaping is left


def _fake_vng(tmp_path: Path) -> tuple[Path, Path]:
    pids = tmp_path / "child.pid"
    script = tmp_path / "vng"
    script.write_text(f"#!/bin/sh\nsleep 60 &\necho $! > {pids}\nwait\n")
    script.chmod(0o755)
    return script, pids


def test_cancel_kills_the_guest_and_its_children(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    script, pids = _fake_vng(tmp_path)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setattr(boot, "check_tools", lambda: str(script))
    image = tmp_path / "bzImage"
    image.write_bytes(b"\0")
    start = time.monotonic()
    asked: list[float] = []

    def cancelled() -> bool:
        asked.append(time.monotonic() - start)
        return pids.exists() and time.monotonic() - start > 0.3

    with pytest.raises(KernelVmError) as err:
        boot.run_in_guest(image, ["true"], timeout=30, cancelled=cancelled)
    took = time.monotonic() - start
    assert err.value.cause == "cancelled"
    assert "cancelled" in err.value.message
    assert took < 5, f"cancelling took {took:.1f} s"
    assert len(asked) >= 2  # polled while the guest ran, not only at the end
    child = int(pids.read_text())
    deadline = time.monotonic() + 5
    while not _dead(child) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _dead(child), "the guest's child process survived the cancel"


def test_without_a_cancel_the_deadline_still_holds(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    script, _pids = _fake_vng(tmp_path)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setattr(boot, "check_tools", lambda: str(script))
    image = tmp_path / "bzImage"
    image.write_bytes(b"\0")
    with pytest.raises(KernelVmError) as err:
        boot.run_in_guest(image, ["true"], timeout=0.5)
    assert err.value.cause == "timeout"


@pytest.mark.parametrize(("nested", "cpus"), [(False, boot.TCG_CPUS), (True, boot.KVM_CPUS)])
def test_one_guest_cpu_under_tcg(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, nested: bool, cpus: int) -> None:
    """Under TCG the guest gets one CPU (its KVM's cross-CPU calls were seen to hang there); under KVM two."""
    args = tmp_path / "args"
    script = tmp_path / "vng"
    script.write_text(f'#!/bin/sh\necho "$@" > {args}\n')
    script.chmod(0o755)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setattr(boot, "check_tools", lambda: str(script))
    monkeypatch.setattr(boot, "nested_kvm_available", lambda: nested)
    image = tmp_path / "bzImage"
    image.write_bytes(b"\0")
    with pytest.raises(KernelVmError):  # the stand-in boots nothing
        boot.run_in_guest(image, ["true"], timeout=10)
    words = args.read_text().split()
    assert words[words.index("--cpus") + 1] == str(cpus)
    assert ("--disable-kvm" in words) == (not nested)
    assert boot.TCG_CPUS == 1


RT_CONSOLE = """\
[    4.747224] 9pnet: Limiting 'msize' to 512000 as this is the maximum supported by transport virtio
[    4.982219] virtme-ng-init: starting script (console fallback)
[    5.815564] RT requires X86_FEATURE_CONSTANT_TSC
[    6.105117] kvm: no hardware support for 'kvm_intel'
[    6.242593] virtme-ng-init: script exited with code 0
"""


def test_no_kvm_quotes_the_guest_kernel_and_says_what_to_do():
    """Debian's 6.1 PREEMPT_RT kernel under TCG: its KVM refuses for want of a constant TSC (seen here)."""
    said = boot.kvm_refusals(RT_CONSOLE)
    assert said == ["RT requires X86_FEATURE_CONSTANT_TSC", "kvm: no hardware support for 'kvm_intel'"]
    assert "non-RT build" in boot.no_kvm_fix(said, "tcg")
    assert "CONFIG_KVM_AMD" in boot.no_kvm_fix([], "tcg")
    assert boot.kvm_refusals("[ 1.0] virtme-ng-init: starting script\n[ 2.0] virtme-ng-init: done\n") == []
