"""The sweep tab's one-line summary, from the result's counts (the CLI's sentence is longer)."""
from __future__ import annotations

from ...model.severity import SEVERITY_NAME, SEVERITY_ORDER
from ...model.sweep import SweepResult


def sweep_summary_line(result: SweepResult) -> str:
    """'13 of 2,196 messages disagree (4 KVM inconsistent, 9 by design) · 20 dropped deliveries'.

    One line, so the tab's heat map keeps the dock's height; the tooltip carries the full sentence.
    """
    counts = result.by_severity()
    classes = ", ".join(f"{counts[c]:,} {SEVERITY_NAME[c]}" for c in reversed(SEVERITY_ORDER[1:]) if counts[c])
    rows = len(result.rows)
    head = f"{rows:,} of {result.checked:,} messages disagree" if rows else f"all {result.checked:,} messages agree"
    return head + (f" ({classes})" if classes else "") + f" · {result.dropped_deliveries:,} dropped deliveries"
