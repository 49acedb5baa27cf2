"""What a real kernel said about the scenario, as the window shows it (Qt-free).

The host check (``apicviz.host.probe``) and a run on another kernel
(``apicviz.kernelvm``) both answer in the "Host check" JSON of FORMAT.md:
per interrupt the vCPUs the kernel accepted, the model's answer *for that
kernel and its configuration*, or why the interrupt was skipped. The window
shows the scenario under its own settings (evaluation A), which may differ
from the kernel's (another behaviour range, SMM, vector hashing). So each row
here compares three answers: the kernel's, the model's for that kernel, and
A's, and says which differ:

* ``agree`` — the kernel did what the model predicts for it, and what the window shows;
* ``differs`` — the kernel did something the model did not predict (a model bug);
* ``settings`` — the kernel did what the model predicts for it, but the
  scenario's own settings give another answer (the window shows that one);
* ``skipped`` — the kernel cannot express the interrupt (or the scenario), with the reason.

Built once per probe (in the worker thread), so the table only looks up texts.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ...model import Evaluation
from ...model.numbers import fmt_id, id_list
from .columns import CELL_IDS, TIP_IDS

AGREE, DIFFERS, SETTINGS, SKIPPED = "agree", "differs", "settings", "skipped"
MARK = {AGREE: "✓", DIFFERS: "≠", SETTINGS: "✓", SKIPPED: "–"}


def ids_short(ids: list[int], limit: int = CELL_IDS) -> str:
    """'0x0, 0x1' in hex, cut with the count; 'nobody' when empty (the one formatter, model.numbers)."""
    return id_list(ids, limit)


@dataclass(frozen=True)
class HostRow:
    """One interrupt as the kernel and the models saw it; vCPUs by ID."""

    index: int
    state: str
    host: list[int] = field(default_factory=list)
    #: The model's answer for the kernel's own version and configuration.
    model: list[int] = field(default_factory=list)
    #: What the window shows: the model under the scenario's own settings (evaluation A).
    shown: list[int] = field(default_factory=list)
    reason: str = ""

    @property
    def mark(self) -> str:
        return MARK[self.state]

    @property
    def text(self) -> str:
        """The cell: '✓ 0x0, 0x1', '≠ 0x0', '✓ nobody (scenario: 0x1)', '– skipped'."""
        if self.state == SKIPPED:
            return "– skipped"
        text = f"{self.mark} {ids_short(self.host)}"
        if self.state == SETTINGS:
            text += f" (scenario: {ids_short(self.shown, 3)})"
        return text

    @property
    def marked(self) -> set[int]:
        """vCPU IDs the kernel treated differently from the map (A) or from the model for that kernel."""
        if self.state == SKIPPED:
            return set()
        host = set(self.host)
        return (host ^ set(self.shown)) | (host ^ set(self.model))


@dataclass(frozen=True)
class HostVerdict:
    """A kernel's answers for one snapshot of the scenario (the evaluation A it was compared with)."""

    #: "host" (this machine) or "kernel" (another kernel booted in a VM).
    source: str
    #: Header of the table column: "Linux 6.18.44" or "Linux 6.1.0-50-amd64 (VM)".
    label: str
    #: Chip prefix: "host 6.18", "6.1.0-50-amd64 (VM)".
    short: str
    #: One line about the kernel and its configuration (the chip's tooltip starts with it).
    header: str
    #: The probe's JSON (FORMAT.md "Host check"); what the bug report and the PNG carry.
    probe: dict[str, Any]
    evaluation: Evaluation
    rows: list[HostRow]
    #: The scenario's settings the kernel overrides ("SMM on here, off on the host"...).
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def skipped(self) -> str | None:
        """Why the whole scenario was not probed (None when it was)."""
        return self.probe.get("skipped")

    def count(self, state: str) -> int:
        return sum(1 for r in self.rows if r.state == state)

    @property
    def compared(self) -> int:
        return sum(1 for r in self.rows if r.state != SKIPPED)

    @property
    def level(self) -> str:
        """Chip level: 'bad' when the kernel contradicts the model, 'warn' when only the settings differ."""
        if self.skipped:
            return "info"
        if self.count(DIFFERS):
            return "bad"
        if self.count(SETTINGS):
            return "warn"
        return "ok" if self.compared else "info"

    def summary(self) -> str:
        """'host 6.18: 12/12 agree, 1 not expressible' (the chip)."""
        text = f"{self.short}: {self.counts()}"
        return f"≠ {text}" if self.count(DIFFERS) and not self.skipped else text

    def counts(self) -> str:
        """'12/12 agree, 1 not expressible' (the summary without the kernel's name)."""
        if self.skipped:
            return "not probed"
        agree = self.compared - self.count(DIFFERS)
        text = f"{agree}/{self.compared} agree"
        skipped = self.count(SKIPPED)
        if skipped:
            text += f", {skipped} not expressible"
        if self.count(SETTINGS):
            text += f"; {self.count(SETTINGS)} unlike the scenario"
        return text

    def tip(self) -> str:
        """The header line, what the kernel overrides, what differs and every skip with its reason."""
        lines = [self.header]
        if self.skipped:
            lines.append(f"not probed: {self.skipped}")
            return "\n".join(lines)
        lines.append(f"{self.compared} interrupts compared with the model for this kernel, "
                     f"{self.count(DIFFERS)} disagree; {self.seconds:.2f} s")
        if self.notes:
            lines.append("The scenario differs from this kernel (the comparison uses the kernel's): "
                         + "; ".join(self.notes))
        for r in self.rows:
            if r.state == DIFFERS:
                lines.append(f"≠ #{r.index}: kernel {ids_short(r.host)}, model {ids_short(r.model)}")
            elif r.state == SETTINGS:
                lines.append(f"✓ #{r.index}: kernel {ids_short(r.host)} as the model predicts for it; "
                             f"the scenario's settings give {ids_short(r.shown)}")
        skips = [r for r in self.rows if r.state == SKIPPED]
        lines.extend(f"– #{r.index} skipped: {r.reason}" for r in skips[:12])
        if len(skips) > 12:
            lines.append(f"– … and {len(skips) - 12} more skipped")
        return "\n".join(lines)

    def report_json(self) -> dict[str, Any]:
        """What the bug report and the PNG carry: which kernel, its header line, the overrides and the probe."""
        return {"label": self.label, "source": self.source, "header": self.header, "notes": list(self.notes),
                "probe": self.probe}

    def row(self, n: int) -> HostRow | None:
        return self.rows[n] if 0 <= n < len(self.rows) else None

    def cell_tip(self, n: int) -> str:
        """The tooltip of one cell: all three answers and what they mean."""
        r = self.row(n)
        if r is None:
            return ""
        if r.state == SKIPPED:
            return f"{self.label}: interrupt #{n} not compared — {r.reason}"
        lines = [f"{self.label}, interrupt #{n}:",
                 f"kernel accepted: {ids_short(r.host, TIP_IDS)}",
                 f"model for this kernel: {ids_short(r.model, TIP_IDS)}",
                 f"the scenario's settings (the rest of the window): {ids_short(r.shown, TIP_IDS)}"]
        if r.state == DIFFERS:
            only_host = [i for i in r.host if i not in set(r.model)]
            only_model = [i for i in r.model if i not in set(r.host)]
            if only_host:
                lines.append(f"only the kernel: {ids_short(only_host, TIP_IDS)}")
            if only_model:
                lines.append(f"only the model: {ids_short(only_model, TIP_IDS)}")
            lines.append("≠ the kernel contradicts the model: please report it (Edit > Copy Bug Report)")
        elif r.state == SETTINGS:
            lines.append("✓ the kernel does what the model predicts for it; the scenario's own settings "
                         "differ (" + ("; ".join(self.notes) or "see the chip") + ")")
        else:
            lines.append("✓ kernel, model and the window agree")
        return "\n".join(lines)

    def marked_vcpus(self, interrupt: int = -1) -> set[int]:
        """vCPU IDs to mark on the map: for one interrupt, or for any (``interrupt`` < 0)."""
        if interrupt >= 0:
            r = self.row(interrupt)
            return r.marked if r is not None else set()
        out: set[int] = set()
        for r in self.rows:
            out |= r.marked
        return out

    def vcpu_lines(self, vcpu_id: int, interrupt: int = -1) -> list[str]:
        """Why a vCPU is marked: per interrupt, what the kernel did to it and what the map shows."""
        out = []
        for r in self.rows if interrupt < 0 else [x for x in (self.row(interrupt),) if x is not None]:
            if vcpu_id not in r.marked:
                continue
            got = "accepted" if vcpu_id in r.host else "did not accept"
            model = "the model for that kernel agrees" if (vcpu_id in r.host) == (vcpu_id in r.model) else \
                "the model for that kernel says otherwise (≠)"
            shown = "as the map shows" if (vcpu_id in r.host) == (vcpu_id in r.shown) else "unlike the map"
            out.append(f"#{r.index}: {self.label} {got} vCPU {fmt_id(vcpu_id)}, {shown}; {model}")
        return out


