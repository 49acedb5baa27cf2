"""Evaluation of a scenario: the map, aliases, and every interrupt's route.

This is the function the rest of the program calls: a scenario goes in, an
:class:`Evaluation` comes out (FORMAT.md, "Evaluation").
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .apic_map import MapResult, recalculate
from .pv_ipi import classify_pv_ipi, route_interrupt
from .routing import Route, Router
from .scenario import Scenario, scenario_warnings
from .severity import AGREED, Verdict, classify, worst

if TYPE_CHECKING:
    from .vcpu_status import VcpuStatus

EVAL_FORMAT = "apicviz-evaluation"


def physical_aliases(scenario: Scenario) -> dict[int, list[int]]:
    """Effective physical IDs held by more than one present vCPU -> vCPU indexes."""
    return {pid: idxs for pid, idxs in physical_groups(scenario).items() if len(idxs) > 1}


def physical_groups(scenario: Scenario) -> dict[int, list[int]]:
    """Effective physical ID (xAPIC ID in xAPIC mode, x2APIC ID in x2APIC mode) -> present vCPU indexes."""
    seen: dict[int, list[int]] = {}
    for idx, v in enumerate(scenario.vcpus):
        apic = v.apic  # Vcpu.present and Vcpu.physical_id, inlined for big VMs
        if apic == "disabled":
            continue
        pid = v.id if apic == "x2apic" else v.xapic_id
        same = seen.get(pid)
        if same is None:
            seen[pid] = [idx]
        else:
            same.append(idx)
    return seen


def logical_aliases(scenario: Scenario) -> dict[int, list[int]]:
    """xAPIC logical destinations (one bit) that select more than one present vCPU.

    Key: the single-bit logical ID (flat: ``1 << b``; cluster: ``c << 4 | 1 << b``).
    """
    seen: dict[int, list[int]] = {}
    for idx, v in enumerate(scenario.vcpus):
        if not v.logical_id or v.apic != "xapic":  # present and in xAPIC mode (properties inlined: big VMs)
            continue
        model = v.dfr_model
        if model == "flat":
            keys = [1 << b for b in range(8) if v.logical_id >> b & 1]
        elif model == "cluster":
            keys = [(v.logical_id & 0xF0) | (1 << b) for b in range(4) if v.logical_id >> b & 1]
        else:
            continue
        for key in keys:
            seen.setdefault(key, []).append(idx)
    return {key: idxs for key, idxs in sorted(seen.items()) if len(idxs) > 1}


@dataclass
class Evaluation:
    """Everything the views and the CLI show for one scenario."""

    scenario: Scenario
    result: MapResult
    router: Router
    routes: list[Route]
    warnings: list[str] = field(default_factory=list)
    aliases_physical: dict[int, list[int]] = field(default_factory=dict)
    aliases_logical: dict[int, list[int]] = field(default_factory=dict)

    def ids(self, idxs: list[int]) -> list[int]:
        vcpus = self.scenario.vcpus
        return [vcpus[i].id for i in idxs]

    @property
    def dropped_count(self) -> int:
        return sum(len(r.dropped) for r in self.routes)

    @property
    def vcpu_status(self) -> VcpuStatus:
        """Status codes of every vCPU (:mod:`.vcpu_status`), built on first use and kept."""
        found = self.__dict__.get("_vcpu_status")
        if found is None:
            from .vcpu_status import VcpuStatus  # it reads this Evaluation: imported here, not at the top

            found = self.__dict__["_vcpu_status"] = VcpuStatus(self)
        return found

    @property
    def physical_groups(self) -> dict[int, list[int]]:
        """Every effective physical ID -> the present vCPUs answering to it (built on first use)."""
        found = self.__dict__.get("_physical_groups")
        if found is None:
            found = self.__dict__["_physical_groups"] = physical_groups(self.scenario)
        return found

    @property
    def slot_losers(self) -> dict[int, list[int]]:
        """phys_map slot -> present vCPUs that want it but are not in it, in creation order.

        They lost it in the recalculation (``phys_losers``) or answer to the same
        APIC ID as its holder (an alias). Without a map the first vCPU of each
        APIC ID stands for it and the others are listed.
        """
        found = self.__dict__.get("_slot_losers")
        if found is None:
            amap = self.result.map
            wanted: dict[int, set[int]] = {}
            for slot, idxs in self.result.phys_losers.items():
                wanted.setdefault(slot, set()).update(idxs)
            for slot, idxs in self.aliases_physical.items():
                wanted.setdefault(slot, set()).update(idxs)
            found = {}
            for slot, members in wanted.items():
                holder = amap.phys_map.get(slot) if amap is not None else min(members)
                rest = sorted(i for i in members if i != holder)
                if rest:
                    found[slot] = rest
            self.__dict__["_slot_losers"] = found
        return found

    def verdict(self, n: int) -> Verdict:
        """Severity class and findings of interrupt ``n``."""
        return self.routes[n].verdict or AGREED

    @property
    def severity(self) -> str:
        """The worst class among the interrupts (``agree`` when none disagrees)."""
        return worst([self.verdict(n).severity for n in range(len(self.routes))])

    def to_json(self) -> dict[str, Any]:
        res = self.result
        vcpus = self.scenario.vcpus
        m: dict[str, Any] = {"status": res.status, "reason": res.reason, "reason_code": res.reason_code}
        amap = res.map
        if amap is not None:
            m["max_apic_id"] = amap.max_apic_id
            m["phys_map"] = {str(k): vcpus[v].id for k, v in sorted(amap.phys_map.items())}
            m["logical_mode"] = amap.logical_mode
            m["xapic_flat_map"] = {str(b): vcpus[v].id for b, v in amap.flat_map().items()}
            m["xapic_cluster_map"] = {
                str(c): {str(b): vcpus[v].id for b, v in row.items()} for c, row in amap.cluster_map().items()
            }
        vcpu_ids = [v.id for v in vcpus]

        def ids(idxs: list[int]) -> list[int]:  # map() with a list lookup: 16M IDs for the largest scenario
            return list(map(vcpu_ids.__getitem__, idxs))

        return {
            "format": EVAL_FORMAT,
            "version": 1,
            "kernel": {"requested": self.scenario.kvm.kernel, "behaviour": res.behaviour.name},
            "warnings": list(self.warnings),
            "map": m,
            "apicv_inhibits": sorted(res.apicv_inhibits),
            "aliases": {
                "physical": {str(k): ids(v) for k, v in sorted(self.aliases_physical.items())},
                "logical": {str(k): ids(v) for k, v in self.aliases_logical.items()},
            },
            "vcpu_status": self.vcpu_status.to_json(),
            "interrupts": [
                {
                    "path": r.path,
                    "targets": ids(r.targets),
                    "accepted": ids(r.accepted),
                    "slow_path_targets": ids(r.slow_path_targets),
                    "hardware_targets": ids(r.hardware_targets),
                    "dropped": ids(r.dropped),
                    "extra": ids(r.extra),
                    **({"pv_ipi_result": r.pv_ipi_result} if r.pv_ipi_result is not None else {}),
                    **(r.verdict or AGREED).to_json(vcpu_ids),
                }
                for r in self.routes
            ],
        }


def evaluate(scenario: Scenario, same_vcpus_as: Evaluation | None = None) -> Evaluation:
    """Recalculate the map and route every interrupt of ``scenario``.

    ``same_vcpus_as``: an evaluation of the very same vCPU list under another
    kernel (a comparison); what depends on the vCPUs alone (the router's
    lookup tables, the aliases) is shared instead of computed again.
    """
    shared = same_vcpus_as if same_vcpus_as is not None and same_vcpus_as.scenario.vcpus is scenario.vcpus else None
    result = recalculate(scenario)
    router = Router(scenario, result, shared.router if shared is not None else None)
    routes = [route_interrupt(router, irq) for irq in scenario.interrupts]
    for irq, route in zip(scenario.interrupts, routes, strict=True):
        if irq.pv_ipi:
            route.verdict = classify_pv_ipi(router, route, irq)
        else:
            route.verdict = classify(route, irq, scenario.vcpus, scenario.kvm)
    if shared is not None:
        return Evaluation(scenario=scenario, result=result, router=router, routes=routes,
                          warnings=scenario_warnings(scenario), aliases_physical=shared.aliases_physical,
                          aliases_logical=shared.aliases_logical)
    return Evaluation(
        scenario=scenario,
        result=result,
        router=router,
        routes=routes,
        warnings=scenario_warnings(scenario),
        aliases_physical=physical_aliases(scenario),
        aliases_logical=logical_aliases(scenario),
    )
