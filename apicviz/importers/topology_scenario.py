"""A scenario from a VM's topology alone (``-smp``, a libvirt domain): IDs, mode, x2APIC API flags.

A topology says which vCPUs exist, in which order QEMU creates them and
their APIC IDs, but nothing about registers the guest writes later. The
scenario therefore shows the VM as a running guest OS would have it in the
chosen mode: every APIC software-enabled, xAPIC IDs at their reset value
(the APIC ID's low 8 bits), logical IDs 0 (xAPIC LDRs are the guest's
choice; x2APIC LDRs follow from the ID).

The default mode: x2APIC when some APIC ID is 255 or more (an xAPIC guest
cannot address such a vCPU, and Linux then switches to x2APIC), else xAPIC,
the state firmware leaves. ``--x2apic`` models a Linux guest that switched
anyway (it does on KVM whenever the CPU model has x2APIC).
"""
from __future__ import annotations

from ..model.numbers import fmt_id
from ..model.scenario import Scenario, Vcpu
from .common import ImportResult, check_vcpu_count, finish
from .qemu_topology import apic_id_limit, boot_apic_ids, parse_smp, qemu_enables_x2apic_api, slot_apic_ids

MODES = ("xapic", "x2apic")
XAPIC_BROADCAST_ID = 0xFF


def default_mode(apic_ids: list[int]) -> str:
    return "x2apic" if apic_ids and max(apic_ids) >= XAPIC_BROADCAST_ID else "xapic"


def topology_scenario(
    apic_ids: list[int],
    mode: str | None,
    x2apic_api: bool,
    command: str,
    source_name: str,
    explanation: list[str],
    warnings: list[str],
    title: str | None = None,
) -> ImportResult:
    """Build, check and annotate the scenario; ``explanation`` lines go into the notes."""
    check_vcpu_count(len(apic_ids), source_name)
    chosen = mode or default_mode(apic_ids)
    if chosen not in MODES:
        raise ValueError(f"mode {chosen!r}")
    warnings = list(warnings)
    if chosen == "xapic":
        wide = [i for i in apic_ids if i >= XAPIC_BROADCAST_ID]
        if wide:
            warnings.append(
                f"{len(wide)} vCPU{'s have' if len(wide) > 1 else ' has'} an APIC ID of 0xff or more "
                f"(first {fmt_id(wide[0])}) but the guest is in xAPIC mode: their 8-bit xAPIC IDs wrap "
                f"(0x100 -> 0x00) and alias other vCPUs; a real guest would use x2APIC (--x2apic)"
            )
    scenario = Scenario()
    scenario.kvm.use_32bit_ids = x2apic_api
    scenario.kvm.disable_broadcast_quirk = x2apic_api
    scenario.vcpus = [Vcpu(id=apic_id, apic=chosen) for apic_id in apic_ids]
    result = finish(scenario, warnings, command, source_name)
    how = "given" if mode else "default: " + (
        "x2APIC, since some APIC ID is 0xff or more" if chosen == "x2apic" else "xAPIC, as firmware leaves it")
    lines = [
        *explanation,
        f"Mode: every vCPU in {'x2APIC' if chosen == 'x2apic' else 'xAPIC'} mode ({how}).",
        "KVM_X2APIC_API: " + ("USE_32BIT_IDS and DISABLE_BROADCAST_QUIRK on (QEMU enables both together)."
                              if x2apic_api else "off (QEMU leaves it off for this VM)."),
        ("Registers a guest writes are not in a topology: APICs software-enabled, xAPIC IDs at reset "
        "(APIC ID & 0xff), logical IDs 0, DFR flat."),
    ]
    result.scenario.notes = "\n".join([result.scenario.notes.split("\n", 1)[0], *lines,
                                       *result.scenario.notes.split("\n")[1:]])
    if title:
        result.scenario.title = title
    return result


def import_qemu_smp(text: str, mode: str | None = None, iommu_x2apic: bool = False, all_slots: bool = False,
                    prefer_sockets: bool = False) -> ImportResult:
    """The vCPUs QEMU creates for ``-smp TEXT`` (with KVM), in creation order.

    ``all_slots`` adds the hot-pluggable ``maxcpus`` slots after the boot
    vCPUs, as if plugged in slot order; ``iommu_x2apic`` says an IOMMU with
    eim/xtsup on is present.
    """
    smp, warnings = parse_smp(text, prefer_sockets=prefer_sockets)
    ids = slot_apic_ids(smp) if all_slots else boot_apic_ids(smp)
    limit = apic_id_limit(smp)
    flags = qemu_enables_x2apic_api(limit, iommu_x2apic)
    why = []
    if limit > 0xFF:
        why.append(f"the largest possible APIC ID, {fmt_id(limit - 1)}, is 0xff or more")
    if iommu_x2apic:
        why.append("an IOMMU offers x2APIC interrupt remapping")
    explanation = [
        f"QEMU -smp {text.strip()} means -smp {smp.text()}: {smp.cpus} boot vCPUs"
        + (f" and {smp.maxcpus - smp.cpus} hot-pluggable slots" if smp.maxcpus > smp.cpus else "")
        + ("; all slots included, hot-plugged in slot order" if all_slots and smp.maxcpus > smp.cpus else "")
        + ", APIC IDs by QEMU's topology rule (each level gets ceil(log2 count) bits).",
    ]
    if why:
        explanation.append("QEMU enables the x2APIC API because " + " and ".join(why) + ".")
    return topology_scenario(ids, mode, flags, "qemu-smp", f"-smp {text.strip()[:60]}", explanation, warnings,
                             title=f"QEMU -smp {text.strip()[:60]} ({len(ids)} vCPUs)")


__all__ = ["MODES", "default_mode", "import_qemu_smp", "topology_scenario"]
