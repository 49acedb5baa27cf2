"""``--kernel-package linux-image-*.deb``: a distribution kernel unpacked into the cache.

A .deb is an ``ar`` archive whose ``data.tar.*`` member holds the files; it
is read here with the standard library (``tarfile`` knows gzip, bzip2 and
xz), falling back to ``dpkg-deb`` for compressions it does not know (zstd).
Only ``boot/`` and the module tree are extracted, with tarfile's ``data``
filter, so a hostile package cannot write outside the cache.
"""
from __future__ import annotations

import io
import shutil
import subprocess
import tarfile
from pathlib import Path

from .cache import cache_root, file_key
from .errors import KernelVmError

_AR_MAGIC = b"!<arch>\n"
_WANTED = ("./boot/", "boot/", "./lib/modules/", "lib/modules/", "./usr/lib/modules/", "usr/lib/modules/")


def _ar_members(data: bytes) -> dict[str, bytes]:
    if not data.startswith(_AR_MAGIC):
        raise ValueError("not an ar archive")
    out: dict[str, bytes] = {}
    pos = len(_AR_MAGIC)
    while pos + 60 <= len(data):
        header = data[pos:pos + 60]
        name = header[:16].decode("ascii", "replace").strip().rstrip("/")
        size = int(header[48:58].decode("ascii").strip() or "0")
        pos += 60
        out[name] = data[pos:pos + size]
        pos += size + (size & 1)
    return out


def _extract_tar(blob: bytes, dest: Path) -> None:
    with tarfile.open(fileobj=io.BytesIO(blob)) as tar:
        members = [m for m in tar.getmembers() if m.name.startswith(_WANTED)]
        tar.extractall(dest, members=members, filter="data")


def unpack(deb: str | Path) -> Path:
    """Unpack the package once (keyed by its content) and return the folder holding ``boot/``."""
    path = Path(deb).expanduser()
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise KernelVmError("bad_package", f"{path}: cannot read the package: {exc.strerror or exc}") from None
    root = cache_root() / f"pkg-{path.stem[:60]}-{file_key(path)}"
    done = root / ".unpacked"
    if done.exists():
        return root
    try:
        members = _ar_members(data)
    except ValueError:
        raise KernelVmError("bad_package", f"{path} is not a Debian package (no ar header)",
                            "download one with: apt-get download linux-image-6.1.0-50-amd64-unsigned") from None
    data_name = next((n for n in members if n.startswith("data.tar")), None)
    if data_name is None:
        raise KernelVmError("bad_package", f"{path}: the package has no data.tar member")
    tmp = root.with_name(root.name + ".part")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    try:
        if data_name.endswith((".tar", ".gz", ".xz", ".bz2")):
            _extract_tar(members[data_name], tmp)
        elif shutil.which("dpkg-deb"):
            subprocess.run(["dpkg-deb", "-x", str(path), str(tmp)], check=True, capture_output=True, timeout=300)
        else:
            raise KernelVmError("bad_package", f"{path}: {data_name} needs dpkg-deb to unpack",
                                "apt-get install dpkg, or unpack it yourself and pass the image and --modules")
    except (tarfile.TarError, subprocess.SubprocessError, OSError) as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        raise KernelVmError("bad_package", f"{path}: cannot unpack {data_name}: {exc}") from None
    if not any((tmp / "boot").glob("vmlinuz-*")):
        shutil.rmtree(tmp, ignore_errors=True)
        raise KernelVmError("bad_package", f"{path} holds no boot/vmlinuz-*: is it a linux-image package?")
    shutil.rmtree(root, ignore_errors=True)
    tmp.replace(root)
    done.touch()
    return root


def image_of(unpacked: Path) -> Path:
    images = sorted((unpacked / "boot").glob("vmlinuz-*"))
    return images[-1]
