"""The main window: assembles the map, the docks, the menus and the status bar. Nothing else."""
from __future__ import annotations

import os
from typing import TYPE_CHECKING

from PySide6.QtCore import QEvent, Qt, QTimer
from PySide6.QtGui import QCloseEvent, QDragEnterEvent, QDropEvent, QKeySequence
from PySide6.QtWidgets import QDockWidget, QMainWindow, QMessageBox, QScrollArea, QTabBar, QUndoView, QWidget

from ... import __version__
from ...model import BEHAVIOURS
from ...model.errors import MAX_STATUS_TEXT, shorten
from ..controller.controller import Controller
from ..views import palette
from ..views.attach_dialog import attach_interactively
from ..views.compare_view import CompareView
from ..views.explain_view import ExplainView
from ..views.import_dialog import import_interactively
from ..views.interrupt_model import InterruptTableModel
from ..views.kvm_panel import KvmPanel
from ..views.lesson_view import LessonView
from ..views.map_view import MapView
from ..views.status_summary import StatusSummary
from ..views.step_view import StepView
from ..views.sweep_view import SweepView
from ..views.table_panel import RowTablePanel
from ..views.topology_dialog import new_from_topology_interactively
from ..views.vcpu_model import VcpuTableModel
from . import layout, settings
from .examples_menu import build_examples_menu
from .file_actions import FileActions, display_name
from .fit_scroll import FitScrollArea
from .help_dialogs import build_help_menu
from .kvm_actions import KvmActions
from .presentation import PresentationZoom
from .share_actions import ShareActions

if TYPE_CHECKING:
    from .autosave import Autosaver

DEFAULT_SIZE = layout.DEFAULT_SIZE
MAP_MIN_WIDTH = layout.MAP_MIN_WIDTH
MESSAGE_MS = 8000
#: The scenario's title in the window title: enough for any real one, cut for a million-character one.
WINDOW_TITLE_CHARS = 120


