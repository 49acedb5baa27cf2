"""This machine's KVM: release, the model kernel it maps to, module parameters, build options.

The host check compares the real kernel with the model *for that kernel*, so
everything the model needs to know about the host is gathered here, once,
with where each answer came from (shown to the user beside the answer).
"""
from __future__ import annotations

import errno
import gzip
import os
import re
from dataclasses import dataclass
from typing import Any

from ..model.errors import ScenarioError
from ..model.kernels import behaviour_for, kernel_at_least, parse_kernel
from ..model.scenario import SMM_OPTIONAL_SINCE
from . import kvm_abi as abi

KVM_DEVICE = "/dev/kvm"
VECTOR_HASHING_PARAM = "/sys/module/kvm/parameters/vector_hashing"


class KvmUnavailable(Exception):
    """KVM cannot be used on this machine at all (the CLI exits with status 2)."""


@dataclass(frozen=True)
class HostInfo:
    """What the model must assume to describe this host's KVM."""

    release: str
    #: "MAJOR.MINOR" as a model kernel, or None when the model does not cover it (older than 4.11).
    kernel: str | None
    behaviour: str | None
    vector_hashing: bool
    vector_hashing_source: str
    smm: bool
    smm_source: str
    max_vcpu_id: int
    max_vcpus: int
    #: KVM_CAP_X2APIC_API flags this KVM accepts.
    x2apic_api: int

    def to_json(self) -> dict[str, Any]:
        return {"release": self.release, "kernel": self.kernel, "behaviour": self.behaviour,
                "vector_hashing": self.vector_hashing, "smm": self.smm, "max_vcpu_id": self.max_vcpu_id}

    def describe(self) -> str:
        """One line for the readable output and the GUI tooltip."""
        model = f"model kernel {self.kernel} ({self.behaviour})" if self.kernel else "no model kernel"
        return (f"host Linux {self.release} → {model}; kvm.vector_hashing {_yn(self.vector_hashing)} "
                f"({self.vector_hashing_source}); SMM {_yn(self.smm)} ({self.smm_source}); "
                f"KVM_CAP_MAX_VCPU_ID {self.max_vcpu_id}, KVM_CAP_MAX_VCPUS {self.max_vcpus}")


def _yn(value: bool) -> str:
    return "on" if value else "off"


def open_kvm(path: str | None = None) -> int:
    """Open /dev/kvm, or raise :class:`KvmUnavailable` saying which problem stops us."""
    path = path or KVM_DEVICE
    try:
        fd = os.open(path, os.O_RDWR | os.O_CLOEXEC)
    except FileNotFoundError:
        raise KvmUnavailable(f"{path} does not exist: this machine has no KVM "
                             "(no hardware virtualization, the kvm module is not loaded, or this is a "
                             "container without the device)") from None
    except PermissionError:
        raise KvmUnavailable(f"permission denied opening {path}: add your user to the group that owns it "
                             "(usually 'kvm') and log in again") from None
    except OSError as exc:
        raise KvmUnavailable(f"cannot open {path}: {exc.strerror}") from None
    try:
        version = abi.ioctl(fd, abi.KVM_GET_API_VERSION)
    except OSError as exc:
        os.close(fd)
        raise KvmUnavailable(f"{path} is not a KVM device (KVM_GET_API_VERSION: {exc.strerror})") from None
    if version != abi.KVM_API_VERSION:
        os.close(fd)
        raise KvmUnavailable(f"{path} speaks KVM API version {version}; this program needs {abi.KVM_API_VERSION}")
    return fd


def model_kernel(release: str) -> str | None:
    """``uname -r`` → the model's "MAJOR.MINOR" (None when older than the model's range)."""
    match = re.match(r"(\d+)\.(\d+)", release)
    if not match:
        return None
    try:
        return parse_kernel(f"{int(match.group(1))}.{int(match.group(2))}", "host kernel")
    except ScenarioError:
        return None


def read_vector_hashing(path: str = VECTOR_HASHING_PARAM) -> tuple[bool, str]:
    """``kvm.vector_hashing``; KVM's default (on) when the parameter file cannot be read."""
    try:
        with open(path, encoding="ascii") as f:
            text = f.read().strip()
    except OSError:
        return True, f"{path} unreadable: KVM's default assumed"
    return text.upper() in ("Y", "1"), path


