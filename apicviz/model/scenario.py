"""The scenario: the VM a user builds (FORMAT.md, "Scenario").

Plain dataclasses, fully validated: once a :class:`Scenario` exists, the
model can route on it without re-checking anything. The same checks run on
file load and on every GUI edit (:func:`check_scenario`).
"""
from __future__ import annotations

import copy
from dataclasses import dataclass, field, replace

from .errors import ScenarioError
from .kernels import kernel_at_least
from .numbers import U8_MAX, U32_MAX, fmt_id

MAX_VCPUS = 4096  # x86 KVM_MAX_VCPUS
MAX_VCPU_ID = 0xFFFFFFFE
KVM_MAX_VCPU_IDS = 16384  # the largest value KVM ever accepted
ARB_PRIO_MAX = 0x7FFFFFFF  # KVM keeps it in an int
#: Interrupts per scenario (FORMAT.md limits): keeps the largest valid scenario's `eval --json` within
#: seconds and a few hundred MB even when each one reaches all 4096 vCPUs.
MAX_INTERRUPTS = 1024

APIC_MODES = ("xapic", "x2apic", "disabled")
DEST_MODES = ("physical", "logical")
SHORTHANDS = ("none", "self", "all", "all-but-self")
DELIVERIES = ("fixed", "lowest", "smi", "nmi", "init", "sipi")
#: How a vCPU sends a message: its ICR, or the KVM_HC_SEND_IPI hypercall (KVM-BEHAVIOUR.md 9.2).
VIA_ICR, VIA_PV_IPI = "icr", "pv_ipi"
VIAS = (VIA_ICR, VIA_PV_IPI)
#: The delivery modes a Linux guest's PV IPI carries (APIC_DM_FIXED, or APIC_DM_NMI for NMI_VECTOR).
PV_IPI_DELIVERIES = ("fixed", "nmi")

DFR_FLAT = 0xFFFFFFFF
DFR_CLUSTER = 0x0FFFFFFF
APIC_BROADCAST = 0xFF
X2APIC_BROADCAST = 0xFFFFFFFF
#: CONFIG_KVM_SMM became optional in 6.2; older kernels always handle SMIs.
SMM_OPTIONAL_SINCE = (6, 2)


@dataclass
class KvmConfig:
    """What userspace and the host chose: kernel, KVM_CAP_X2APIC_API flags, module params."""

    kernel: str = "upstream"
    use_32bit_ids: bool = False
    disable_broadcast_quirk: bool = False
    vector_hashing: bool = True
    map_alloc_fails: bool = False
    #: KVM built with CONFIG_KVM_SMM: without it no APIC accepts an SMI.
    smm: bool = True


@dataclass
class Vcpu:
    """One vCPU's local APIC registers that matter for routing."""

    id: int
    apic: str = "xapic"
    sw_enabled: bool = True
    xapic_id: int = -1  # -1: the KVM reset value, id & 0xff (fixed up in __post_init__)
    logical_id: int = 0
    dfr: int = DFR_FLAT
    arb_prio: int = 0

    def __post_init__(self) -> None:
        if self.xapic_id < 0:
            self.xapic_id = self.id & 0xFF

    @property
    def present(self) -> bool:
        """Hardware-enabled: in the map loops at all (kvm_apic_present)."""
        return self.apic != "disabled"

    @property
    def x2apic_mode(self) -> bool:
        return self.apic == "x2apic"

    @property
    def x2apic_ldr(self) -> int:
        """The read-only x2APIC LDR KVM derives from the x2APIC ID (wraps past 2^20)."""
        return (((self.id >> 4) << 16) | (1 << (self.id & 0xF))) & U32_MAX

    @property
    def ldr(self) -> int:
        """Logical ID as the map code sees it: 32-bit LDR in x2APIC mode, 8 bits in xAPIC."""
        return self.x2apic_ldr if self.x2apic_mode else self.logical_id

    @property
    def physical_id(self) -> int:
        """The APIC ID this vCPU answers to in its current mode."""
        return self.id if self.x2apic_mode else self.xapic_id

    @property
    def dfr_model(self) -> str:
        """"flat", "cluster", or "neither" (a raw value the slow path never matches)."""
        if self.dfr == DFR_FLAT:
            return "flat"
        if self.dfr == DFR_CLUSTER:
            return "cluster"
        return "neither"

    def label(self) -> str:
        return f"vCPU {fmt_id(self.id)}"


