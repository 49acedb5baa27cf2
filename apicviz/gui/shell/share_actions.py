"""Sharing: export a picture that carries its scenario, copy a Markdown bug report."""
from __future__ import annotations

import os
from typing import Any

from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QAction, QGuiApplication, QKeySequence
from PySide6.QtWidgets import QFileDialog, QMessageBox, QWidget

from ...model.errors import ScenarioError, dialog_text
from ...model.report import bug_report
from ..controller.controller import Controller
from .file_actions import may_replace
from .picture import save_picture

#: A report or picture asked for right after an edit waits this long for the host check's rerun.
HOST_WAIT_S = 5.0


class ShareActions(QObject):
    """File > Export Picture (window / map alone) and Edit > Copy Bug Report."""

    message = Signal(str)

    def __init__(self, controller: Controller, window: QWidget, map_widget: QWidget) -> None:
        super().__init__(window)
        self.controller = controller
        self.window = window
        self.map_widget = map_widget
        self.export_window = QAction("Export &Picture of the Window…", window)
        self.export_window.setShortcut(QKeySequence("Ctrl+E"))
        self.export_window.setStatusTip(
            "Save a PNG of the window; it embeds the scenario, so it opens again in apicviz")
        self.export_window.triggered.connect(lambda: self.export(self.window))
        self.export_map = QAction("Export Picture of the &Map…", window)
        self.export_map.setShortcut(QKeySequence("Ctrl+Shift+E"))
        self.export_map.triggered.connect(lambda: self.export(self.map_widget))
        self.copy_report = QAction("Copy &Bug Report", window)
        self.copy_report.setShortcut(QKeySequence("Ctrl+Shift+C"))
        self.copy_report.setStatusTip(
            "Markdown: kernel, flags, vCPUs, map, every interrupt, and the scenario to reproduce")
        self.copy_report.triggered.connect(self.copy_bug_report)

    def export(self, widget: QWidget, path: str | None = None) -> bool:
        if path is None:
            base = os.path.splitext(os.path.basename(self.controller.path or "apicviz"))[0]
            base = base.removesuffix(".apicviz")
            path, _ = QFileDialog.getSaveFileName(self.window, "Export picture", base + ".png", "PNG pictures (*.png)")
            if not path:
                return False
            if not path.lower().endswith(".png"):
                path += ".png"
        try:
            replace = may_replace(self.window, path)
            if replace is None:
                return False
            save_picture(widget, self.controller.scenario, path, replace_read_only=replace,
                         kernels=self.kernel_checks())
        except (OSError, ScenarioError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            QMessageBox.critical(self.window, "Cannot export picture", dialog_text(path, reason))
            return False
        self.message.emit(f"Exported {path} (the scenario is embedded: open the PNG in apicviz to get it back)")
        return True

    def kernel_checks(self) -> list[dict[str, Any]]:
        """What real kernels said about the scenario as it is now (a pending host check is waited for)."""
        results = self.controller.host_results
        if results.pending:
            self.controller.host_check.wait(HOST_WAIT_S)
        return [verdict.report_json() for verdict in self.controller.host_results.current()]

    def report_text(self) -> str:
        sweep = self.controller.ensure_sweep()
        return bug_report(self.controller.evaluation, sweep=sweep, kernels=self.kernel_checks())

    def copy_bug_report(self) -> None:
        QGuiApplication.clipboard().setText(self.report_text())
        self.message.emit("Bug report copied to the clipboard as Markdown")