def build_verdict(probe: dict[str, Any], evaluation: Evaluation, *, source: str, label: str, short: str,
                  header: str, notes: list[str] | None = None) -> HostVerdict:
    """Rows from a probe's JSON compared with evaluation A (the snapshot that was probed)."""
    n = len(evaluation.routes)
    rows: list[HostRow] = []
    skipped = probe.get("skipped")
    entries = probe.get("interrupts") or []
    for i in range(n):
        shown = evaluation.ids(evaluation.routes[i].accepted)
        entry = entries[i] if i < len(entries) and not skipped else None
        if entry is None:
            rows.append(HostRow(i, SKIPPED, shown=shown, reason=skipped or "the kernel gave no answer for it"))
        elif "skipped" in entry:
            rows.append(HostRow(i, SKIPPED, shown=shown, reason=str(entry["skipped"])))
        else:
            host = list(entry.get("host_accepted") or [])
            model = list(entry.get("model_accepted") or [])
            agree = entry.get("agree")
            if agree is False or (agree is None and set(host) != set(model)):
                state = DIFFERS
            elif set(host) != set(shown):
                state = SETTINGS
            else:
                state = AGREE
            rows.append(HostRow(i, state, host, model, shown))
    seconds = float(probe.get("seconds", 0.0) or 0.0)
    return HostVerdict(source, label, short, header, probe, evaluation, rows, list(notes or []), seconds)