@dataclass
class Interrupt:
    """One message: an IPI from ``source`` or an MSI / I/O APIC message (source None)."""

    name: str = ""
    source: int | None = None
    dest_mode: str = "physical"
    dest: int | None = 0
    shorthand: str = "none"
    delivery: str = "fixed"
    vector: int = 0
    via: str = VIA_ICR

    @property
    def logical(self) -> bool:
        return self.dest_mode == "logical"

    @property
    def pv_ipi(self) -> bool:
        """Sent with the KVM_HC_SEND_IPI hypercall rather than an ICR write."""
        return self.via == VIA_PV_IPI

    def describe(self) -> str:
        """Short label: 'IPI from 0x1 to logical 0x3 (fixed, vector 48)'."""
        if self.pv_ipi:
            return (f"PV IPI from {fmt_id(self.source or 0)} to APIC ID {fmt_id(self.dest or 0)} "
                    f"({self.delivery}, vector {self.vector})")
        who = "MSI" if self.source is None else f"IPI from {fmt_id(self.source)}"
        if self.shorthand != "none":
            where = {"self": "self", "all": "all", "all-but-self": "all but self"}[self.shorthand]
        else:
            where = f"{self.dest_mode} {fmt_id(self.dest or 0)}"
        return f"{who} to {where} ({self.delivery}, vector {self.vector})"


@dataclass
class Scenario:
    """A VM's vCPUs in creation order, the KVM configuration and the messages to route."""

    title: str = ""
    notes: str = ""
    kvm: KvmConfig = field(default_factory=KvmConfig)
    vcpus: list[Vcpu] = field(default_factory=list)
    interrupts: list[Interrupt] = field(default_factory=list)

    def vcpu_by_id(self) -> dict[int, Vcpu]:
        return {v.id: v for v in self.vcpus}

    def copy(self) -> Scenario:
        """A deep copy cheap enough to take on every edit (undo snapshots, worker threads)."""
        # copy.copy skips __init__/__post_init__: ten times faster than dataclasses.replace at 4096 vCPUs.
        return Scenario(
            title=self.title,
            notes=self.notes,
            kvm=replace(self.kvm),
            vcpus=[copy.copy(v) for v in self.vcpus],
            interrupts=[copy.copy(i) for i in self.interrupts],
        )


def check_interrupt(irq: Interrupt, index: int, vcpus: dict[int, Vcpu], kvm: KvmConfig | None = None) -> None:
    """Cross-field rules of one interrupt (FORMAT.md, "interrupts"; KVM-BEHAVIOUR.md 9.1)."""
    where = f"interrupts[{index}]"
    if irq.pv_ipi and irq.source is None:
        raise ScenarioError(f"{where}.via", '"pv_ipi" needs a source vCPU: the KVM_HC_SEND_IPI hypercall is made '
                                            'by a guest vCPU (an MSI has none)')
    if irq.shorthand != "none" and irq.source is None:
        raise ScenarioError(f"{where}.shorthand", f'"{irq.shorthand}" needs a source vCPU (an MSI has no "self")')
    sender = None
    if irq.source is not None:
        sender = vcpus.get(irq.source)
        if sender is None:
            raise ScenarioError(f"{where}.source", f"no vCPU has id {fmt_id(irq.source)}")
        if not sender.present:
            raise ScenarioError(
                f"{where}.source", f"vCPU {fmt_id(irq.source)} is hardware-disabled and sends nothing"
            )
    if irq.pv_ipi:
        _check_pv_ipi(irq, where)
        return
    if irq.shorthand == "none":
        if irq.dest is None:
            raise ScenarioError(f"{where}.dest", 'required when shorthand is "none"')
        if sender is not None and not sender.x2apic_mode and irq.dest > U8_MAX:
            raise ScenarioError(
                f"{where}.dest",
                f"{fmt_id(irq.dest)} is out of range for an xAPIC-mode sender (8-bit ICR destination); "
                f"allowed 0..0xff",
            )
        if irq.source is None and irq.dest > U8_MAX and not (kvm is not None and kvm.use_32bit_ids):
            raise ScenarioError(
                f"{where}.dest",
                f"{fmt_id(irq.dest)} is out of range for an MSI without 32-bit IDs (an MSI carries destination "
                f"bits 31:8 only with KVM_X2APIC_API_USE_32BIT_IDS, kvm.x2apic_api.use_32bit_ids); allowed 0..0xff",
            )


