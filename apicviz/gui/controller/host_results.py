"""What ``host_changed`` carries: this host's check and another kernel's answer, and which one is shown.

The interrupts table has one column for a real kernel, the map one kind of
mark and the status bar one chip per kernel; they show the kernel the user
asked for last (this host when the check was turned on, another kernel when
its run came in), the other when that one is not there. Another kernel's
answer belongs to the scenario it was run on: after an edit it is kept but
not shown (out of date), and shown again when an undo brings that scenario back.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from ..viewmodels.host_verdict import HostVerdict
from .host_check import DONE, OFF, RUNNING, HostStatus

HOST, KERNEL = "host", "kernel"


@dataclass(frozen=True)
class HostResults:
    host: HostStatus = field(default_factory=lambda: HostStatus(OFF))
    #: Another kernel's verdict (booted in a VM), kept until a new run or a new scenario.
    kernel: HostVerdict | None = None
    #: The kernel verdict belongs to the scenario as it is now.
    kernel_current: bool = False
    #: Which one the user asked for last (HOST or KERNEL).
    prefer: str = HOST

    @property
    def host_on(self) -> bool:
        return self.host.state != OFF and self.host.state != "unavailable"

    @property
    def shown(self) -> HostVerdict | None:
        """The verdict the table column, the map marks and the report's first section are about."""
        host = self.host.verdict if self.host_on else None
        kernel = self.kernel if self.kernel_current else None
        if self.prefer == KERNEL:
            return kernel or host
        return host or kernel

    @property
    def shown_fresh(self) -> bool:
        """The shown verdict belongs to the newest edit (a host verdict may wait for its rerun)."""
        shown = self.shown
        if shown is None:
            return False
        if shown is self.kernel:
            return True
        return self.host.fresh and self.host.state == DONE

    @property
    def pending(self) -> bool:
        """The host check is on and its answer for the newest edit is not in yet."""
        return self.host.state == RUNNING

    def current(self) -> list[HostVerdict]:
        """Every verdict that belongs to the scenario as it is now (the bug report and the PNG carry them)."""
        out = []
        if self.host_on and self.host.verdict is not None and self.host.fresh:
            out.append(self.host.verdict)
        if self.kernel is not None and self.kernel_current:
            out.append(self.kernel)
        return out
