"""Debian's 6.1 kernel for the throwaway-VM tests, fetched once with apt-get download.

The .deb is kept in the user's cache (``~/.cache/apicviz/debs``) so later runs
reuse it; ``APICVIZ_TEST_KERNEL_DEB`` names one explicitly. Where a real
kernel cannot be had or booted here, the tests are skipped with the reason.
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

DEB_CACHE = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "apicviz" / "debs"
#: Debian 12's 6.1 kernel, the unsigned flavour (the signed one is a thin wrapper).
PACKAGE_RE = re.compile(r"^linux-image-6\.1\.0-(\d+)-amd64-unsigned$")


def _newest_61_package() -> str | None:
    out = subprocess.run(["apt-cache", "search", "--names-only", r"^linux-image-6\.1\.0-[0-9]+-amd64-unsigned$"],
                         check=False, capture_output=True, text=True, timeout=60).stdout
    names = [line.split(" ", 1)[0] for line in out.splitlines()]
    names = [n for n in names if PACKAGE_RE.match(n)]
    return max(names, key=lambda n: int(PACKAGE_RE.match(n).group(1))) if names else None  # type: ignore[union-attr]


def boot_prerequisites() -> str | None:
    """Why the throwaway-VM tests cannot run here, or None."""
    from apicviz.kernelvm import KernelVmError
    from apicviz.kernelvm.boot import check_tools

    try:
        check_tools()
    except KernelVmError as exc:
        return str(exc)
    return None


@pytest.fixture(scope="session")
def debian_61_deb() -> Path:
    explicit = os.environ.get("APICVIZ_TEST_KERNEL_DEB")
    if explicit:
        return Path(explicit)
    why = boot_prerequisites()
    if why:
        pytest.skip(f"cannot boot a throwaway kernel here: {why}")
    cached = sorted(DEB_CACHE.glob("linux-image-6.1.0-*-amd64-unsigned_*.deb"))
    if cached:
        return cached[-1]
    if shutil.which("apt-get") is None:
        pytest.skip("no apt-get here to download Debian's 6.1 kernel "
                    "(set APICVIZ_TEST_KERNEL_DEB to a linux-image .deb)")
    name = _newest_61_package()
    if name is None:
        pytest.skip("apt-cache knows no linux-image-6.1.0-*-amd64-unsigned package (not Debian 12, or no "
                    "'apt-get update' yet; set APICVIZ_TEST_KERNEL_DEB)")
    DEB_CACHE.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(["apt-get", "download", name], cwd=DEB_CACHE, check=False,
                          capture_output=True, text=True, timeout=600)
    cached = sorted(DEB_CACHE.glob("linux-image-6.1.0-*-amd64-unsigned_*.deb"))
    if done.returncode != 0 or not cached:
        pytest.skip(f"apt-get download {name} failed: {done.stderr.strip()[-300:]}")
    return cached[-1]