def _check_pv_ipi(irq: Interrupt, where: str) -> None:
    """What a PV IPI can carry (FORMAT.md "via", KVM-BEHAVIOUR.md 9.2): one physical APIC ID, fixed or NMI.

    ``dest`` may be any 32-bit APIC ID whatever the sender's mode: the guest
    passes a bitmap and its lowest APIC ID, not an ICR destination field.
    """
    why = "with via \"pv_ipi\""
    if irq.shorthand != "none":
        raise ScenarioError(f"{where}.shorthand", f'"{irq.shorthand}" is not possible {why}: the hypercall names '
                                                  f'APIC IDs in a bitmap (a shorthand bit makes it fail with '
                                                  f'-KVM_EINVAL); use "none"')
    if irq.dest_mode != "physical":
        raise ScenarioError(f"{where}.dest_mode", f'"{irq.dest_mode}" is not possible {why}: the bitmap holds '
                                                  f'physical APIC IDs (a destination-mode bit makes it fail with '
                                                  f'-KVM_EINVAL); use "physical"')
    if irq.delivery not in PV_IPI_DELIVERIES:
        raise ScenarioError(f"{where}.delivery", f'"{irq.delivery}" is not possible {why}: a Linux guest sends '
                                                 f'fixed IPIs and NMIs this way; use one of '
                                                 f'{", ".join(PV_IPI_DELIVERIES)}')
    if irq.dest is None:
        raise ScenarioError(f"{where}.dest", f"required {why}: the APIC ID whose bit the guest sets")


def check_kvm(kvm: KvmConfig) -> None:
    """Rules between KVM settings: SMM can only be missing from 6.2 on."""
    if not kvm.smm and not kernel_at_least(kvm.kernel, SMM_OPTIONAL_SINCE):
        raise ScenarioError(
            "kvm.smm",
            f"false needs a kernel of 6.2 or later: CONFIG_KVM_SMM became optional in 6.2, "
            f"kernel {kvm.kernel} always has SMM support",
        )


def check_scenario(scenario: Scenario) -> None:
    """Rules that span several fields: unique IDs, counts, interrupt sources, KVM settings."""
    check_kvm(scenario.kvm)
    if len(scenario.vcpus) > MAX_VCPUS:
        raise ScenarioError("vcpus", f"{len(scenario.vcpus)} vCPUs; at most {MAX_VCPUS} (KVM_MAX_VCPUS)")
    if len(scenario.interrupts) > MAX_INTERRUPTS:
        raise ScenarioError("interrupts", f"{len(scenario.interrupts)} interrupts; at most {MAX_INTERRUPTS} "
                                          f"per scenario (the interrupt limit)")
    seen: dict[int, int] = {}
    for index, vcpu in enumerate(scenario.vcpus):
        if vcpu.id in seen:
            raise ScenarioError(
                f"vcpus[{index}].id",
                f"{fmt_id(vcpu.id)} is already used by vcpus[{seen[vcpu.id]}]; vCPU IDs are unique",
            )
        seen[vcpu.id] = index
    by_id = scenario.vcpu_by_id()
    for index, irq in enumerate(scenario.interrupts):
        check_interrupt(irq, index, by_id, scenario.kvm)


def scenario_warnings(scenario: Scenario) -> list[str]:
    """Things KVM itself would refuse, but that a what-if scenario may still ask."""
    out = []
    for index, vcpu in enumerate(scenario.vcpus):
        if vcpu.id >= KVM_MAX_VCPU_IDS:
            out.append(
                f"vcpus[{index}].id: {fmt_id(vcpu.id)} is at or above KVM_MAX_VCPU_IDS "
                f"({KVM_MAX_VCPU_IDS}); KVM would refuse to create this vCPU"
            )
    if len(out) > 20:
        out = [*out[:20], f"... and {len(out) - 20} more vCPU IDs above KVM_MAX_VCPU_IDS"]
    return out