class MainWindow(QMainWindow):
    def __init__(self, controller: Controller, parent: QWidget | None = None, *,
                 remember_settings: bool = True) -> None:
        super().__init__(parent)
        self.controller = controller
        #: False for headless pictures: the layout is neither restored nor saved.
        self.remember_settings = remember_settings
        self.setObjectName("apicviz-main")
        self.resize(*DEFAULT_SIZE)
        self.setAcceptDrops(True)
        self.setDockNestingEnabled(True)
        self.setCorner(Qt.Corner.BottomLeftCorner, Qt.DockWidgetArea.BottomDockWidgetArea)
        self.setCorner(Qt.Corner.BottomRightCorner, Qt.DockWidgetArea.BottomDockWidgetArea)

        self.map_view = MapView(controller)
        # The map scrolls and zooms; its labels may clip. It must not push the vCPU table off a 1280 px screen.
        self.map_view.setMinimumWidth(MAP_MIN_WIDTH)
        self.setCentralWidget(self.map_view)

        self.vcpu_model = VcpuTableModel(controller, self)
        self.vcpu_panel = RowTablePanel(controller, self.vcpu_model)
        self.interrupt_model = InterruptTableModel(controller, self)
        self.interrupt_panel = RowTablePanel(controller, self.interrupt_model)
        self.kvm_panel = KvmPanel(controller)
        self.sweep_view = SweepView(controller)
        self.explain_view = ExplainView(controller)
        self.compare_view = CompareView(controller)
        self.step_view = StepView(controller)
        self.undo_view = QUndoView(controller.undo_stack)
        self.undo_view.setEmptyLabel("(opened)")
        self.lesson_view = LessonView(controller)

        # Left: the vCPU table, and under it the lesson with Explain, KVM and the undo history as tabs.
        # Bottom, full width: interrupts (with sweep, compare and step as tabs), so every column fits.
        # The map keeps the centre, as wide as the window allows.
        self.vcpu_dock = self._dock("vcpus", "vCPUs (creation order)", self.vcpu_panel)
        self.interrupt_dock = self._dock("interrupts", "Interrupts", self.interrupt_panel)
        # Panels with rows of controls scroll instead of forcing the window wider than a small screen.
        self.sweep_dock = self._dock("sweep", "Sweep: every destination", _scrolled(self.sweep_view))
        self.kvm_dock = self._dock("kvm", "KVM", _scrolled(self.kvm_panel))
        self.history_dock = self._dock("history", "Undo history", self.undo_view)
        self.explain_dock = self._dock("explain", "Explain", self.explain_view)
        self.compare_dock = self._dock("compare", "Compare kernels", _scrolled(self.compare_view))
        self.step_dock = self._dock("steps", "Step through the recalculation", _scrolled(self.step_view))
        self.lesson_dock = self._dock("lesson", "Lesson", self.lesson_view)
        self.lesson_view.edit_requested.connect(self._on_edit_lesson)
        # Tabbed-away docks stay "visible" to Qt: these two only work while their tab is shown.
        self.compare_dock.visibilityChanged.connect(
            lambda shown: self.compare_view.set_active(shown, closed=self.compare_dock.isHidden()))
        self.step_dock.visibilityChanged.connect(self.step_view.set_active)
        for tall in (self.sweep_dock, self.step_dock, self.compare_dock):
            tall.visibilityChanged.connect(
                lambda shown, d=tall: shown and QTimer.singleShot(0, lambda: self._make_room(d)))
            area = tall.widget()
            if isinstance(area, FitScrollArea):
                area.short_of_height.connect(lambda _px, d=tall: self._make_room(d))
        self.step_view.progress_changed.connect(self.map_view.set_progress)  # the map as built so far
        # Placed once, in their final arrangement (re-arranging added docks leaves stray tab bars).
        self.addDockWidget(Qt.DockWidgetArea.LeftDockWidgetArea, self.vcpu_dock)
        self.splitDockWidget(self.vcpu_dock, self.lesson_dock, Qt.Orientation.Vertical)
        self.tabifyDockWidget(self.lesson_dock, self.explain_dock)
        self.tabifyDockWidget(self.explain_dock, self.kvm_dock)
        self.tabifyDockWidget(self.kvm_dock, self.history_dock)
        self.addDockWidget(Qt.DockWidgetArea.BottomDockWidgetArea, self.interrupt_dock)
        self.tabifyDockWidget(self.interrupt_dock, self.sweep_dock)
        self.tabifyDockWidget(self.sweep_dock, self.compare_dock)
        self.tabifyDockWidget(self.compare_dock, self.step_dock)
        self.interrupt_dock.raise_()
        self.lesson_dock.raise_()
        controller.interrupt_selection_changed.connect(self._on_interrupt_selected)
        self._layout_done = False
        self._state_restored = False
        self._pending_message = ""
        #: The arrangement above, before any remembered layout: View > Reset Layout goes back to it.
        self._default_state = self.saveState(layout.LAYOUT_VERSION)

        self.files = FileActions(controller, self)
        self.files.message.connect(self.show_message)
        self.share = ShareActions(controller, self, self.map_view)
        self.share.message.connect(self.show_message)
        self.kvm_actions = KvmActions(controller, self)
        self.kvm_actions.message.connect(self.show_message)
        self.zoom = PresentationZoom(self, getattr(self.map_view, "grid", None))
        self.zoom.fitted.connect(self._on_zoom_fitted)
        self.zoom.refused.connect(self.show_message)
        #: Set by create_main_window when autosave is on; discarded on a clean close.
        self.autosaver: Autosaver | None = None
        self.summary = StatusSummary(controller, self)
        self.statusBar().setSizeGripEnabled(False)  # the chips need every pixel at 1280 px
        self.statusBar().addWidget(self.summary, 1)
        self.statusBar().addPermanentWidget(self.kvm_actions.progress)
        self.statusBar().messageChanged.connect(self._on_message_changed)
        self._build_menus()

        controller.file_state_changed.connect(self._on_file_state_changed)
        controller.kvm_changed.connect(self._on_file_state_changed)  # the title is in the window title
        controller.edit_refused.connect(self._on_edit_refused)
        controller.undo_stack.indexChanged.connect(self._on_undo_index_changed)
        self._on_file_state_changed()

    def default_layout(self) -> None:
        """Dock sizes for a first start, from what the tables need at the current font."""
        layout.fit_docks(self)

    def reset_layout(self) -> None:
        """View > Reset Layout: docks, columns and size as on a first start (the zoom stays)."""
        self.restoreState(self._default_state, layout.LAYOUT_VERSION)
        for dock in (self.interrupt_dock, self.lesson_dock):
            dock.raise_()
        for panel in (self.vcpu_panel, self.interrupt_panel):
            panel.default_columns()
        if not self.isMaximized() and not self.isFullScreen():
            self.resize(*layout.default_size(self))
            layout.fit_to_screen(self)
        QTimer.singleShot(0, self, self.default_layout)

    def showEvent(self, event) -> None:
        first = not self._layout_done
        if first:
            self._layout_done = True
            if self.remember_settings:
                layout.fit_to_screen(self)
            if not self._state_restored:
                self.default_layout()  # estimated before the first layout, measured once laid out:
                QTimer.singleShot(0, self, self.default_layout)
        super().showEvent(event)
        if first and self._state_restored:
            QTimer.singleShot(0, self, self.check_restored_layout)
        if self._pending_message:
            text, self._pending_message = self._pending_message, ""
            QTimer.singleShot(0, self, lambda: self.show_message(text))

    def check_restored_layout(self) -> list[str]:
        """A remembered layout that no longer works is replaced by the default and forgotten."""
        problems = layout.layout_problems(self)
        if problems:
            settings.clear_window()
            self._state_restored = False
            self.reset_layout()
            self.show_message(f"The saved window layout did not fit ({problems[0]}): using the default layout")
        return problems

    def _on_zoom_fitted(self, _factor: float) -> None:
        """After a zoom step: columns refit (done by the zoom), docks resized, window kept on screen."""
        if self.isVisible():
            self._sync_summary()
            if self.remember_settings:
                layout.fit_to_screen(self)
            self.default_layout()
            QTimer.singleShot(0, self, self.zoom.cap_map_to_width)
            if self.remember_settings:
                QTimer.singleShot(0, self, lambda: layout.fit_to_screen(self))

    def _on_interrupt_selected(self, row: int) -> None:
        """A chosen interrupt is explained at once when the lesson has that place (other tabs stay)."""
        if row >= 0 and not self.lesson_dock.isHidden() and not self.lesson_view.visibleRegion().isEmpty() \
                and self.tabifiedDockWidgets(self.lesson_dock).count(self.explain_dock):
            self.explain_dock.raise_()

    def _on_edit_lesson(self) -> None:
        self.kvm_dock.show()
        self.kvm_dock.raise_()
        self.kvm_panel.notes.setFocus()

    def _make_room(self, dock: QDockWidget) -> None:
        """Grow a bottom tab that was raised until its view fits without scrolling (never shrinks it).

        The heat map needs a text line per sender row; the map above gives way, up to half the window.
        """
        area = dock.widget()
        # Only the tab on top: a call queued while it was raised may run after another tab (or Reset
        # Layout) took its place, and resizing its tab group then would resize the other tab.
        if not isinstance(area, FitScrollArea) or dock.isFloating() or dock.visibleRegion().isEmpty():
            return
        # Only what the map and the left column hold above their own minimums: growing past that would
        # squeeze the status bar (its chips elided) or make Qt grow the window.
        central = self.centralWidget()
        spare = [central.height() - central.minimumSizeHint().height()] if central is not None else []
        left = [d for d in (self.vcpu_dock, self.lesson_dock) if not d.isFloating() and not d.isHidden()]
        if left:
            spare.append(sum(d.height() - d.minimumSizeHint().height() for d in left))
        short = min([area.shortfall(), *spare])
        if short > 0:
            # resizeDocks sizes a tab group with its tab bar; the dock's own height leaves the bar out.
            bar = max((b.height() for b in self.findChildren(QTabBar) if b.isVisible()
                       and dock.windowTitle() in (b.tabText(i) for i in range(b.count()))), default=0)
            self.resizeDocks([dock], [min(dock.height() + bar + short, self.height() // 2)], Qt.Orientation.Vertical)

    def _dock(self, name: str, title: str, widget: QWidget) -> QDockWidget:
        dock = QDockWidget(title, self)
        dock.setObjectName(f"dock-{name}")
        dock.setWidget(widget)
        dock.setFeatures(QDockWidget.DockWidgetFeature.DockWidgetMovable
                         | QDockWidget.DockWidgetFeature.DockWidgetFloatable
                         | QDockWidget.DockWidgetFeature.DockWidgetClosable)
        return dock

    def _build_menus(self) -> None:
        bar = self.menuBar()
        file_menu = bar.addMenu("&File")
        file_menu.addAction(self.files.new)
        file_menu.addAction(self.files.open)
        file_menu.addMenu(self.files.recent_menu)
        file_menu.addMenu(build_examples_menu(self, self.controller, self.files.maybe_save, files=self.files))
        import_action = file_menu.addAction("&Import APIC State…")
        import_action.setShortcut(QKeySequence("Ctrl+I"))
        import_action.setStatusTip("KVM_GET_LAPIC register pages or QEMU 'info lapic' text")
        import_action.triggered.connect(lambda: import_interactively(self, self.controller, self.files.maybe_save))
        attach_action = file_menu.addAction("&Attach to QEMU…")
        attach_action.setStatusTip("Read a running QEMU's vCPUs over its QMP socket")
        attach_action.triggered.connect(self.attach_to_qemu)
        topology_action = file_menu.addAction("New from QEMU &Topology…")
        topology_action.setStatusTip("The vCPUs QEMU creates for an -smp value, with QEMU's APIC IDs")
        topology_action.triggered.connect(
            lambda: new_from_topology_interactively(self, self.controller, self.files.maybe_save, self.show_message))
        file_menu.addSeparator()
        file_menu.addAction(self.files.save)
        file_menu.addAction(self.files.save_as)
        file_menu.addSeparator()
        file_menu.addAction(self.share.export_window)
        file_menu.addAction(self.share.export_map)
        file_menu.addSeparator()
        file_menu.addAction(self.files.quit)

        edit_menu = bar.addMenu("&Edit")
        stack = self.controller.undo_stack
        self.undo_action = stack.createUndoAction(self, "&Undo")
        self.undo_action.setShortcut(QKeySequence.StandardKey.Undo)
        self.redo_action = stack.createRedoAction(self, "&Redo")
        self.redo_action.setShortcuts([QKeySequence("Ctrl+Shift+Z"), QKeySequence("Ctrl+Y")])
        edit_menu.addAction(self.undo_action)
        edit_menu.addAction(self.redo_action)
        edit_menu.addSeparator()
        edit_menu.addAction(self.share.copy_report)
        edit_menu.addSeparator()
        for title, panel in (("vCPUs", self.vcpu_panel), ("Interrupts", self.interrupt_panel)):
            sub = edit_menu.addMenu(title)
            for action in panel.actions_by_name.values():
                sub.addAction(action)

        view_menu = bar.addMenu("&View")
        for dock in (self.vcpu_dock, self.lesson_dock, self.explain_dock, self.kvm_dock, self.history_dock,
                     self.interrupt_dock, self.sweep_dock, self.compare_dock, self.step_dock):
            view_menu.addAction(dock.toggleViewAction())
        view_menu.addSeparator()
        for action in (self.zoom.zoom_in, self.zoom.zoom_out, self.zoom.reset):
            view_menu.addAction(action)
        view_menu.addSeparator()
        self.reset_layout_action = view_menu.addAction("Reset &Layout")
        self.reset_layout_action.setStatusTip("Panels, columns and window size as on a first start")
        self.reset_layout_action.triggered.connect(self.reset_layout)

        self.kvm_actions.build_menu(bar.addMenu("&KVM"))

        help_menu = bar.addMenu("&Help")
        self.help_menu = help_menu
        build_help_menu(self, help_menu)
        about = help_menu.addAction("&About apicviz")
        about.triggered.connect(self.show_about)

    # ----- window state ------------------------------------------------------

    def attach_to_qemu(self):
        """File > Attach to QEMU…; returns the background runner (or None when cancelled)."""
        store = settings.settings()
        return attach_interactively(self, self.controller, self.files.maybe_save, self.show_message,
                                    last_socket=str(store.value("attach/last_socket", "") or ""),
                                    remember=lambda address: store.setValue("attach/last_socket", address))

    def restore_layout(self) -> None:
        """The remembered layout of the same layout version; checked again once the window is shown."""
        geometry = settings.window_geometry(layout.LAYOUT_VERSION)
        state = settings.window_state(layout.LAYOUT_VERSION)
        if geometry is not None and not self.restoreGeometry(geometry):
            settings.clear_window()
            return
        if state is not None:
            self._state_restored = self.restoreState(state, layout.LAYOUT_VERSION)
            if not self._state_restored:
                settings.clear_window()
                self.restoreState(self._default_state, layout.LAYOUT_VERSION)

    def save_layout(self) -> None:
        settings.save_window(self.saveGeometry(), self.saveState(layout.LAYOUT_VERSION), layout.LAYOUT_VERSION)

    def closeEvent(self, event: QCloseEvent) -> None:
        if not self.files.maybe_save():
            event.ignore()
            return
        if self.remember_settings:
            self.save_layout()
        if self.autosaver is not None:
            self.autosaver.discard()  # a clean exit: nothing to restore next time
        self.controller.shutdown()  # no background sweep outlives the window
        event.accept()

    # ----- drag and drop -----------------------------------------------------

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if _dropped_file(event) is not None:
            event.acceptProposedAction()
        else:
            event.ignore()

    def dropEvent(self, event: QDropEvent) -> None:
        path = _dropped_file(event)
        if path is None:
            event.ignore()
            return
        event.acceptProposedAction()
        self.files.open_path(path)

    # ----- reactions ---------------------------------------------------------

    def _on_file_state_changed(self) -> None:
        """The scenario's title first (what a projector audience reads), then the file, then the program."""
        marker = "*" if self.controller.dirty else ""
        example = self.files.example_name
        name = f"example {example}" if example and self.controller.path is None else display_name(self.controller.path)
        title = " ".join(shorten(self.controller.scenario.title, WINDOW_TITLE_CHARS).split())
        self.setWindowTitle(" — ".join(part for part in (title, f"{name}{marker}", "apicviz") if part))
        self.setWindowFilePath(self.controller.path or "")

    def show_message(self, text: str) -> None:
        """A passing message; it covers the summary for a few seconds."""
        if not self.isVisible():
            # QStatusBar hides its widgets for a message, but show() brings them back on top of it:
            # show the message again once the window is up.
            self._pending_message = text
        self.statusBar().showMessage(shorten(text, MAX_STATUS_TEXT), MESSAGE_MS)

    def _on_edit_refused(self, message: str) -> None:
        self.show_message(f"✖ {message}")
        self.statusBar().setStyleSheet(palette.REFUSAL_CSS)

    def _on_undo_index_changed(self, _index: int) -> None:
        if self.statusBar().currentMessage().startswith("✖"):
            self.statusBar().clearMessage()  # an edit went through: the old refusal is stale

    def _on_message_changed(self, text: str) -> None:
        if not text:
            self.statusBar().setStyleSheet("")
        self._sync_summary()

    def content_fits(self) -> bool:
        """The map's wrapped text leaves the grid the height it needs (else the grid and the logical map
        would be drawn over each other)."""
        view = self.map_view
        if not view.isVisible():
            return True
        box = view.layout()
        if box is not None and box.minimumHeightForWidth(view.width()) > view.height() + 2:
            return False
        grid = view.grid
        return grid.height() >= grid.minimumHeight() and not (
            view.logical.isVisible() and view.logical.geometry().intersects(grid.geometry()))

    def _sync_summary(self) -> None:
        """The chips give way to a passing message and come back after it (a zoom must not show them
        under the message's text)."""
        self.summary.setVisible(not self.statusBar().currentMessage())

    def show_about(self) -> None:
        QMessageBox.about(self, "About apicviz", about_text())

    def event(self, event: QEvent) -> bool:
        # Hovering a menu item must not wipe a refusal message the user has not read yet.
        if event.type() == QEvent.Type.StatusTip and self.statusBar().currentMessage().startswith("✖"):
            return True
        return super().event(event)


def about_text() -> str:
    ranges = "".join(f"<li><b>{b.name}</b>: kernels {b.kernels}</li>" for b in BEHAVIOURS)
    return (f"<h3>apicviz {__version__}</h3>"
            "<p>Shows how Linux KVM builds its optimized local-APIC map "
            "(<code>kvm_recalculate_apic_map()</code>) and where every interrupt goes.</p>"
            f"<p>Supported kernels, by behaviour range:</p><ul>{ranges}</ul>"
            "<p>A kernel newer than the newest known release behaves as upstream.</p>")


def _scrolled(widget: QWidget) -> QScrollArea:
    """``widget`` in a frameless scroll area: it keeps its layout, the window keeps its minimum small."""
    return FitScrollArea(widget)


def _dropped_file(event: QDragEnterEvent | QDropEvent) -> str | None:
    mime = event.mimeData()
    if not mime.hasUrls():
        return None
    for url in mime.urls():
        if url.isLocalFile() and os.path.isfile(url.toLocalFile()):
            return url.toLocalFile()
    return None
