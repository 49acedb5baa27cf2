"""QEMU's x86 CPU topology: the ``-smp`` value, the APIC IDs it gives, the x2APIC API flags.

What QEMU 7.2 does, checked against Debian's ``qemu-system-x86`` 7.2.22:

* ``-smp`` (``hw/core/machine-smp.c``): missing counts are computed from the
  given ones — machine types since 6.2 prefer cores over sockets, older ones
  sockets over cores — then threads; an explicit ``0`` is read as "omitted"
  with a deprecation warning (refused since QEMU 9.0); ``maxcpus`` defaults to
  ``cpus`` and must equal the product of the levels. x86 has ``dies``;
  ``clusters`` above 1 are refused; ``modules`` are refused by 7.2 and exist
  on x86 since 9.0 (they get their own bits between die and core).
* APIC IDs (``include/hw/i386/topology.h``): every level gets
  ceil(log2(count)) bits, threads lowest; the cpu index is split into
  thread, core, module, die and package in that order. The ID is the vCPU ID
  QEMU gives ``KVM_CREATE_VCPU``.
* QEMU creates only the ``cpus`` boot vCPUs, cpu index 0, 1, ... in that
  order; the other ``maxcpus`` slots exist only once hot-plugged, in whatever
  order the user plugs them. Their IDs still count for the x2APIC API: QEMU
  sizes its APIC ID limit for every slot.
* ``KVM_X2APIC_API_USE_32BIT_IDS`` and ``..._DISABLE_BROADCAST_QUIRK`` are
  enabled together (``kvm_enable_x2apic()``) when the largest APIC ID of any
  slot is 255 or more (``apic_id_limit > 255``; ID 255 is the xAPIC broadcast)
  or an IOMMU offers x2APIC interrupt remapping (intel-iommu ``eim``, AMD
  ``xtsup`` in later versions).
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from ..model.errors import ScenarioError, quote
from ..model.numbers import fmt_id
from ..model.scenario import MAX_VCPU_ID, MAX_VCPUS

#: The largest count we take for any level or for cpus/maxcpus (x86 KVM_MAX_VCPUS).
MAX_COUNT = MAX_VCPUS
#: QEMU 7.2's limits per machine type (``-M q35`` / ``-M pc``); above them QEMU refuses to start.
Q35_MAX_CPUS_7_2 = 288
PC_MAX_CPUS_7_2 = 255
#: QEMU enables the x2APIC API when its APIC ID limit (largest ID + 1) exceeds this.
XAPIC_ID_LIMIT = 255

LEVELS = ("sockets", "dies", "clusters", "modules", "cores", "threads")
KEYS = ("cpus", "maxcpus", *LEVELS)
_NOT_X86 = {"books": "s390x", "drawers": "s390x"}
_NUMBER = re.compile(r"\s*\+?(0[xX][0-9a-fA-F]+|0[0-7]*|[1-9][0-9]*)")


@dataclass(frozen=True)
class SmpConfig:
    """The counts QEMU settles on after filling in what ``-smp`` left out."""

    cpus: int
    maxcpus: int
    sockets: int = 1
    dies: int = 1
    clusters: int = 1
    modules: int = 1
    cores: int = 1
    threads: int = 1

    def text(self) -> str:
        """The same topology as an explicit ``-smp`` value."""
        parts = [str(self.cpus)]
        if self.maxcpus != self.cpus:
            parts.append(f"maxcpus={self.maxcpus}")
        parts += [f"{level}={getattr(self, level)}" for level in LEVELS
                  if level in ("sockets", "cores", "threads") or getattr(self, level) != 1]
        return ",".join(parts)


@dataclass(frozen=True)
class ApicIdLayout:
    """Bit widths of each level of an APIC ID (threads lowest), as topology.h computes them."""

    smt_width: int
    core_width: int
    module_width: int
    die_width: int

    @property
    def core_offset(self) -> int:
        return self.smt_width

    @property
    def module_offset(self) -> int:
        return self.core_offset + self.core_width

    @property
    def die_offset(self) -> int:
        return self.module_offset + self.module_width

    @property
    def pkg_offset(self) -> int:
        return self.die_offset + self.die_width


def bitwidth_for_count(count: int) -> int:
    """Bits needed to number ``count`` items: ceil(log2(count)), 0 for one item."""
    if count < 1:
        raise ValueError(f"a topology level needs at least one item, not {count}")
    return (count - 1).bit_length()


def _number(key: str, text: str) -> int:
    """A count as QEMU reads it (strtoull base 0: decimal, 0x hex, leading-0 octal)."""
    match = _NUMBER.fullmatch(text)
    if not match:
        raise ScenarioError(f"-smp {key}", f"{quote(text)} is not a whole number (QEMU: 'expects integer')")
    digits = match.group(1)
    if len(digits) > 24:
        raise ScenarioError(f"-smp {key}", f"{digits[:24]}… is far too large; allowed 1..{MAX_COUNT}")
    value = int(digits, 16) if digits[:2].lower() == "0x" else int(digits, 8) if digits.startswith("0") else int(digits)
    if value > MAX_COUNT:
        raise ScenarioError(f"-smp {key}", f"{value} is out of range; allowed 0..{MAX_COUNT} (KVM_MAX_VCPUS)")
    return value


def _split(text: str) -> tuple[dict[str, int], list[str]]:
    """``key=value`` items; the first may be a bare number (``cpus``); a repeated key keeps its last value."""
    if not isinstance(text, str):
        raise ScenarioError("-smp", f"expected text, got {type(text).__name__}")
    if len(text) > 1000 or not text.isascii():
        raise ScenarioError("-smp", "not an -smp value (longer than 1000 characters or not ASCII)")
    items = text.split(",")
    if items and items[-1] == "":
        items.pop()  # QEMU accepts one trailing comma
    if not items:
        raise ScenarioError("-smp", "empty; give at least a CPU count, e.g. 4 or 4,sockets=2")
    given: dict[str, int] = {}
    warnings: list[str] = []
    for n, item in enumerate(items):
        key, sep, value = item.partition("=")
        if not sep:
            if n:
                raise ScenarioError(f"-smp item {n + 1}", f"{quote(item)} has no '=': only the first item may be "
                                    f"a bare CPU count; use key=value ({', '.join(KEYS)})")
            key, value = "cpus", item
        if key in _NOT_X86:
            raise ScenarioError(f"-smp {key}", f"{key} exist only on {_NOT_X86[key]}; x86 uses {', '.join(LEVELS)}")
        if key not in KEYS:
            raise ScenarioError(f"-smp item {n + 1}", f"unknown parameter {quote(key)}; allowed {', '.join(KEYS)}")
        if key in given:
            warnings.append(f"-smp: {key} is given twice; QEMU keeps the last value, {value.strip()[:20]}")
        given[key] = _number(key, value)
    return given, warnings


def parse_smp(text: str, prefer_sockets: bool = False) -> tuple[SmpConfig, list[str]]:
    """Parse an ``-smp`` value and fill in the missing counts as QEMU 7.2 does.

    ``prefer_sockets`` is the rule of machine types before 6.2 (``pc-*-6.1``
    and older). Returns the configuration and warnings (explicit zeros,
    ``modules``, machine limits); raises ScenarioError naming the parameter.
    """
    given, warnings = _split(text)
    for key in KEYS:
        if given.get(key) == 0:
            warnings.append(f"-smp {key}=0: QEMU 7.2 reads 0 as 'omitted' (with a deprecation warning); "
                            f"QEMU 9.0 refuses it")
            del given[key]
    if given.get("clusters", 1) > 1:
        raise ScenarioError("-smp clusters", "x86 has no clusters: QEMU refuses clusters above 1 "
                            "(\"clusters not supported by this machine's CPU topology\")")
    if "modules" in given:
        warnings.append("-smp modules: QEMU 7.2 refuses this parameter; x86 has modules since QEMU 9.0, "
                        "whose rule (module bits between die and core) is used")
    cpus, maxcpus = given.get("cpus", 0), given.get("maxcpus", 0)
    sockets, cores, threads = given.get("sockets", 0), given.get("cores", 0), given.get("threads", 0)
    dies, clusters, modules = given.get("dies", 1), given.get("clusters", 1), given.get("modules", 1)
    if cpus == 0 and maxcpus == 0:
        sockets, cores, threads = sockets or 1, cores or 1, threads or 1
    else:
        maxcpus = maxcpus or cpus
        middle = dies * clusters * modules
        if prefer_sockets:
            if sockets == 0:
                cores, threads = cores or 1, threads or 1
                sockets = maxcpus // (middle * cores * threads)
            elif cores == 0:
                threads = threads or 1
                cores = maxcpus // (sockets * middle * threads)
        else:
            if cores == 0:
                sockets, threads = sockets or 1, threads or 1
                cores = maxcpus // (sockets * middle * threads)
            elif sockets == 0:
                threads = threads or 1
                sockets = maxcpus // (middle * cores * threads)
        if threads == 0:
            threads = maxcpus // (sockets * middle * cores)
    product = sockets * dies * clusters * modules * cores * threads
    maxcpus = maxcpus or product
    cpus = cpus or maxcpus
    shown = f"sockets ({sockets}) * dies ({dies}) * " + (f"modules ({modules}) * " if modules > 1 else "") + \
        f"cores ({cores}) * threads ({threads})"
    if product != maxcpus or min(sockets, cores, threads) < 1:
        raise ScenarioError("-smp", f"invalid CPU topology: the product of the levels must match maxcpus: "
                            f"{shown} != maxcpus ({maxcpus})")
    if maxcpus < cpus:
        raise ScenarioError("-smp", f"invalid CPU topology: maxcpus ({maxcpus}) must be at least cpus ({cpus}); "
                            f"{shown} == maxcpus")
    if maxcpus > MAX_COUNT:
        raise ScenarioError("-smp maxcpus", f"{maxcpus} CPUs; allowed 1..{MAX_COUNT} (KVM_MAX_VCPUS)")
    if maxcpus > Q35_MAX_CPUS_7_2:
        warnings.append(f"-smp: {maxcpus} CPUs: QEMU 7.2 starts at most {Q35_MAX_CPUS_7_2} (-M q35) or "
                        f"{PC_MAX_CPUS_7_2} (-M pc); later versions allow more")
    elif maxcpus > PC_MAX_CPUS_7_2:
        warnings.append(f"-smp: {maxcpus} CPUs need -M q35: QEMU 7.2's -M pc (the default) allows {PC_MAX_CPUS_7_2}")
    config = SmpConfig(cpus=cpus, maxcpus=maxcpus, sockets=sockets, dies=dies, clusters=clusters,
                       modules=modules, cores=cores, threads=threads)
    return config, warnings


def apic_id_layout(smp: SmpConfig) -> ApicIdLayout:
    return ApicIdLayout(
        smt_width=bitwidth_for_count(smp.threads),
        core_width=bitwidth_for_count(smp.cores),
        module_width=bitwidth_for_count(smp.modules),
        die_width=bitwidth_for_count(smp.dies),
    )


def apic_id_from_index(smp: SmpConfig, index: int) -> int:
    """The APIC ID QEMU gives the CPU of slot ``index`` (``x86_apicid_from_cpu_idx``)."""
    if not 0 <= index < smp.maxcpus:
        raise ValueError(f"cpu index {index} outside 0..{smp.maxcpus - 1}")
    layout = apic_id_layout(smp)
    smt = index % smp.threads
    core = index // smp.threads % smp.cores
    module = index // (smp.threads * smp.cores) % smp.modules
    die = index // (smp.threads * smp.cores * smp.modules) % smp.dies
    pkg = index // (smp.threads * smp.cores * smp.modules * smp.dies)
    apic_id = (pkg << layout.pkg_offset) | (die << layout.die_offset) | (module << layout.module_offset) \
        | (core << layout.core_offset) | smt
    if apic_id > MAX_VCPU_ID:
        raise ScenarioError("-smp", f"cpu index {index} gets APIC ID {fmt_id(apic_id)}, above {fmt_id(MAX_VCPU_ID)}")
    return apic_id


def boot_apic_ids(smp: SmpConfig) -> list[int]:
    """The boot vCPUs' APIC IDs in creation order (cpu index 0 .. cpus-1)."""
    return [apic_id_from_index(smp, i) for i in range(smp.cpus)]


def slot_apic_ids(smp: SmpConfig) -> list[int]:
    """Every slot's APIC ID (the boot vCPUs, then the hot-pluggable slots in index order)."""
    return [apic_id_from_index(smp, i) for i in range(smp.maxcpus)]


def apic_id_limit(smp: SmpConfig) -> int:
    """QEMU's ``apic_id_limit``: one more than the APIC ID of the last slot."""
    return apic_id_from_index(smp, smp.maxcpus - 1) + 1


def qemu_enables_x2apic_api(id_limit: int, iommu_x2apic: bool) -> bool:
    """Whether QEMU (with KVM) enables both KVM_X2APIC_API flags (``kvm_enable_x2apic``)."""
    return id_limit > XAPIC_ID_LIMIT or iommu_x2apic


__all__ = [
    "ApicIdLayout", "SmpConfig", "apic_id_from_index", "apic_id_layout", "apic_id_limit", "bitwidth_for_count",
    "boot_apic_ids", "parse_smp", "qemu_enables_x2apic_api", "slot_apic_ids",
]
