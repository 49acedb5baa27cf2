"""PV IPIs as the window shows them, Qt-free: words for the result codes, lost ones, reachable slots.

Everything comes from the evaluation's fields (``pv_ipi_result``, ``dropped``,
the map); the rules themselves live in :mod:`apicviz.model.pv_ipi`.
"""
from __future__ import annotations

from ...model import Evaluation
from ...model.pv_ipi import ABOVE_MAX_APIC_ID, DELIVERED, NO_MAP, UNSUPPORTED, pv_reachable_slots
from ...model.routing import Route

#: How the Via column names ``icr`` and ``pv_ipi``.
VIA_LABELS = ("ICR", "PV IPI")
RESULT_TEXT = {DELIVERED: "delivered", NO_MAP: "no map: -EOPNOTSUPP", ABOVE_MAX_APIC_ID: "above max_apic_id",
               UNSUPPORTED: "no hypercall before 4.19"}


def path_text(route: Route) -> str:
    """The Path cell: 'fast', 'slow', or 'PV IPI: no map: -EOPNOTSUPP'."""
    if route.pv_ipi_result is None:
        return route.path
    return f"PV IPI: {RESULT_TEXT[route.pv_ipi_result]}"


def lost_pv_ipis(ev: Evaluation) -> list[int]:
    """Interrupts that are PV IPIs some vCPU should get but does not (the status bar's count)."""
    return [n for n, r in enumerate(ev.routes) if r.pv_ipi_result is not None and r.dropped]


def pv_ipi_count(ev: Evaluation) -> int:
    return sum(1 for r in ev.routes if r.pv_ipi_result is not None)


def pv_reach(ev: Evaluation) -> frozenset[int]:
    """APIC IDs a PV IPI can reach: occupied phys_map slots; none without a map or before 4.19."""
    return frozenset(pv_reachable_slots(ev.result, ev.scenario.kvm.kernel))
