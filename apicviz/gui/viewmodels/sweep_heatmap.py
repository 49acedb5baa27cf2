"""The sweep as a matrix for the heat map: one row per (destination mode, sender), one column per destination.

Qt-free. The x axis holds only the destinations the sweep routed (every
0..0xff, every vCPU ID and map boundary, one column per class of unnamed
IDs above 0xff, each logical value, the broadcast), so a VM with IDs near
2^32 costs as much as one with ID 300: nothing is allocated per APIC ID.
Cell values are severity ranks (:data:`apicviz.model.severity.SEVERITY_RANK`),
:data:`NOT_SENT` where nobody can send that destination from that sender.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ...model import Evaluation
from ...model.numbers import fmt_id
from ...model.severity import AGREE, REASON_NAME, SEVERITY_NAME, SEVERITY_ORDER, SEVERITY_RANK
from ...model.sweep import (
    IPI_X2APIC,
    IPI_XAPIC,
    MSI,
    PV_X2APIC,
    PV_XAPIC,
    SENDER_TEXT,
    SweepMessage,
    SweepResult,
    SweepRow,
)

#: Value of a cell that the sweep did not route (that sender cannot name that destination).
NOT_SENT = -1
SENDER_SHORT = {MSI: "MSI", IPI_XAPIC: "xAPIC IPI", IPI_X2APIC: "x2APIC IPI", PV_XAPIC: "xAPIC PV IPI",
                PV_X2APIC: "x2APIC PV IPI"}
#: PV IPIs are physical only: their rows follow the physical ICR rows.
ROW_ORDER = (*(("physical", s) for s in (MSI, IPI_XAPIC, IPI_X2APIC, PV_XAPIC, PV_X2APIC)),
             *(("logical", s) for s in (MSI, IPI_XAPIC, IPI_X2APIC)))


@dataclass(frozen=True)
class Cell:
    """What one cell stands for."""

    dest_mode: str
    sender: str
    dest: int
    count: int  # destinations this column stands for (a class of unnamed IDs above 0xff: many)
    residue: int | None
    severity: str | None  # None: not sent
    row: SweepRow | None  # the sweep row when the answers disagree

    @property
    def message(self) -> SweepMessage:
        return SweepMessage(self.dest_mode, self.dest, self.sender)


class HeatMatrix:
    """Severity ranks of every (row, column) of the sweep, plus the lookups hover and click need."""

    def __init__(self, result: SweepResult) -> None:
        dests = result.destinations
        seen = [(d.dest_mode, s) for d in dests for s in d.senders]
        seen += [(r.dest_mode, s) for r in result.rows for s in r.senders]
        # The known rows in their order, then any other kind of sender the sweep has (each once).
        self.rows: list[tuple[str, str]] = [rs for rs in ROW_ORDER if rs in set(seen)]
        self.rows += [rs for rs in dict.fromkeys(seen) if rs not in self.rows]
        self._row_of = {rs: i for i, rs in enumerate(self.rows)}
        self._classes = {d.dest: (d.count, d.residue) for d in dests if d.count > 1 or d.residue is not None}
        every = np.fromiter((d.dest for d in dests), dtype=np.int64, count=len(dests))
        row_dests = np.fromiter((r.dest for r in result.rows), dtype=np.int64, count=len(result.rows))
        self.dests = np.unique(np.concatenate([every, row_dests]))  # sorted: the compressed x axis
        self.counts = np.ones(len(self.dests), dtype=np.int64)
        for dest, (count, _residue) in self._classes.items():
            self.counts[self.column_of(dest)] = count
        self.values = np.full((len(self.rows), len(self.dests)), NOT_SENT, dtype=np.int8)
        # Every routed (row, column) agrees unless a sweep row says otherwise; one numpy write per sender group.
        self._fill(every, [(d.dest_mode, d.senders) for d in dests],
                   np.full(len(dests), SEVERITY_RANK[AGREE], dtype=np.int8))
        self._sweep_rows = result.rows
        ranks = np.fromiter((SEVERITY_RANK[r.severity] for r in result.rows), dtype=np.int8, count=len(result.rows))
        self._fill(row_dests, [(r.dest_mode, r.senders) for r in result.rows], ranks)
        self._by_cell: dict[tuple[int, int], SweepRow] | None = None

    def _fill(self, dests: np.ndarray, groups: list[tuple[str, tuple[str, ...]]], values: np.ndarray) -> None:
        """values[row of each sender, column of dests[i]] = values[i], grouped by (mode, senders)."""
        if not len(dests):
            return
        cols = np.searchsorted(self.dests, dests)
        keys: dict[tuple[str, tuple[str, ...]], int] = {}
        key_of = np.fromiter((keys.setdefault(g, len(keys)) for g in groups), dtype=np.int32, count=len(groups))
        for (mode, senders), k in keys.items():
            sel = key_of == k
            for sender in senders:
                self.values[self._row_of[(mode, sender)], cols[sel]] = values[sel]

    @property
    def shape(self) -> tuple[int, int]:
        return (len(self.rows), len(self.dests))

    def row_label(self, r: int) -> str:
        mode, sender = self.rows[r]
        return f"{_sender(sender)} {mode}"

    def column_label(self, c: int) -> str:
        """The destination in hex; a class column as '0x123 +N' (N more IDs with the same low byte)."""
        dest = int(self.dests[c])
        count = int(self.counts[c])
        return fmt_id(dest) if count == 1 else f"{fmt_id(dest)} +{count - 1}"

    def column_of(self, dest: int) -> int | None:
        """The column of destination ``dest`` (a class column only by its first member), or None."""
        c = int(np.searchsorted(self.dests, dest))
        return c if c < len(self.dests) and int(self.dests[c]) == dest else None

    def cell(self, r: int, c: int) -> Cell | None:
        if not (0 <= r < len(self.rows) and 0 <= c < len(self.dests)):
            return None
        mode, sender = self.rows[r]
        dest = int(self.dests[c])
        count, residue = self._classes.get(dest, (1, None))
        value = int(self.values[r, c])
        severity = None if value == NOT_SENT else SEVERITY_ORDER[value]
        return Cell(mode, sender, dest, count, residue, severity, self._row_at(r, c))

    def _row_at(self, r: int, c: int) -> SweepRow | None:
        """The sweep row of a cell; the lookup is built on the first hover, not per sweep."""
        if self._by_cell is None:
            self._by_cell = {}
            for row in self._sweep_rows:
                col = self.column_of(row.dest)
                for sender in row.senders:
                    self._by_cell[(self._row_of[(row.dest_mode, sender)], col)] = row  # type: ignore[index]
        return self._by_cell.get((r, c))

    def hover_text(self, r: int, c: int, ev: Evaluation) -> str:
        """One line for the cell under the pointer: destination, class and the three answers."""
        cell = self.cell(r, c)
        if cell is None:
            return ""
        where = f"{_sender(cell.sender)} to {cell.dest_mode} {fmt_id(cell.dest)}"
        if cell.count > 1:
            where += (f" and {cell.count - 1:,} more (every unnamed ID ≡ {fmt_id(cell.residue or 0)} mod 0x100 "
                      f"above 0xff)")
        if cell.severity is None:
            return f"{where}: not sent (no {_sender(cell.sender)} can name this destination)"
        if cell.row is None:
            return f"{where}: agree — KVM, its slow path and hardware give the same answer"
        r_ = cell.row.route
        reasons = ", ".join(REASON_NAME[x] for x in cell.row.verdict.reasons)
        parts = [f"{where}: {SEVERITY_NAME[cell.severity]} ({reasons})",
                 f"KVM {r_.path} → {_ids(ev, r_.targets)}", f"slow path → {_ids(ev, r_.slow_path_targets)}",
                 f"hardware → {_ids(ev, r_.hardware_targets)}"]
        if r_.dropped:
            parts.append(f"dropped {_ids(ev, r_.dropped)}")
        if r_.extra:
            parts.append(f"extra {_ids(ev, r_.extra)}")
        return "; ".join(parts)


def _sender(kind: str) -> str:
    """Short name of a sender kind; the model's words for kinds this view does not abbreviate."""
    return SENDER_SHORT.get(kind) or SENDER_TEXT.get(kind, kind)


def _ids(ev: Evaluation, idxs: list[int], limit: int = 6) -> str:
    if not idxs:
        return "nobody"
    ids = ev.ids(idxs)
    text = ", ".join(fmt_id(i) for i in ids[:limit])
    return text + (f", … ({len(ids)})" if len(ids) > limit else "")
