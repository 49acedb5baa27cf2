"""Boot a staged kernel with virtme-ng, run one command inside, bring its files back.

The guest sees the host's files read-only (virtme-ng's 9p root), so the same
Python and apicviz run inside; results come back through one read-write
folder. Every boot is bounded: the whole process group is killed at the
deadline.
"""
from __future__ import annotations

import os
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from .cache import cache_root
from .errors import KernelVmError

#: An AMD CPU with SVM that QEMU's TCG can emulate, so kvm_amd loads inside
#: even where the host offers no nested virtualization.
TCG_CPU = "EPYC,+svm,+npt"
#: Guest CPUs. Under TCG one: the guest's KVM enables virtualization on every CPU with a cross-CPU call
#: each time the number of its VMs goes from 0 to 1 (and back), and under emulation such a call was
#: seen to never return, leaving KVM_CREATE_VM hung (1 probe run in 8, 37 VMs each). The probe runs
#: every vCPU of its VM from one thread, so it needs no second CPU. Under KVM the calls are reliable.
TCG_CPUS = 1
KVM_CPUS = 2
#: The host's trace file (see apicviz.host.kvm_abi); the guest writes its own into the out folder.
TRACE_ENV = "APICVIZ_PROBE_TRACE"
#: How often a cancellable run looks at its ``cancelled`` callable.
POLL_S = 0.1


@dataclass(frozen=True)
class GuestRun:
    """What came back from one boot."""

    files: dict[str, bytes]  #: name -> content of every file the guest left in its out folder
    accel: str  #: "kvm" or "tcg"
    seconds: float
    #: guest uptime (s) when the command could start, when KVM was loaded, when the command ended
    stages: dict[str, float]
    console: str


def _tool_dirs() -> list[str]:
    """virtme-ng's helpers sit beside the interpreter in a venv; look there before PATH."""
    return [str(Path(sys.executable).parent)]


def find_vng() -> str:
    for d in _tool_dirs():
        candidate = Path(d) / "vng"
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    found = shutil.which("vng")
    if found:
        return found
    raise KernelVmError("no_virtme_ng", "virtme-ng (vng) is not installed",
                        "pip install 'apicviz[kernel]' (or: pip install virtme-ng) into apicviz's environment")


def check_tools() -> str:
    """The tools a boot needs, each refused with its own fix; returns the vng path."""
    if shutil.which("qemu-system-x86_64") is None:
        raise KernelVmError("no_qemu", "QEMU is not installed (qemu-system-x86_64 not found)",
                            "apt-get install qemu-system-x86")
    if shutil.which("busybox") is None:
        raise KernelVmError("no_qemu", "busybox is not installed: virtme-ng builds the guest's initramfs with it",
                            "apt-get install busybox-static kmod")
    return find_vng()


def nested_kvm_available() -> bool:
    """Whether the host can run the guest under KVM with virtualization exposed to it."""
    if not os.access("/dev/kvm", os.R_OK | os.W_OK):
        return False
    try:
        flags = Path("/proc/cpuinfo").read_text(errors="replace")
    except OSError:
        return False
    if " svm" not in flags and " vmx" not in flags:
        return False
    for param in ("/sys/module/kvm_amd/parameters/nested", "/sys/module/kvm_intel/parameters/nested"):
        try:
            if Path(param).read_text().strip() in ("1", "Y", "y"):
                return True
        except OSError:
            continue
    return False


def _guest_script(out: Path, command: list[str], env: dict[str, str]) -> str:
    exports = "".join(f"export {k}={shlex.quote(v)}\n" for k, v in env.items())
    return (
        "#!/bin/sh\n"
        f"out={shlex.quote(str(out))}\n"
        "cut -d' ' -f1 /proc/uptime > \"$out/booted\"\n"
        "modprobe kvm_amd >/dev/null 2>&1 || modprobe kvm_intel >/dev/null 2>&1\n"
        "cut -d' ' -f1 /proc/uptime > \"$out/kvm_loaded\"\n"
        "if [ ! -c /dev/kvm ]; then echo 'no /dev/kvm after loading kvm_amd/kvm_intel' > \"$out/nokvm\"; exit 0; fi\n"
        + exports
        + ("export APICVIZ_PROBE_TRACE=\"$out/trace\"\n" if os.environ.get(TRACE_ENV) else "")
        + f"{' '.join(shlex.quote(c) for c in command)} > \"$out/stdout\" 2> \"$out/stderr\"\n"
        "echo $? > \"$out/rc\"\n"
        "cut -d' ' -f1 /proc/uptime > \"$out/finished\"\n"
    )


