"""KVM > Check on another kernel…: choose a kernel, boot it in a throwaway VM, show its answer.

The user picks a kernel image (``/boot/vmlinuz-…``, a ``bzImage``), a built
kernel tree, or a distribution's ``linux-image`` .deb, and optionally a
modules folder; kernels used before are listed (the window remembers them).
The run itself belongs to the controller (``controller.check_kernel``): the
dialog shows a busy bar with the elapsed time and a Cancel that kills the
guest, and any failure with its message, the fix to try and the tail of the
guest's console. The answer lands in the Host column, the chip and the
Compare tab; the dialog closes then. It is not modal: the window stays usable
(an edit made meanwhile leaves the answer out of date, and it says so).
"""
from __future__ import annotations

import os
from collections.abc import Callable
from typing import TYPE_CHECKING

from PySide6.QtWidgets import (
    QDialog,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from ..controller.controller import Controller
from ..controller.kernel_check import KernelFailure
from ..viewmodels.host_verdict import HostVerdict
from . import palette

Recent = list[tuple[str, str]]

if TYPE_CHECKING:
    from ...kernelvm.remote_probe import KernelChoice


class KernelDialog(QDialog):
    """Kernel, modules, recent kernels; Run / Cancel / Close; busy bar; error box."""

    def __init__(self, controller: Controller, parent: QWidget | None = None, *, recent: Recent | None = None,
                 remember: Callable[[str, str], Recent] | None = None) -> None:
        super().__init__(parent)
        self.controller = controller
        self.remember = remember
        self.setWindowTitle("Check on another kernel")
        self.kernel_edit = QLineEdit(self)
        self.kernel_edit.setPlaceholderText("/boot/vmlinuz-6.1.0-50-amd64, a kernel tree, or linux-image-….deb")
        self.modules_edit = QLineEdit(self)
        self.modules_edit.setPlaceholderText("optional: the modules folder (…/lib/modules/RELEASE or its root)")
        image_button = QPushButton("Image or .deb…", self)
        image_button.clicked.connect(self._choose_image)
        tree_button = QPushButton("Build tree…", self)
        tree_button.clicked.connect(self._choose_tree)
        modules_button = QPushButton("Folder…", self)
        modules_button.clicked.connect(self._choose_modules)
        kernel_row = QHBoxLayout()
        kernel_row.addWidget(self.kernel_edit, 1)
        kernel_row.addWidget(image_button)
        kernel_row.addWidget(tree_button)
        modules_row = QHBoxLayout()
        modules_row.addWidget(self.modules_edit, 1)
        modules_row.addWidget(modules_button)
        self.recent_list = QListWidget(self)
        self.recent_list.setToolTip("Kernels checked before: click to choose, double-click to run")
        self.recent_list.itemClicked.connect(self._on_recent_clicked)
        self.recent_list.itemDoubleClicked.connect(self._on_recent_double_clicked)
        self.recent_list.setMaximumHeight(110)
        form = self.form = QFormLayout()
        form.addRow("Kernel:", kernel_row)
        form.addRow("Modules:", modules_row)
        form.addRow("Recent:", self.recent_list)

        intro = QLabel("The kernel boots in a throwaway VM (virtme-ng; KVM where nested virtualization works, "
                       "else QEMU's TCG with an emulated SVM CPU), loads kvm_amd or kvm_intel and probes this "
                       "scenario there; the model for that kernel is compared. Nothing is written to /boot or "
                       "/lib/modules. It takes 20–60 s.", self)
        intro.setWordWrap(True)
        self.status = QLabel(self)
        self.status.setWordWrap(True)
        self.bar = QProgressBar(self)
        self.bar.setRange(0, 0)
        self.bar.setTextVisible(False)
        self.bar.hide()
        self.details = QPlainTextEdit(self)
        self.details.setReadOnly(True)
        self.details.setPlaceholderText("the guest's console, when a run fails")
        self.details.hide()
        self.run_button = QPushButton("Run", self)
        self.run_button.setDefault(True)
        self.run_button.clicked.connect(self.run)
        self.cancel_button = QPushButton("Cancel run", self)
        self.cancel_button.setToolTip("Stop the guest now")
        self.cancel_button.clicked.connect(controller.kernel_check.cancel)
        self.cancel_button.hide()
        close_button = QPushButton("Close", self)
        close_button.clicked.connect(self.close)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        for b in (self.run_button, self.cancel_button, close_button):
            buttons.addWidget(b)
        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addLayout(form)
        layout.addWidget(self.status)
        layout.addWidget(self.bar)
        layout.addWidget(self.details, 1)
        layout.addLayout(buttons)
        self._fill_recent(recent or [])
        self.resize(640, 360)
        runner = controller.kernel_check
        runner.elapsed.connect(self._on_elapsed)
        runner.finished.connect(self._on_finished)
        runner.failed.connect(self._on_failed)
        self._running = False
        self._label = ""

    # ----- choosing -------------------------------------------------------------------------

    def _fill_recent(self, recent: Recent) -> None:
        self.recent_list.clear()
        for kernel, modules in recent:
            item = QListWidgetItem(kernel + (f"  (modules: {modules})" if modules else ""))
            item.setToolTip(kernel)
            item.setData(256, (kernel, modules))
            self.recent_list.addItem(item)
        self.form.setRowVisible(self.recent_list, bool(recent))

    def recent_entries(self) -> Recent:
        return [tuple(self.recent_list.item(i).data(256)) for i in range(self.recent_list.count())]

    def _on_recent_clicked(self, item: QListWidgetItem) -> None:
        kernel, modules = item.data(256)
        self.kernel_edit.setText(kernel)
        self.modules_edit.setText(modules)

    def _on_recent_double_clicked(self, item: QListWidgetItem) -> None:
        self._on_recent_clicked(item)
        self.run()

    def _choose_image(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Kernel image or linux-image package", "/boot",
                                              "Kernels and packages (vmlinuz* bzImage *.deb);;All files (*)")
        if path:
            self.kernel_edit.setText(path)

    def _choose_tree(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Built kernel tree")
        if path:
            self.kernel_edit.setText(path)

    def _choose_modules(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Modules folder")
        if path:
            self.modules_edit.setText(path)

    # ----- running --------------------------------------------------------------------------

    def choice(self) -> KernelChoice | str:
        """The KernelChoice to boot, or what is wrong with the fields (checked before anything starts)."""
        from ...kernelvm.remote_probe import KernelChoice

        kernel = self.kernel_edit.text().strip()
        modules = self.modules_edit.text().strip()
        if not kernel:
            return "Choose a kernel image, a built kernel tree or a linux-image .deb."
        if not os.path.exists(kernel):
            return f"Kernel: {kernel} does not exist."
        if modules and not os.path.isdir(modules):
            return f"Modules: {modules} is not a folder."
        if kernel.endswith(".deb"):
            if os.path.isdir(kernel):
                return f"Kernel: {kernel} is a folder, not a .deb package."
            return KernelChoice(kernel_package=kernel, modules=modules or None)
        return KernelChoice(kernel=kernel, modules=modules or None)

    def run(self) -> bool:
        """Validate and start the run (False when refused: the reason is shown)."""
        choice = self.choice()
        if isinstance(choice, str):
            self._show_error(choice)
            return False
        if not self.controller.check_kernel(choice):
            self._show_error("Another kernel is still being checked; wait for it or cancel it.")
            return False
        self._running = True
        self._label = os.path.basename(self.kernel_edit.text().strip().rstrip("/")) or "the kernel"
        self.details.hide()
        self.status.setStyleSheet("")
        self.status.setText(f"Booting {self._label} in a throwaway VM…")
        self.bar.show()
        self.run_button.setEnabled(False)
        self.cancel_button.show()
        return True

    def _on_elapsed(self, seconds: float) -> None:
        if self._running:
            self.status.setText(f"Booting {self._label} in a throwaway VM and probing the scenario there: "
                                f"{seconds:.0f} s")

    def _stopped(self) -> None:
        self._running = False
        self.bar.hide()
        self.cancel_button.hide()
        self.run_button.setEnabled(True)

    def _on_finished(self, verdict: HostVerdict) -> None:
        if not self._running:
            return
        self._stopped()
        if self.remember is not None:
            self._fill_recent(self.remember(self.kernel_edit.text().strip(), self.modules_edit.text().strip()))
        self.status.setText(f"{verdict.label}: {verdict.counts()} — shown in the Host column")
        self.accept()

    def _on_failed(self, failure: KernelFailure) -> None:
        if not self._running:
            return
        self._stopped()
        if failure.cause == "cancelled":
            self.status.setStyleSheet("")
            self.status.setText("Cancelled: the guest was stopped.")
            return
        text = failure.message + (f"\nFix: {failure.fix}" if failure.fix else "")
        self._show_error(text, failure.console)

    def _show_error(self, text: str, console: str = "") -> None:
        self.status.setStyleSheet(f"QLabel {{ color: {palette.CHIP_LEVELS['bad'][1]}; font-weight: bold; }}")
        self.status.setText(f"✖ {text}")
        self.details.setPlainText(console)
        self.details.setVisible(bool(console))

    def error_text(self) -> str:
        """What the dialog says went wrong ('' when nothing did)."""
        text = self.status.text()
        return text if text.startswith("✖") else ""

    def closeEvent(self, event) -> None:
        if self._running:
            self.controller.kernel_check.cancel()  # closing the dialog stops the guest as well
        super().closeEvent(event)
