"""The status bar's headline: the worst severity class of the VM, in a few words (Qt-free).

It leads with the red class (``kvm_inconsistent``) whenever there is one:
one look says whether KVM's optimized map is wrong for this VM, whether it
only differs from hardware by a documented choice, or whether everything
agrees.
"""
from __future__ import annotations

from dataclasses import dataclass

from ...model import Evaluation
from ...model.severity import (
    AGREE,
    REASON_NAME,
    REASON_SEVERITY,
    REASON_TEXT,
    SEVERITY_NAME,
    SEVERITY_ORDER,
    SEVERITY_TEXT,
    worst,
)
from ...model.sweep import SweepResult

GLYPH = {AGREE: "✔", "kvm_by_design": "⚠", "differs_from_hardware": "⚠", "kvm_inconsistent": "✖"}


@dataclass(frozen=True)
class Headline:
    """Severity class code, the chip's text and its tooltip."""

    code: str
    text: str
    tip: str


def _plural(n: int, word: str) -> str:
    return f"{n:,} {word}{'' if n == 1 else 's'}"


def headline(ev: Evaluation, result: SweepResult | None) -> Headline:
    """The worst class over the interrupts and (once it is there) the sweep."""
    irq_codes = [ev.verdict(n).severity for n in range(len(ev.routes))]
    # The sweep's class counts and reasons are tallied once by the result (thousands of rows at 4096 vCPUs).
    rows_by_class = result.by_severity() if result is not None else {}
    code = worst(irq_codes + [c for c, n in rows_by_class.items() if n])
    tip_lines = []
    for c in reversed(SEVERITY_ORDER[1:]):
        n_irq, n_rows = irq_codes.count(c), rows_by_class.get(c, 0)
        if n_irq or n_rows:
            tip_lines.append(f"{SEVERITY_TEXT[c]}: {_plural(n_irq, 'interrupt')}, {_plural(n_rows, 'sweep row')}")
    reasons: list[str] = []
    for verdict in [ev.verdict(n) for n in range(len(ev.routes))]:
        reasons += [x for x in verdict.reasons if x not in reasons]
    if result is not None:
        reasons += [x for x in result.reasons() if x not in reasons]
    tip_lines += [f"• {REASON_TEXT[x]}" for x in reasons]
    if code == AGREE:
        if result is None:
            return Headline(code, "✔ interrupts agree (sweep …)",
                            "KVM, its slow path and hardware agree on every interrupt; the sweep of every "
                            "destination is running")
        return Headline(code, "✔ no disagreement", "KVM, its slow path and hardware agree on every interrupt and "
                                                   "every destination of the sweep")
    n_irq, n_rows = irq_codes.count(code), rows_by_class.get(code, 0)
    # Short enough for the status bar at 1280 px: "1 irq + 3 dest"; the tooltip says it in full.
    where = " + ".join(p for p in (f"{n_irq:,} irq" if n_irq else "", f"{n_rows:,} dest" if n_rows else "") if p)
    named = [REASON_NAME[x] for x in reasons if REASON_SEVERITY[x] == code]
    label = SEVERITY_NAME[code] + (f" ({', '.join(named[:2])})" if code != "kvm_inconsistent" and named else "")
    return Headline(code, f"{GLYPH[code]} {label}: {where}", "\n".join(tip_lines))

