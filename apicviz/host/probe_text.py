"""Readable text of a host check: a header about the host, then one line per interrupt."""
from __future__ import annotations

from ..model.numbers import id_list
from ..model.scenario import Scenario
from .host_info import HostInfo
from .probe import InterruptCheck, ProbeResult

MARK_AGREE, MARK_DIFFER, MARK_SKIPPED = "✓", "≠", "–"
SHOWN_IDS = 12


def bracketed_ids(ids: list[int]) -> str:
    """'[0x0, 0x1]', cut after a dozen with the count: broadcast lists can hold 1024 vCPUs."""
    return f"[{id_list(ids, SHOWN_IDS)}]" if ids else "nobody"


def host_header(host: HostInfo) -> str:
    return host.describe()


def interrupt_line(scenario: Scenario, check: InterruptCheck) -> str:
    irq = scenario.interrupts[check.index]
    label = f"#{check.index} {irq.describe()}" + (f" “{irq.name}”" if irq.name else "")
    if check.skipped:
        return f"  {MARK_SKIPPED} {label}: skipped — {check.skip_reason}"
    host, model = check.host_accepted or [], check.model_accepted or []
    if check.agree:
        return f"  {MARK_AGREE} {label}: host {bracketed_ids(host)} = model"
    only_host = [i for i in host if i not in set(model)]
    only_model = [i for i in model if i not in set(host)]
    parts = [f"host {bracketed_ids(host)}", f"model {bracketed_ids(model)}"]
    if only_host:
        parts.append(f"only the host: {bracketed_ids(only_host)}")
    if only_model:
        parts.append(f"only the model: {bracketed_ids(only_model)}")
    return f"  {MARK_DIFFER} {label}: " + "; ".join(parts)


def summary(result: ProbeResult) -> str:
    """'12/12 agree, 1 not expressible' — the chip text's numbers."""
    if result.skipped:
        return f"not probed: {result.skipped}"
    compared = result.compared
    agreeing = compared - len(result.disagreeing)
    text = f"{agreeing}/{compared} agree"
    if result.skipped_interrupts:
        text += f", {len(result.skipped_interrupts)} not expressible"
    if result.sweep is not None:
        sw = result.sweep
        text += f"; sweep {sw.compared - len(sw.disagreeing)}/{sw.compared} agree"
    return text


def config_notes(scenario: Scenario, host: HostInfo) -> list[str]:
    """Where the scenario's own settings differ from the host's, which the comparison used instead."""
    kvm = scenario.kvm
    notes = []
    if host.behaviour and kvm.kernel != host.kernel:
        from ..model.kernels import behaviour_for

        mine = behaviour_for(kvm.kernel).name
        if mine != host.behaviour:
            notes.append(f"kernel {kvm.kernel} behaves as {mine}, the host as {host.behaviour}")
    if kvm.vector_hashing != host.vector_hashing:
        notes.append(f"vector_hashing {'on' if kvm.vector_hashing else 'off'} here, "
                     f"{'on' if host.vector_hashing else 'off'} on the host")
    if kvm.smm != host.smm:
        notes.append(f"SMM {'on' if kvm.smm else 'off'} here, {'on' if host.smm else 'off'} on the host "
                     f"(an SMI is {'accepted' if host.smm else 'accepted by nobody'} there)")
    return notes


def probe_text(path: str, scenario: Scenario, result: ProbeResult) -> str:
    kernel = f"scenario kernel {result.scenario_kernel}, compared as {result.host.kernel}"
    lines = [f"{path} ({kernel}): {summary(result)} — {result.seconds:.2f} s"]
    notes = config_notes(scenario, result.host)
    if notes and not result.skipped:
        lines.append("  the scenario differs from this host, which the model follows here: " + "; ".join(notes))
    lines.extend(interrupt_line(scenario, check) for check in result.interrupts)
    if result.sweep is not None:
        lines.extend(result.sweep.text_lines())
    return "\n".join(lines) + "\n"
