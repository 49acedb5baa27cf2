"""Attach to a running QEMU over QMP and read its vCPUs' local APICs into a scenario.

What QMP shows (checked against Debian's QEMU 7.2.22, TCG and KVM):

* ``query-cpus-fast`` lists vCPUs in creation order (``cpu-index`` is the
  slot, which after hot-plug is not that order);
* ``qom-get <qom-path> apic-id`` is the APIC ID, which QEMU gives
  ``KVM_CREATE_VCPU`` as the vCPU ID;
* ``human-monitor-command`` ``info lapic`` with ``cpu-index`` first syncs the
  vCPU's state from KVM (``info lapic N`` does not before QEMU 8.2), then
  prints SPIV, DFR bits 31:28 and LDR bits 31:24 (CRLF line ends), neither
  the ID nor the mode;
* after that sync ``qom-get <qom-path>/lapic id`` is the xAPIC ID register —
  in x2APIC mode it reads as the APIC ID instead;
* ``IA32_APIC_BASE``, and with it the mode, is only in the migration stream
  (:mod:`.migration_snapshot`).

Without the migration stream the mode is inferred per vCPU, and the
scenario says for which vCPUs and how (:mod:`.mode_inference`).
"""
from __future__ import annotations

import platform
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from ..importers.common import ImportResult, limit_warnings
from ..importers.qemu_info_lapic import LapicDump, dfr_register, parse_info_lapic
from ..importers.qemu_topology import SmpConfig, apic_id_limit, qemu_enables_x2apic_api
from ..model.errors import ScenarioError
from ..model.kernels import parse_kernel
from ..model.numbers import fmt_id
from ..model.scenario import MAX_VCPUS, Scenario, Vcpu, check_scenario, scenario_warnings
from .migration_stream import ApicSection
from .mode_inference import infer_modes, summarize_inference
from .qmp import DEFAULT_TIMEOUT, QmpClient, QmpError

SPIV_ENABLED = 1 << 8


@dataclass
class VcpuReading:
    """What QMP told us about one vCPU, in creation order."""

    cpu_index: int
    qom_path: str
    apic_id: int
    xapic_id_reg: int  # ``qom-get <path>/lapic id`` after the sync
    x2apic_cpuid: bool | None  # the CPU model offers x2APIC (None: QEMU did not say)
    dump: LapicDump


@dataclass
class VmFacts:
    """Everything read from the VM; enough to build the scenario and say where it came from."""

    address: str
    qemu_version: str
    when: datetime
    name: str | None
    status: str
    kvm: bool
    lapic_type: str
    smp: SmpConfig | None
    id_limit: int
    iommu: str | None
    x2apic_api: bool
    vcpus: list[VcpuReading] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def _smp_config(raw: object) -> SmpConfig | None:
    if not isinstance(raw, dict):
        return None
    try:
        counts = {k: int(raw.get(k, 1)) for k in ("sockets", "dies", "clusters", "modules", "cores", "threads")}
        return SmpConfig(cpus=int(raw["cpus"]), maxcpus=int(raw["maxcpus"]), **counts)
    except (KeyError, TypeError, ValueError):
        return None


def _iommu(qmp: QmpClient) -> tuple[str | None, bool]:
    """The first IOMMU device and whether it makes QEMU enable the x2APIC API."""
    for base in ("/machine/peripheral", "/machine/peripheral-anon"):
        try:
            children = qmp.command("qom-list", path=base)
        except QmpError:
            continue
        for child in children if isinstance(children, list) else []:
            kind = str(child.get("type", ""))
            path = f"{base}/{child.get('name')}"
            if kind == "child<intel-iommu>":
                eim = _get(qmp, path, "eim")
                buggy = _get(qmp, path, "x-buggy-eim") is True
                on = eim == "on" and not buggy
                return f"intel-iommu {path} (eim={eim}{', x-buggy-eim' if buggy else ''})", on
            if kind == "child<amd-iommu>":
                xtsup = _get(qmp, path, "xtsup")
                return f"amd-iommu {path} (xtsup={'on' if xtsup is True else 'off'})", xtsup is True
    return None, False


def _get(qmp: QmpClient, path: str, prop: str) -> object:
    try:
        return qmp.command("qom-get", path=path, property=prop)
    except QmpError:
        return None


def _read_vcpu(qmp: QmpClient, cpu: dict) -> VcpuReading:
    index, path = cpu.get("cpu-index"), cpu.get("qom-path")
    if not isinstance(index, int) or not isinstance(path, str):
        raise QmpError(qmp.path, f"query-cpus-fast gave a vCPU without cpu-index/qom-path: {str(cpu)[:80]}")
    apic_id = qmp.command("qom-get", path=path, property="apic-id")
    hmp: dict[str, Any] = {"command-line": "info lapic", "cpu-index": index}  # names with dashes
    text = qmp.command("human-monitor-command", **hmp)
    if not isinstance(text, str):
        raise QmpError(qmp.path, f"info lapic for CPU {index} returned no text")
    dumps, _ = parse_info_lapic(text, f"info lapic of CPU {index}")
    if len(dumps) != 1 or dumps[0].cpu_index != index:
        raise QmpError(qmp.path, f"info lapic with cpu-index {index} printed the dump of another CPU")
    xapic_id = qmp.command("qom-get", path=f"{path}/lapic", property="id")  # current now: the dump synced it
    cpuid = _get(qmp, path, "x2apic")
    if not isinstance(apic_id, int) or not isinstance(xapic_id, int):
        raise QmpError(qmp.path, f"CPU {index}: apic-id/lapic id are not numbers")
    return VcpuReading(index, path, apic_id, xapic_id, cpuid if isinstance(cpuid, bool) else None, dumps[0])


