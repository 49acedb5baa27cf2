"""The KVM menu: check the scenario on this host's KVM, or on another kernel booted in a throwaway VM."""
from __future__ import annotations

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QMainWindow, QMenu

from ..controller.controller import Controller
from ..viewmodels.host_verdict import HostVerdict
from ..views.host_progress import HostProgress
from ..views.kernel_dialog import KernelDialog
from . import settings

HOST_SHORTCUT = "Ctrl+Shift+H"


class KvmActions(QObject):
    """KVM > Check on this host (a toggle) and Check on another kernel…; Esc cancels a long host check."""

    message = Signal(str)

    def __init__(self, controller: Controller, window: QMainWindow) -> None:
        super().__init__(window)
        self.controller = controller
        self.window = window
        self.check_host = QAction("Check on this &Host", window)
        self.check_host.setCheckable(True)
        self.check_host.setShortcut(QKeySequence(HOST_SHORTCUT))
        self.check_host.toggled.connect(self._on_check_host_toggled)
        info, why = controller.host_check.availability()
        if info is None:
            self.check_host.setEnabled(False)
            tip = f"Not available: {why}"
        else:
            tip = ("Run every interrupt on this machine's KVM (/dev/kvm) and compare with the model for its kernel "
                   f"(Linux {info.release}); reruns after each edit while on ({HOST_SHORTCUT})")
        self.check_host.setToolTip(tip)
        self.check_host.setStatusTip(tip)
        self.check_kernel = QAction("Check on Another &Kernel…", window)
        kernel_tip = ("Boot a kernel image, a built tree or a linux-image .deb in a throwaway VM and probe the "
                      "scenario there (20–60 s); the Host column and the Compare tab then show that kernel")
        self.check_kernel.setToolTip(kernel_tip)
        self.check_kernel.setStatusTip(kernel_tip)
        self.check_kernel.triggered.connect(self.open_kernel_dialog)
        self.kernel_dialog: KernelDialog | None = None
        controller.kernel_check.finished.connect(self._on_kernel_finished)
        self.progress = HostProgress(controller)
        # Esc belongs to the cancel only while the progress bar is up (elsewhere it closes editors and dialogs).
        self.cancel_host = QAction("&Cancel the Running Host Check", window)
        self.cancel_host.setShortcut(QKeySequence(Qt.Key.Key_Escape))
        self.cancel_host.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
        self.cancel_host.setEnabled(False)
        self.cancel_host.triggered.connect(controller.host_check.cancel)
        window.addAction(self.cancel_host)
        self._told: object = None
        controller.host_changed.connect(self._on_host_changed)
        controller.host_check.progress.connect(self._on_progress)

    def build_menu(self, menu: QMenu) -> None:
        menu.setToolTipsVisible(True)
        menu.addAction(self.check_host)
        menu.addAction(self.cancel_host)
        menu.addAction(self.check_kernel)

    def open_kernel_dialog(self) -> KernelDialog:
        """KVM > Check on another kernel…: one dialog, shown again with the kernels used before."""
        if self.kernel_dialog is None:
            self.kernel_dialog = KernelDialog(self.controller, self.window, recent=settings.recent_kernels(),
                                              remember=settings.add_recent_kernel)
        if self.kernel_dialog.isVisible():
            self.kernel_dialog.raise_()  # already open (maybe behind the window): bring it forward
            self.kernel_dialog.activateWindow()
        else:
            self.kernel_dialog.show()
        return self.kernel_dialog

    def _on_kernel_finished(self, verdict: HostVerdict) -> None:
        self.message.emit(f"{verdict.label}: {verdict.counts()} — shown in the Host column and the Compare tab")

    def _on_check_host_toggled(self, on: bool) -> None:
        self.controller.set_host_check(on)

    def _on_progress(self, *_args: object) -> None:
        self.cancel_host.setEnabled(not self.progress.isHidden())

    def _on_host_changed(self, _results: object) -> None:
        if not self.controller.host_check.busy:
            self.cancel_host.setEnabled(False)
        status = self.controller.host_check.status
        if status.state == "failed" and status is not self._told:
            self._told = status
            self.message.emit(f"✖ host check: {status.message}")
