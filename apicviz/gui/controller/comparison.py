"""Kernel B of the Compare dock, and what one edit produces: evaluation A and, when compared, B.

The controller evaluates B itself, once per edit and only while someone
looks at it (the Compare tab is shown, or its marks are on the map and the
interrupts table); the Compare dock only chooses B and displays the result.
"""
from __future__ import annotations

from dataclasses import dataclass, replace

from ...model import Evaluation, KvmConfig, Scenario, behaviour_for, evaluate
from ...model.compare import Comparison, compare_evaluations
from ...model.kernels import kernel_at_least
from ...model.scenario import SMM_OPTIONAL_SINCE


@dataclass(frozen=True)
class CompareSettings:
    """What kernel B changes against the scenario's own KVM settings (the rest follows A)."""

    kernel: str
    use_32bit_ids: bool
    disable_broadcast_quirk: bool

    @classmethod
    def default_for(cls, kvm: KvmConfig) -> CompareSettings:
        """The other side of the 6.3 aliasing change, the comparison users ask about most."""
        other = "6.1" if behaviour_for(kvm.kernel).honors_aliasing else "upstream"
        return cls(other, kvm.use_32bit_ids, kvm.disable_broadcast_quirk)

    def kvm_b(self, kvm_a: KvmConfig) -> KvmConfig:
        kvm = replace(kvm_a, kernel=self.kernel, use_32bit_ids=self.use_32bit_ids,
                      disable_broadcast_quirk=self.disable_broadcast_quirk)
        if not kernel_at_least(self.kernel, SMM_OPTIONAL_SINCE):
            kvm.smm = True  # kernels before 6.2 always have SMM, whatever A's build says
        return kvm


def compare_with(ev_a: Evaluation, settings: CompareSettings) -> Comparison:
    """Evaluate A's scenario under kernel B (sharing A's rows, which are never mutated) and diff."""
    sa = ev_a.scenario
    sb = Scenario(title=sa.title, notes=sa.notes, kvm=settings.kvm_b(sa.kvm), vcpus=sa.vcpus,
                  interrupts=sa.interrupts)
    return compare_evaluations(ev_a, evaluate(sb, same_vcpus_as=ev_a))


@dataclass(frozen=True)
class Results:
    """What ``result_changed`` carries: the evaluation, and the comparison while one is kept."""

    evaluation: Evaluation
    #: Evaluation A against kernel B, or None while nobody compares.
    comparison: Comparison | None = None
    #: Differences are marked on the map and in the interrupts table.
    marking: bool = False

    @property
    def marks(self) -> Comparison | None:
        """The comparison the map and the interrupts table mark, or None."""
        return self.comparison if self.marking else None
