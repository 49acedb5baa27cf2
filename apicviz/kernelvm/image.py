"""Which kernel the user pointed at: an image, a build tree, or a /boot entry.

A bzImage says its own release in its boot header (the ``kernel_version``
string the setup header points to), so no ``file`` or ``strings`` tool is
needed; the configuration and modules are looked for beside it.
"""
from __future__ import annotations

import gzip
import re
import struct
from dataclasses import dataclass, field
from pathlib import Path

from .errors import KernelVmError

_SETUP_MAGIC = b"HdrS"
_MAX_IMAGE = 512 * 1024 * 1024


@dataclass(frozen=True)
class KernelImage:
    """A bootable x86 kernel with what was found beside it."""

    image: Path
    release: str  #: ``uname -r`` of that kernel, e.g. ``6.1.0-50-amd64``
    banner: str  #: the whole version string of the boot header
    config: dict[str, str] = field(default_factory=dict)  #: CONFIG_* -> y/m/value; empty when unknown
    config_path: Path | None = None
    modules: Path | None = None  #: the ``lib/modules/<release>`` folder, when one exists

    @property
    def config_known(self) -> bool:
        return bool(self.config)

    def option(self, name: str) -> str | None:
        return self.config.get(name)


def read_release(path: Path) -> tuple[str, str]:
    """(release, banner) from a bzImage's setup header; KernelVmError if it is not one."""
    try:
        size = path.stat().st_size
        with path.open("rb") as f:
            head = f.read(0x10000)
    except OSError as exc:
        raise KernelVmError("not_a_kernel", f"{path}: cannot read the kernel image: {exc.strerror or exc}") from None
    if size > _MAX_IMAGE or len(head) < 0x210 or head[0x202:0x206] != _SETUP_MAGIC:
        raise KernelVmError(
            "not_a_kernel",
            f"{path} is not an x86 kernel image (no 'HdrS' boot header at offset 0x202)",
            "give a bzImage or /boot/vmlinuz-*, a kernel build tree, or --kernel-package linux-image-*.deb",
        )
    offset = struct.unpack_from("<H", head, 0x20E)[0] + 0x200
    raw = head[offset:offset + 256].split(b"\0", 1)[0]
    banner = raw.decode("ascii", "replace").strip()
    release = banner.split(" ", 1)[0] if banner else ""
    if not re.match(r"^\d+\.\d+", release):
        raise KernelVmError("not_a_kernel", f"{path}: the boot header names no kernel release ({banner[:60]!r})")
    return release, banner


def parse_config(path: Path) -> dict[str, str]:
    """CONFIG_X=value lines of a kernel .config (plain or gzip, as /proc/config.gz)."""
    data = path.read_bytes()
    if data[:2] == b"\x1f\x8b":
        data = gzip.decompress(data)
    out: dict[str, str] = {}
    for line in data.decode("utf-8", "replace").splitlines():
        if line.startswith("CONFIG_") and "=" in line:
            key, value = line.split("=", 1)
            out[key] = value.strip().strip('"')
    return out


def _modules_under(root: Path, release: str) -> Path | None:
    for candidate in (root / "lib" / "modules" / release, root / "usr" / "lib" / "modules" / release, root):
        markers = (candidate / "kernel", candidate / "modules.dep", candidate / "modules.order")
        if any(m.exists() for m in markers):
            if candidate == root and root.name != release:
                continue
            return candidate
    return None


def locate(kernel: str | Path, modules: str | Path | None = None) -> KernelImage:
    """Resolve KERNEL (image file or build tree) and the modules and config that belong to it."""
    path = Path(kernel).expanduser()
    if not path.exists():
        raise KernelVmError("not_a_kernel", f"{path}: no such file or directory")
    config_path: Path | None = None
    if path.is_dir():
        tree = path
        path = tree / "arch" / "x86" / "boot" / "bzImage"
        if not path.is_file():
            raise KernelVmError("not_a_kernel",
                                f"{tree} is a folder but not a built kernel tree (no arch/x86/boot/bzImage)",
                                "run 'make bzImage modules' there, or give the image file itself")
        config_path = tree / ".config" if (tree / ".config").is_file() else None
    release, banner = read_release(path)
    if config_path is None:
        for candidate in (path.parent / f"config-{release}", path.parent / ".config",
                          path.parent.parent / "boot" / f"config-{release}"):
            if candidate.is_file():
                config_path = candidate
                break
    config = parse_config(config_path) if config_path else {}
    mod_dir: Path | None = None
    if modules is not None:
        mroot = Path(modules).expanduser()
        mod_dir = _modules_under(mroot, release)
        if mod_dir is None:
            raise KernelVmError("no_kvm", f"--modules {mroot}: no modules of {release} there "
                                f"(looked for {mroot}/lib/modules/{release})",
                                f"make modules_install INSTALL_MOD_PATH={mroot}")
    else:
        root = path.parent.parent if path.parent.name == "boot" else path.parent
        mod_dir = _modules_under(root, release)
    return KernelImage(path.resolve(), release, banner, config, config_path, mod_dir)


def check_usable(k: KernelImage) -> None:
    """Refuse, before booting, a kernel that cannot run the probe; say what is missing."""
    if k.config_known:
        if k.option("CONFIG_KVM") not in ("y", "m"):
            raise KernelVmError("no_kvm", f"{k.release} is built without KVM (CONFIG_KVM is not set)",
                                "enable CONFIG_KVM and CONFIG_KVM_AMD or CONFIG_KVM_INTEL")
        missing = [o for o in ("CONFIG_VIRTIO_PCI", "CONFIG_NET_9P", "CONFIG_NET_9P_VIRTIO", "CONFIG_9P_FS")
                   if k.option(o) not in ("y", "m")]
        if missing:
            raise KernelVmError("no_9p", f"{k.release} lacks {', '.join(missing)}: "
                                "virtme-ng shares the host's files over virtio 9p",
                                "enable them (=y or =m), e.g. with 'vng --kconfig' in the tree")
        needs_modules = any(k.option(o) == "m" for o in ("CONFIG_KVM", "CONFIG_VIRTIO_PCI", "CONFIG_9P_FS"))
        if needs_modules and k.modules is None:
            raise KernelVmError("no_kvm", f"{k.release} builds KVM or virtio as modules, "
                                f"but no modules were found beside {k.image}",
                                "pass --modules DIR (the INSTALL_MOD_PATH of 'make modules_install') "
                                "or use --kernel-package")
    has_kvm_module = k.modules is not None and any(k.modules.glob("kernel/arch/x86/kvm/kvm*.ko*"))
    if k.modules is not None and not has_kvm_module and k.option("CONFIG_KVM") != "y":
        raise KernelVmError("no_kvm", f"{k.modules} has no kvm modules (kernel/arch/x86/kvm/kvm.ko)",
                            "build KVM as a module or into the kernel")
