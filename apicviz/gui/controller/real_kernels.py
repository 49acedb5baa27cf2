"""The controller's part that talks to real kernels: this host's check and another kernel's run.

Owned by the :class:`~.controller.Controller`, which calls :meth:`RealKernels.after_rerun`
after every edit and re-emits :attr:`RealKernels.changed` as ``host_changed``;
views read ``controller.host_results`` and never start a probe themselves
(STYLE.md habit 14): the KVM menu and the kernel dialog ask the controller.
"""
from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Signal

from ...model import Evaluation, Scenario
from ..viewmodels.host_verdict import HostVerdict
from .host_check import HostCheckScheduler
from .host_results import HOST, KERNEL, HostResults
from .kernel_check import KernelCheckRunner

if TYPE_CHECKING:  # the throwaway-kernel runner loads only when a run starts
    from ...kernelvm.remote_probe import KernelChoice


def same_scenario(a: Scenario, b: Scenario) -> bool:
    """The same VM and messages (title and notes aside): rows compare by value, shared rows at once."""
    return (a.kvm == b.kvm and len(a.vcpus) == len(b.vcpus) and len(a.interrupts) == len(b.interrupts)
            and all(x is y or x == y for x, y in zip(a.vcpus, b.vcpus, strict=True))
            and all(x is y or x == y for x, y in zip(a.interrupts, b.interrupts, strict=True)))


class RealKernels(QObject):
    """Keeps :class:`HostResults` up to date from the host check and the other-kernel runner."""

    #: The HostResults changed.
    changed = Signal(object)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        #: This host's KVM (the KVM menu's "Check on this host"), run after each edit while on.
        self.host_check = HostCheckScheduler(self)
        self.host_check.changed.connect(self._on_host_status_changed)
        #: Another kernel in a throwaway VM (KVM > Check on another kernel…).
        self.kernel_check = KernelCheckRunner(self)
        self.kernel_check.finished.connect(self._on_kernel_finished)
        self.results = HostResults()
        self._evaluation: Evaluation | None = None

    def after_rerun(self, evaluation: Evaluation) -> None:
        """An edit was evaluated: the host check reruns; another kernel's answer is shown only if still true."""
        self._evaluation = evaluation
        self.host_check.schedule(evaluation)
        kernel = self.results.kernel
        if kernel is not None:
            current = same_scenario(kernel.evaluation.scenario, evaluation.scenario)
            if current != self.results.kernel_current:
                self._set(replace(self.results, kernel_current=current))

    def scenario_replaced(self) -> None:
        """A new scenario: another kernel's answer was about the old one."""
        if self.results.kernel is not None:
            self._set(replace(self.results, kernel=None, kernel_current=False))

    def set_host_check(self, on: bool, evaluation: Evaluation) -> None:
        if on:
            self.results = replace(self.results, prefer=HOST)
        self.host_check.set_enabled(on, evaluation)

    def check_kernel(self, choice: KernelChoice, evaluation: Evaluation) -> bool:
        """Start a run on another kernel for ``evaluation``'s scenario (False while one is out)."""
        return self.kernel_check.start(choice, evaluation)

    def set_kernel_verdict(self, verdict: HostVerdict | None) -> None:
        current = verdict is not None and (self._evaluation is None or
                                           same_scenario(verdict.evaluation.scenario, self._evaluation.scenario))
        self._set(replace(self.results, kernel=verdict, kernel_current=current,
                          prefer=KERNEL if verdict is not None else self.results.prefer))

    def shutdown(self) -> None:
        self.host_check.shutdown()
        self.kernel_check.shutdown()

    def _on_kernel_finished(self, verdict: HostVerdict) -> None:
        self.set_kernel_verdict(verdict)

    def _on_host_status_changed(self) -> None:
        self._set(replace(self.results, host=self.host_check.status))

    def _set(self, results: HostResults) -> None:
        self.results = results
        self.changed.emit(results)
