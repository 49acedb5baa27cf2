"""Kernel images, packages and configurations are checked before anything boots."""
from __future__ import annotations

import gzip
import io
import struct
import tarfile
from pathlib import Path

import pytest

from apicviz.kernelvm import KernelVmError, package
from apicviz.kernelvm import image as kimage


def fake_bzimage(path: Path, banner: str) -> Path:
    """The smallest file with an x86 setup header pointing at a version string."""
    data = bytearray(0x1000)
    data[0x202:0x206] = b"HdrS"
    struct.pack_into("<H", data, 0x20E, 0x600 - 0x200)
    raw = banner.encode() + b"\0"
    data[0x600:0x600 + len(raw)] = raw
    path.write_bytes(bytes(data))
    return path


def test_release_comes_from_the_boot_header(tmp_path: Path) -> None:
    img = fake_bzimage(tmp_path / "bzImage", "6.1.0-50-amd64 (debian-kernel@lists.debian.org) #1 SMP")
    assert kimage.read_release(img) == ("6.1.0-50-amd64", "6.1.0-50-amd64 (debian-kernel@lists.debian.org) #1 SMP")


def test_a_file_that_is_not_a_kernel_is_refused_with_the_fix(tmp_path: Path) -> None:
    junk = tmp_path / "notes.txt"
    junk.write_text("hello\n" * 200)
    with pytest.raises(KernelVmError) as err:
        kimage.locate(junk)
    assert err.value.cause == "not_a_kernel"
    assert "no 'HdrS' boot header" in str(err.value)
    assert "fix:" in str(err.value)


def test_a_missing_path_and_an_unbuilt_tree_are_refused(tmp_path: Path) -> None:
    with pytest.raises(KernelVmError, match="no such file"):
        kimage.locate(tmp_path / "nope")
    with pytest.raises(KernelVmError, match="not a built kernel tree"):
        kimage.locate(tmp_path)


def test_build_tree_config_and_modules_are_found(tmp_path: Path) -> None:
    boot = tmp_path / "arch" / "x86" / "boot"
    boot.mkdir(parents=True)
    fake_bzimage(boot / "bzImage", "6.12.3 (me@box) #7")
    (tmp_path / ".config").write_text("CONFIG_KVM=y\nCONFIG_KVM_AMD=y\nCONFIG_KVM_SMM=y\n# CONFIG_X is not set\n")
    mods = tmp_path / "mods" / "lib" / "modules" / "6.12.3"
    (mods / "kernel").mkdir(parents=True)
    k = kimage.locate(tmp_path, tmp_path / "mods")
    assert k.release == "6.12.3"
    assert k.option("CONFIG_KVM_SMM") == "y"
    assert k.modules == mods


def test_kernel_without_kvm_or_9p_is_refused_before_booting(tmp_path: Path) -> None:
    img = fake_bzimage(tmp_path / "vmlinuz-6.6.1", "6.6.1 #1")
    (tmp_path / "config-6.6.1").write_text("# CONFIG_KVM is not set\nCONFIG_9P_FS=y\n")
    with pytest.raises(KernelVmError) as err:
        kimage.check_usable(kimage.locate(img))
    assert err.value.cause == "no_kvm"
    (tmp_path / "config-6.6.1").write_text("CONFIG_KVM=y\nCONFIG_KVM_AMD=y\nCONFIG_VIRTIO_PCI=y\n")
    with pytest.raises(KernelVmError) as err:
        kimage.check_usable(kimage.locate(img))
    assert err.value.cause == "no_9p"
    assert "CONFIG_NET_9P" in str(err.value)


def test_modules_needed_but_absent_names_the_option(tmp_path: Path) -> None:
    img = fake_bzimage(tmp_path / "vmlinuz-6.6.1", "6.6.1 #1")
    (tmp_path / "config-6.6.1").write_text(
        "CONFIG_KVM=m\nCONFIG_KVM_AMD=m\nCONFIG_VIRTIO_PCI=y\nCONFIG_NET_9P=y\nCONFIG_NET_9P_VIRTIO=y\nCONFIG_9P_FS=y\n")
    with pytest.raises(KernelVmError, match="--modules"):
        kimage.check_usable(kimage.locate(img))


def test_gzip_config_as_in_proc(tmp_path: Path) -> None:
    p = tmp_path / "config.gz"
    p.write_bytes(gzip.compress(b"CONFIG_KVM_SMM=y\nCONFIG_LOCALVERSION=\"-test\"\n"))
    assert kimage.parse_config(p) == {"CONFIG_KVM_SMM": "y", "CONFIG_LOCALVERSION": "-test"}


def _deb(members: dict[str, bytes]) -> bytes:
    out = bytearray(b"!<arch>\n")
    for name, body in members.items():
        header = f"{name + '/':<16}{0:<12}{0:<6}{0:<6}{'100644':<8}{len(body):<10}`\n".encode()
        out += header + body + (b"\n" if len(body) % 2 else b"")
    return bytes(out)


def _tar(files: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:xz") as tar:
        for name, body in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(body)
            tar.addfile(info, io.BytesIO(body))
    return buf.getvalue()


def test_package_is_unpacked_into_the_private_cache_only(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    img = fake_bzimage(tmp_path / "img", "6.1.0-9-amd64 #1")
    data = _tar({"./boot/vmlinuz-6.1.0-9-amd64": img.read_bytes(),
                 "./boot/config-6.1.0-9-amd64": b"CONFIG_KVM=m\n",
                 "./lib/modules/6.1.0-9-amd64/kernel/arch/x86/kvm/kvm.ko": b"\x7fELF",
                 "./usr/share/doc/x/changelog": b"not extracted",
                 "../escape": b"never written"})
    deb = tmp_path / "linux-image.deb"
    deb.write_bytes(_deb({"debian-binary": b"2.0\n", "control.tar.xz": _tar({}), "data.tar.xz": data}))
    root = package.unpack(deb)
    assert root.is_relative_to(tmp_path / "cache" / "apicviz" / "kernels")
    assert (root / "boot" / "vmlinuz-6.1.0-9-amd64").is_file()
    assert not (root / "usr" / "share").exists()
    assert not (tmp_path / "cache" / "apicviz" / "escape").exists()
    k = kimage.locate(package.image_of(root))
    assert k.release == "6.1.0-9-amd64"
    assert k.modules == root / "lib" / "modules" / "6.1.0-9-amd64"
    assert package.unpack(deb) == root  # unpacked once


def test_not_a_package(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    bad = tmp_path / "x.deb"
    bad.write_bytes(b"PK\x03\x04 zip, not deb")
    with pytest.raises(KernelVmError) as err:
        package.unpack(bad)
    assert err.value.cause == "bad_package"
