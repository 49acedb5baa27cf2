"""Run ``apicviz probe --json`` inside a throwaway VM of another kernel and bring the lines back."""
from __future__ import annotations

import json
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import boot, cache, image, package
from .errors import KernelVmError


@dataclass(frozen=True)
class KernelChoice:
    """What the user asked to boot: an image or tree, optional modules, or a .deb."""

    kernel: str | None = None
    modules: str | None = None
    kernel_package: str | None = None

    def resolve(self) -> image.KernelImage:
        if self.kernel_package:
            unpacked = package.unpack(self.kernel_package)
            return image.locate(package.image_of(unpacked), self.modules)
        if not self.kernel:
            raise KernelVmError("not_a_kernel", "no kernel given", "pass --kernel IMAGE or --kernel-package PKG.deb")
        return image.locate(self.kernel, self.modules)


def probe_on_kernel(choice: KernelChoice, files: Sequence[str], sweep: bool = False,
                    timeout: float = 240.0, cancelled: Callable[[], bool] | None = None,
                    ) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """(one probe JSON object per file, the run's ``vm`` facts), or KernelVmError.

    The scenario files are passed by absolute path: the guest sees the host's
    file system read-only at the same places. The probe inside reads the
    kernel's configuration from the staged copy (``APICVIZ_KERNEL_CONFIG``),
    since the guest's ``/boot`` is the host's. ``cancelled`` is polled while the
    guest runs (the window's Cancel): the guest is killed and KernelVmError("cancelled") raised.
    """
    kernel = choice.resolve()
    image.check_usable(kernel)
    staged = cache.stage(kernel)
    paths = [str(Path(f).resolve()) for f in files]
    for original, p in zip(files, paths, strict=True):
        if not Path(p).is_file():
            raise KernelVmError("guest_failed", f"{original}: no such file")
    # The probe needs the standard library only: "-S" skips site-packages and
    # their .pth hooks, which cost seconds under TCG emulation.
    package_root = str(Path(__file__).resolve().parents[2])
    command = [sys.executable, "-S", "-m", "apicviz", "probe", "--json", *(["--sweep"] if sweep else []), *paths]
    env = {"PYTHONPATH": package_root}
    if kernel.config_path:
        env["APICVIZ_KERNEL_CONFIG"] = str(kernel.config_path)
    run = boot.run_in_guest(staged, command, env=env, timeout=timeout, cancelled=cancelled)
    vm = {"image": str(kernel.image), "release": kernel.release, "accel": run.accel,
          "seconds": round(run.seconds, 1), "config_known": kernel.config_known,
          "guest_uptime": {k: round(v, 1) for k, v in run.stages.items()}}
    stdout = run.files.get("stdout", b"").decode("utf-8", "replace")
    stderr = run.files.get("stderr", b"").decode("utf-8", "replace")
    rc = run.files.get("rc", b"").decode().strip()
    lines: list[dict[str, Any]] = []
    for text in stdout.splitlines():
        if text.strip():
            try:
                lines.append(json.loads(text))
            except ValueError:
                continue
    if rc == "2" or (not lines and rc not in ("0", "1")):
        last = (stderr.strip().splitlines() or ["no message"])[-1]
        raise KernelVmError("guest_failed", f"the probe inside {kernel.release} failed "
                            f"(exit status {rc or 'unknown'}): {last}", console=run.console)
    if len(lines) != len(paths):
        raise KernelVmError("guest_failed", f"the probe inside {kernel.release} answered for {len(lines)} of "
                            f"{len(paths)} files: {stderr.strip()[-300:]}", console=run.console)
    for result, original in zip(lines, files, strict=True):
        result["file"] = original
        result["vm"] = vm
    return lines, vm
