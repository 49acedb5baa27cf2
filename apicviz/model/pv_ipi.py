"""PV IPIs: the ``KVM_HC_SEND_IPI`` hypercall Linux guests send most IPIs with (KVM-BEHAVIOUR.md 9.2).

The guest passes a bitmap of APIC IDs and the lowest of them; KVM
(``kvm_pv_send_ipi``) serves it from the optimized map alone. With the map
NULL the hypercall fails with -EOPNOTSUPP and, unlike an ICR write, nothing
falls back to the slow path: a Linux guest warns once and the IPI is lost.
An APIC ID above ``max_apic_id`` and an empty ``phys_map`` slot are skipped
without an error. Each interrupt of the scenario is one APIC ID (one set
bit), so the outcome is one ``phys_map`` lookup.

The architectural reference is a physical IPI from the same sender to that
APIC ID; for the severity class, KVM's own answer to such an ICR IPI (its
slow path) plays the part the slow path plays for ordinary messages.
"""
from __future__ import annotations

from functools import lru_cache

from .apic_map import MapResult
from .kernels import kernel_at_least
from .routing import Route, Router
from .scenario import Interrupt
from .severity import FAST_PATH_DIFFERS, PV_IPI_NO_MAP, PV_IPI_UNSUPPORTED, Verdict, classify_answers

#: KVM_HC_SEND_IPI and KVM_FEATURE_PV_SEND_IPI were added in Linux 4.19.
PV_IPI_SINCE = (4, 19)
PATH_PV_IPI = "pv_ipi"

# pv_ipi_result codes (FORMAT.md, evaluation).
DELIVERED = "delivered"  # KVM looked the APIC ID up (its slot may be empty: no error either way)
NO_MAP = "no_map"  # the map is NULL: -EOPNOTSUPP, the guest loses the IPI
ABOVE_MAX_APIC_ID = "above_max_apic_id"  # min > max_apic_id: returns 0, nothing delivered
UNSUPPORTED = "unsupported"  # a kernel before 4.19 has no such hypercall
PV_IPI_RESULTS = (DELIVERED, NO_MAP, ABOVE_MAX_APIC_ID, UNSUPPORTED)


@lru_cache(maxsize=64)
def pv_ipi_supported(kernel: str) -> bool:
    """Cached: the sweep asks once per destination, and a kernel string is parsed each time otherwise."""
    return kernel_at_least(kernel, PV_IPI_SINCE)


def pv_lookup(router: Router, dest: int) -> tuple[str, list[int]]:
    """``kvm_pv_send_ipi`` for the one APIC ID ``dest``: (pv_ipi_result, target vCPU indexes)."""
    if not pv_ipi_supported(router.kvm.kernel):
        return UNSUPPORTED, []
    amap = router.map
    if amap is None:
        return NO_MAP, []
    if dest > amap.max_apic_id:
        return ABOVE_MAX_APIC_ID, []
    holder = amap.phys_map.get(dest)
    return DELIVERED, ([] if holder is None else [holder])


def as_icr(irq: Interrupt) -> Interrupt:
    """The physical ICR IPI to the same APIC ID: the hardware reference (and KVM's slow path for it)."""
    return Interrupt(dest_mode="physical", delivery=irq.delivery, vector=irq.vector)


def route_pv_ipi(router: Router, irq: Interrupt, dest: int, source: int,
                 known: tuple[tuple[str, list[int]], list[int]] | None = None) -> Route:
    """The evaluation of one PV IPI: path "pv_ipi", its result code, and no slow path.

    ``known``: (:func:`pv_lookup`'s answer, the hardware targets), when the sweep has them already.
    """
    if known is None:
        (result, targets), hardware = pv_lookup(router, dest), router.matches(as_icr(irq), dest, source,
                                                                             hardware=True)
    else:
        (result, targets), hardware = known
    vcpus = router.vcpus
    accepted = [i for i in targets if vcpus[i].sw_enabled] if irq.delivery == "fixed" else list(targets)
    tset, hset = set(targets), set(hardware)
    dropped = [i for i in hardware if i not in tset]
    extra = [i for i in targets if i not in hset]
    slots = [("phys", dest)] if result == DELIVERED else []
    return Route(PATH_PV_IPI, targets, accepted, [], hardware, dropped, extra, "", slots, irq.delivery, dest,
                 source, pv_ipi_result=result)


def route_interrupt(router: Router, irq: Interrupt) -> Route:
    """Route one interrupt of a scenario, by ICR or by hypercall."""
    if not irq.pv_ipi:
        return router.route(irq)
    source = router.index_of[irq.source]  # type: ignore[index]  # a validated PV IPI has a source
    return route_pv_ipi(router, irq, irq.dest or 0, source)


def icr_reference(router: Router, route: Route, irq: Interrupt, icr: Interrupt | None = None) -> list[int]:
    """What KVM's slow path would deliver for the ICR IPI to the same APIC ID (for the severity class)."""
    return router.matches(icr or as_icr(irq), route.dest, route.source)


def classify_pv_ipi(router: Router, route: Route, irq: Interrupt, icr: Interrupt | None = None) -> Verdict:
    """Severity findings of a PV IPI, with KVM's ICR slow path as the reference KVM disagrees with.

    A vCPU the PV IPI misses although that ICR path and hardware reach it is
    the map's fault (``fast_path_differs``), or, when there is no map or no
    hypercall at all, ``pv_ipi_no_map`` / ``pv_ipi_unsupported``. The rules
    both share (hotplug hack, no 8-bit truncation) keep their own reasons.
    ``icr``: the matching ICR message (:func:`as_icr`), when the caller made it once for many routes.
    """
    icr = icr or as_icr(irq)
    reference = icr_reference(router, route, irq, icr)
    fault = {NO_MAP: PV_IPI_NO_MAP, UNSUPPORTED: PV_IPI_UNSUPPORTED}.get(route.pv_ipi_result or "", FAST_PATH_DIFFERS)
    return classify_answers(route.targets, reference, route.hardware_targets, icr, route.dest, True, router.vcpus,
                            router.kvm, router.xapic_mode_set, fault)


def pv_reachable_slots(result: MapResult, kernel: str) -> list[int]:
    """APIC IDs a PV IPI can reach: the occupied ``phys_map`` slots (all at or below ``max_apic_id``).

    None when the map is NULL (the hypercall fails) or the kernel predates it.
    """
    if result.map is None or not pv_ipi_supported(kernel):
        return []
    amap = result.map
    return sorted(slot for slot in amap.phys_map if slot <= amap.max_apic_id)