def read_vm(qmp: QmpClient) -> VmFacts:
    """Read the VM over an open QMP session (no side effects beyond syncing vCPU state)."""
    arch = (qmp.command("query-target") or {}).get("arch")
    if arch not in ("x86_64", "i386"):
        raise QmpError(qmp.path, f"this QEMU emulates {arch!r}; apicviz models x86 local APICs only")
    status = qmp.command("query-status") or {}
    kvm = bool((qmp.command("query-kvm") or {}).get("enabled"))
    name = (_safe(qmp, "query-name") or {}).get("name")
    cpus = qmp.command("query-cpus-fast")
    if not isinstance(cpus, list) or not cpus:
        raise QmpError(qmp.path, "query-cpus-fast lists no vCPU")
    if len(cpus) > MAX_VCPUS:
        raise QmpError(qmp.path, f"{len(cpus)} vCPUs; at most {MAX_VCPUS} (KVM_MAX_VCPUS)")
    lapic_type = str(_get(qmp, f"{cpus[0].get('qom-path')}/lapic", "type") or "none")
    vcpus = [_read_vcpu(qmp, cpu) for cpu in cpus]
    smp = _smp_config(_get(qmp, "/machine", "smp"))
    notes = []
    top = max(v.apic_id for v in vcpus)
    if smp is not None:
        try:
            limit = apic_id_limit(smp)
        except (ScenarioError, ValueError):
            limit, smp = top + 1, None
    else:
        limit = top + 1
        notes.append("QEMU did not report its -smp topology; the APIC ID limit is taken from the present vCPUs")
    limit = max(limit, top + 1)
    iommu, iommu_x2apic = _iommu(qmp)
    in_kernel = kvm and lapic_type == "kvm-apic"
    return VmFacts(
        address=qmp.address, qemu_version=qmp.version(), when=datetime.now(UTC), name=name,
        status=str(status.get("status", "unknown")), kvm=kvm, lapic_type=lapic_type, smp=smp, id_limit=limit,
        iommu=iommu, x2apic_api=in_kernel and qemu_enables_x2apic_api(limit, iommu_x2apic), vcpus=vcpus, notes=notes,
    )


def _safe(qmp: QmpClient, command: str) -> dict:
    try:
        value = qmp.command(command)
    except QmpError:
        return {}
    return value if isinstance(value, dict) else {}


def host_kernel() -> str:
    """The running kernel as a model kernel ("6.18"); "upstream" when it cannot be read."""
    release = platform.release()
    try:
        return parse_kernel(".".join(release.split(".")[:2]).split("-")[0])
    except ScenarioError:
        return "upstream"


def _vcpu(reading: VcpuReading, mode: str, snapshot: ApicSection | None) -> Vcpu:
    dump = reading.dump
    spiv = snapshot.spurious_vec if snapshot else dump.spiv or 0
    dfr_model = snapshot.dest_mode if snapshot else dump.dfr or 0
    ldr = snapshot.log_dest if snapshot else dump.ldr or 0
    xapic_id = snapshot.id if snapshot else reading.xapic_id_reg & 0xFF
    vcpu = Vcpu(id=reading.apic_id, apic=mode, sw_enabled=bool(spiv & SPIV_ENABLED), dfr=dfr_register(dfr_model & 0xF))
    if mode != "x2apic":
        vcpu.xapic_id = xapic_id & 0xFF
        vcpu.logical_id = ldr & 0xFF
    return vcpu


