"""The private kernel cache: staged images, modules and unpacked packages.

Everything a throwaway-kernel run needs lives under
``$XDG_CACHE_HOME/apicviz/kernels`` (``~/.cache/apicviz/kernels``): the host's
``/boot`` and ``/lib/modules`` are only ever read.
"""
from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path

from .image import KernelImage


def cache_root() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "apicviz" / "kernels"


def file_key(path: Path) -> str:
    """A short content hash: the same file staged twice reuses one folder."""
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()[:12]


def stage(kernel: KernelImage) -> Path:
    """Lay out ``boot/vmlinuz-REL`` and ``lib/modules/REL`` as virtme-ng expects them.

    virtme-ng finds a kernel's modules by walking up from the image to a
    folder holding ``lib/modules``; the host's own kernels already sit that
    way under ``/``, anything else gets a staging folder in the cache with a
    copy of the image and a link to its modules.
    """
    beside = kernel.image.parent.parent / "lib" / "modules" / kernel.release
    if kernel.image.parent.name == "boot" and kernel.image.name == f"vmlinuz-{kernel.release}" and (
        kernel.modules is None or kernel.modules.resolve() == beside.resolve()
    ):
        return kernel.image  # already laid out as virtme-ng expects (/boot, an unpacked package)
    root = cache_root() / f"{kernel.release}-{file_key(kernel.image)}"
    boot = root / "boot"
    boot.mkdir(parents=True, exist_ok=True)
    image = boot / f"vmlinuz-{kernel.release}"
    if not image.exists():
        tmp = image.with_suffix(".part")
        shutil.copyfile(kernel.image, tmp)
        tmp.replace(image)
    if kernel.config_path is not None:
        shutil.copyfile(kernel.config_path, boot / f"config-{kernel.release}")
    if kernel.modules is not None and kernel.modules.resolve() != (root / "lib" / "modules" / kernel.release).resolve():
        mods = root / "lib" / "modules"
        mods.mkdir(parents=True, exist_ok=True)
        link = mods / kernel.release
        if link.is_symlink() or link.exists():
            if link.is_symlink():
                link.unlink()
            else:
                shutil.rmtree(link)
        # A copy, not a link: virtme-ng may run depmod in the folder, and the
        # user's module tree is theirs.
        shutil.copytree(kernel.modules, link, symlinks=True)
    return image