def read_kernel_config(release: str) -> tuple[dict[str, str] | None, str]:
    """The running kernel's build configuration and where it came from (None when unavailable).

    ``APICVIZ_KERNEL_CONFIG`` names it first: inside a throwaway VM booted by
    ``probe --kernel`` the guest's ``/boot`` is the host's, so the staged
    configuration is passed this way.
    """
    override = os.environ.get("APICVIZ_KERNEL_CONFIG")
    for path in ((override,) if override else ()) + ("/proc/config.gz", f"/boot/config-{release}"):
        try:
            if path.endswith(".gz"):
                with gzip.open(path, "rt", encoding="utf-8", errors="replace") as f:
                    text = f.read()
            else:
                with open(path, encoding="utf-8", errors="replace") as f:
                    text = f.read()
        except (OSError, EOFError):
            continue
        config: dict[str, str] = {}
        for line in text.splitlines():
            if line.startswith("CONFIG_") and "=" in line:
                key, _, value = line.partition("=")
                config[key] = value
            elif line.startswith("# CONFIG_") and line.endswith(" is not set"):
                config[line[2:-len(" is not set")]] = "n"
        return config, path
    return None, ""


def detect_smm(release: str, kernel: str | None, cap_x86_smm: int) -> tuple[bool, str]:
    """Was KVM built with CONFIG_KVM_SMM? The build configuration decides; KVM_CAP_X86_SMM is the fallback.

    The capability alone is not proof: it is also 0 when the vendor module
    cannot emulate SMBASE although SMM is built in.
    """
    if kernel is not None and not kernel_at_least(kernel, SMM_OPTIONAL_SINCE):
        return True, f"kernel {kernel} predates 6.2: SMM is always built in"
    config, path = read_kernel_config(release)
    if config is not None:
        value = config.get("CONFIG_KVM_SMM", "n")
        if value in ("y", "m"):
            return True, f"CONFIG_KVM_SMM={value} in {path}"
        return False, f"CONFIG_KVM_SMM is not set in {path}"
    state = "supported" if cap_x86_smm else "not supported"
    return bool(cap_x86_smm), (f"build configuration unknown (no /proc/config.gz or /boot/config-{release}); "
                               f"KVM_CAP_X86_SMM says {state}")


def check_cap(fd: int, cap: int) -> int:
    try:
        return abi.ioctl(fd, abi.KVM_CHECK_EXTENSION, cap)
    except OSError:
        return 0


def host_info(kvm_fd: int | None = None) -> HostInfo:
    """Gather :class:`HostInfo`; opens /dev/kvm itself when no descriptor is given."""
    own = kvm_fd is None
    fd = open_kvm() if kvm_fd is None else kvm_fd
    try:
        release = os.uname().release
        kernel = model_kernel(release)
        behaviour = behaviour_for(kernel).name if kernel else None
        hashing, hashing_source = read_vector_hashing()
        smm, smm_source = detect_smm(release, kernel, check_cap(fd, abi.KVM_CAP_X86_SMM))
        max_vcpu_id = check_cap(fd, abi.KVM_CAP_MAX_VCPU_ID) or check_cap(fd, abi.KVM_CAP_MAX_VCPUS)
        max_vcpus = check_cap(fd, abi.KVM_CAP_MAX_VCPUS) or check_cap(fd, abi.KVM_CAP_NR_VCPUS)
        x2apic_api = check_cap(fd, abi.KVM_CAP_X2APIC_API)
        if not check_cap(fd, abi.KVM_CAP_IRQCHIP) or not check_cap(fd, abi.KVM_CAP_SIGNAL_MSI):
            raise KvmUnavailable("this KVM has no in-kernel irqchip or no KVM_SIGNAL_MSI: nothing to probe")
    finally:
        if own:
            os.close(fd)
    return HostInfo(release, kernel, behaviour, hashing, hashing_source, smm, smm_source,
                    max_vcpu_id, max_vcpus, x2apic_api)


def errno_text(exc: OSError) -> str:
    """'ENOMEM (Cannot allocate memory)' for messages about a failed ioctl."""
    name = errno.errorcode.get(exc.errno or 0, str(exc.errno))
    return f"{name} ({exc.strerror})"