def run_in_guest(image: Path, command: list[str], env: dict[str, str] | None = None,
                 timeout: float = 240.0, memory: str = "2G", cpus: int | None = None,
                 cancelled: Callable[[], bool] | None = None) -> GuestRun:
    """Boot IMAGE, run COMMAND as root inside, return the out folder's files.

    ``cancelled`` (optional) is polled while the guest runs; when it returns
    true the guest's process group is killed and KernelVmError("cancelled") raised.
    """
    vng = check_tools()
    runs = cache_root() / "runs"
    runs.mkdir(parents=True, exist_ok=True)
    out = Path(tempfile.mkdtemp(prefix="run-", dir=runs))
    try:
        script = out / "guest.sh"
        script.write_text(_guest_script(out, command, env or {}))
        accel = "kvm" if nested_kvm_available() else "tcg"
        if cpus is None:
            cpus = TCG_CPUS if accel == "tcg" else KVM_CPUS
        argv = [vng, "-v", "-r", str(image), "--rwdir", str(out), "--memory", memory, "--cpus", str(cpus)]
        if accel == "tcg":
            argv += ["--disable-kvm", f"--qemu-opts=-cpu {TCG_CPU}"]
        argv += ["--", f"sh {shlex.quote(str(script))}"]
        path = os.pathsep.join([*_tool_dirs(), os.environ.get("PATH", "/usr/bin:/bin")])
        console_file = out / "console.log"
        start = time.monotonic()
        with console_file.open("wb") as console:
            proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=console, stderr=subprocess.STDOUT,
                                    env={**os.environ, "PATH": path}, start_new_session=True)
            ended = _wait(proc, start + timeout, cancelled)
            if ended != "exited":
                os.killpg(proc.pid, signal.SIGKILL)  # vng, QEMU and every helper: one session, one group
                proc.wait()
                _keep_trace(out)  # where a hung probe hangs
                if ended == "cancelled":
                    raise KernelVmError("cancelled", f"the run of {image.name} was cancelled; the guest was stopped",
                                        console=_tail(console_file))
                raise KernelVmError("timeout", f"the guest running {image.name} did not finish within {timeout:.0f} s",
                                    "raise --timeout, or try a smaller scenario",
                                    console=_tail(console_file))
        seconds = time.monotonic() - start
        _keep_trace(out)
        console_text = _tail(console_file)
        files = {p.name: p.read_bytes() for p in out.iterdir()
                 if p.is_file() and p.name not in ("guest.sh", "console.log")}
        if "booted" not in files:
            raise KernelVmError("boot_failed", f"{image.name} did not boot far enough to run the probe "
                                f"(vng exit status {proc.returncode})",
                                "check that the kernel has virtio, 9p and a serial console (ttyS0)",
                                console=console_text)
        if "nokvm" in files:
            said = kvm_refusals(console_text)
            raise KernelVmError("no_kvm", f"{image.name} booted, but neither kvm_amd nor kvm_intel gave a /dev/kvm"
                                + (f"; the guest kernel said: {'; '.join(said)}" if said else ""),
                                no_kvm_fix(said, accel), console=console_text)
        stages = {}
        for name in ("booted", "kvm_loaded", "finished"):
            try:
                stages[name] = float(files.get(name, b"").decode().strip())
            except ValueError:
                continue
        return GuestRun(files, accel, seconds, stages, console_text)
    finally:
        shutil.rmtree(out, ignore_errors=True)


def _keep_trace(out: Path) -> None:
    """``APICVIZ_PROBE_TRACE=FILE`` on the host: the guest traced its ioctls into the out folder; keep them."""
    target = os.environ.get(TRACE_ENV)
    trace = out / "trace"
    if target and trace.is_file():
        with open(target, "ab") as kept:
            kept.write(trace.read_bytes())


def kvm_refusals(console: str) -> list[str]:
    """The guest kernel's own words on why KVM did not load (console lines after the script started)."""
    tail = console.split("starting script", 1)[-1]
    said = []
    for line in tail.splitlines():
        text = line.split("]", 1)[-1].strip() if line.lstrip().startswith("[") else line.strip()
        lowered = text.lower()
        if ("kvm" in lowered or "svm" in lowered or "requires" in lowered) and "virtme" not in lowered:
            said.append(text)
    return said[:4]


def no_kvm_fix(said: list[str], accel: str) -> str:
    """What to do, from what the guest kernel said."""
    if accel == "tcg" and any("CONSTANT_TSC" in line for line in said):
        return ("this kernel's KVM needs a constant TSC (PREEMPT_RT builds do), which QEMU's TCG cannot emulate: "
                "use a non-RT build of the kernel, or a host with nested virtualization")
    return "the kernel needs CONFIG_KVM_AMD (the emulated CPU is an AMD EPYC with SVM)"


def _wait(proc: subprocess.Popen, deadline: float, cancelled: Callable[[], bool] | None) -> str:
    """'exited', 'timeout' or 'cancelled': the guest's end, polled so a cancel is seen within POLL_S."""
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return "timeout"
        try:
            proc.wait(timeout=min(left, POLL_S) if cancelled is not None else left)
            return "exited"
        except subprocess.TimeoutExpired:
            if cancelled is not None and cancelled():
                return "cancelled"


def _tail(path: Path, limit: int = 6000) -> str:
    try:
        data = path.read_bytes()[-limit:]
    except OSError:
        return ""
    noise = "TCG doesn't support requested feature"
    lines = [ln for ln in data.decode("utf-8", "replace").splitlines() if noise not in ln]
    return "\n".join(lines[-40:])