def build_scenario(facts: VmFacts, snapshots: dict[int, ApicSection] | None, kernel: str | None,
                   extra_warnings: list[str] | None = None) -> ImportResult:
    """The scenario for ``facts``; ``snapshots`` (APIC ID -> migration-stream section) give the modes."""
    warnings = list(extra_warnings or [])
    if snapshots is None:
        inference = infer_modes(facts.vcpus)
        modes = [i.mode for i in inference]
        mode_lines, mode_warnings = summarize_inference(facts.vcpus, inference)
        warnings += mode_warnings
    else:
        modes = [snapshots[v.apic_id].mode for v in facts.vcpus]
        mode_lines = [("Modes: from IA32_APIC_BASE in the migration stream (every vCPU); xAPIC ID, LDR, DFR and "
                      "SPIV from the same snapshot.")]
        for v in facts.vcpus:
            s = snapshots[v.apic_id]
            before = (v.dump.spiv, v.dump.ldr, v.dump.dfr) + ((v.xapic_id_reg,) if s.mode == "xapic" else ())
            after = (s.spurious_vec, s.log_dest, s.dest_mode) + ((s.id,) if s.mode == "xapic" else ())
            if before != after:
                warnings.append(f"vCPU {fmt_id(v.apic_id)}: its registers changed between the QMP reading and the "
                                f"migration snapshot (the guest is running); the snapshot's values are used")
    scenario = Scenario()
    scenario.vcpus = [_vcpu(v, m, snapshots.get(v.apic_id) if snapshots else None)
                      for v, m in zip(facts.vcpus, modes, strict=True)]
    scenario.kvm.use_32bit_ids = scenario.kvm.disable_broadcast_quirk = facts.x2apic_api
    scenario.kvm.kernel = kernel or (host_kernel() if facts.kvm else "upstream")
    check_scenario(scenario)
    if not facts.kvm:
        warnings.append("this VM runs without KVM (TCG): QEMU emulates the local APICs itself; the map shown is "
                        "what KVM would build for the same vCPUs")
    elif facts.lapic_type != "kvm-apic":
        warnings.append(f"the local APICs are QEMU's own ({facts.lapic_type}, kernel-irqchip=off): KVM's map is "
                        f"not used by this VM; the map shown is what KVM would build")
    warnings += scenario_warnings(scenario)
    count = len(scenario.vcpus)
    label = f"'{facts.name}'" if facts.name else "VM"
    scenario.title = f"QEMU {label} attached ({count} vCPU{'' if count == 1 else 's'})"
    scenario.notes = "\n".join(_provenance(facts, scenario.kvm.kernel, kernel is None) + mode_lines
                               + (["Warnings:"] + [f"- {w}" for w in limit_warnings(warnings)] if warnings else []))
    return ImportResult(scenario=scenario, warnings=warnings)


def _provenance(facts: VmFacts, kernel: str, kernel_guessed: bool) -> list[str]:
    when = facts.when.strftime("%Y-%m-%d %H:%M:%S UTC")
    accel = "KVM" if facts.kvm else "TCG (no KVM)"
    topo = f"-smp {facts.smp.text()}" if facts.smp else "topology not reported"
    flags = "on (USE_32BIT_IDS and DISABLE_BROADCAST_QUIRK)" if facts.x2apic_api else "off"
    why = []
    if facts.id_limit > 0xFF:
        why.append(f"largest possible APIC ID {fmt_id(facts.id_limit - 1)}")
    if facts.iommu:
        why.append(facts.iommu)
    lines = [
        f"Attached with `apicviz attach` to QEMU {facts.qemu_version} at {facts.address} on {when}.",
        (f"VM {facts.name or '(no -name)'}: status {facts.status}, accelerator {accel}, local APICs "
        f"{facts.lapic_type}; {topo}; {len(facts.vcpus)} vCPUs in creation order (query-cpus-fast)."),
        f"KVM_X2APIC_API as QEMU set it: {flags}" + (f" ({'; '.join(why)})" if why else "") + ".",
        f"Kernel modelled: {kernel}" + (" (this host's, where the VM runs)" if kernel_guessed and facts.kvm else "")
        + ".",
        "Registers: info lapic per cpu-index (synced from KVM first), xAPIC ID from qom-get <cpu>/lapic id.",
    ]
    return lines + facts.notes


def attach(address: str, timeout: float = DEFAULT_TIMEOUT, mode_from_migration: bool = False,
           kernel: str | None = None, migration_timeout: float = 300.0) -> ImportResult:
    """Connect, read, optionally take the migration snapshot (always resuming the VM), build the scenario."""
    from .migration_snapshot import apic_snapshot

    with QmpClient(address, timeout=timeout) as qmp:
        facts = read_vm(qmp)
        snapshots = None
        extra: list[str] = []
        if mode_from_migration:
            sections, extra = apic_snapshot(qmp, migration_timeout)
            snapshots = match_sections(facts, sections, extra)
    return build_scenario(facts, snapshots, kernel, extra)


def match_sections(facts: VmFacts, sections: list[ApicSection], warnings: list[str]) -> dict[int, ApicSection]:
    """Migration sections by APIC ID (their instance id); by order when QEMU numbered them 0, 1, 2 instead."""
    by_id = {s.instance_id: s for s in sections}
    ids = [v.apic_id for v in facts.vcpus]
    if all(i in by_id for i in ids) and len(by_id) == len(sections):
        return {i: by_id[i] for i in ids}
    if len(sections) == len(ids):
        warnings.append("the migration stream numbers its apic sections 0, 1, 2, … (legacy instance ids); they are "
                        "matched to the vCPUs in creation order")
        return dict(zip(ids, sections, strict=True))
    raise ScenarioError(facts.address, f"the migration stream has {len(sections)} apic sections for "
                                       f"{len(ids)} vCPUs; cannot tell which is which")


__all__ = ["VcpuReading", "VmFacts", "attach", "build_scenario", "host_kernel", "match_sections", "read_vm"]
