"""Help: every keyboard shortcut (read from the window's own actions) and the shipped docs.

The shortcut list is generated, not written: an action added anywhere with a
shortcut appears in it, so the list cannot go stale. The docs are
docs/FORMAT.md and docs/KVM-BEHAVIOUR.md, package data of the wheel, shown
as Markdown in a viewer.
"""
from __future__ import annotations

from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QAbstractButton,
    QDialog,
    QDialogButtonBox,
    QHeaderView,
    QTableWidget,
    QTableWidgetItem,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

from ... import resources
from ...model.errors import shorten

DOCS = (("FORMAT.md", "File &Formats (FORMAT.md)"),
        ("KVM-BEHAVIOUR.md", "&KVM Behaviour per Kernel (KVM-BEHAVIOUR.md)"))


def _where(action: QAction, window: QWidget) -> str:
    """Where an action lives, named after its panel or menu (the table's own actions act in that table)."""
    parent = action.parent()
    while parent is not None and parent is not window:
        title = getattr(parent, "windowTitle", lambda: "")()
        if title:
            return title
        kind = getattr(parent, "kind", "")
        if kind:
            return {"vcpus": "vCPU table", "interrupts": "Interrupts table"}.get(kind, kind)
        parent = parent.parent()
    return "window"


def shortcut_rows(window: QWidget) -> list[tuple[str, str, str]]:
    """(what, keys, where) for every action and button of the window that has a shortcut."""
    rows: list[tuple[str, str, str]] = []
    seen: set[tuple[str, str]] = set()
    for action in window.findChildren(QAction):
        for seq in action.shortcuts():
            keys = seq.toString(QKeySequence.SequenceFormat.PortableText)
            what = action.text().replace("&", "").rstrip("…").strip() or action.toolTip()
            if keys and (what, keys) not in seen:
                seen.add((what, keys))
                rows.append((shorten(what, 80), keys, _where(action, window)))
    for button in window.findChildren(QAbstractButton):
        keys = button.shortcut().toString(QKeySequence.SequenceFormat.PortableText)
        if keys and (button.text(), keys) not in seen:
            seen.add((button.text(), keys))
            rows.append((button.text().replace("&", ""), keys, _where(button, window)))  # type: ignore[arg-type]
    return sorted(rows, key=lambda r: (r[2] != "window", r[2], r[0]))


class ShortcutsDialog(QDialog):
    """Help > Keyboard Shortcuts: a table of what, keys and where."""

    def __init__(self, window: QWidget) -> None:
        super().__init__(window)
        self.setWindowTitle("Keyboard shortcuts — apicviz")
        rows = shortcut_rows(window)
        self.table = QTableWidget(len(rows), 3, self)
        self.table.setHorizontalHeaderLabels(["Action", "Keys", "Where"])
        for r, row in enumerate(rows):
            for c, text in enumerate(row):
                self.table.setItem(r, c, QTableWidgetItem(text))
        self.table.verticalHeader().hide()
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.table.horizontalHeader().setStretchLastSection(True)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, self)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.table)
        layout.addWidget(buttons)
        width = sum(self.table.horizontalHeader().sectionSize(i) for i in range(3)) + 60
        self.resize(min(max(width, 520), 900), 560)


class DocViewer(QDialog):
    """One shipped document, rendered from its Markdown."""

    def __init__(self, name: str, window: QWidget) -> None:
        super().__init__(window)
        self.setWindowTitle(f"{name} — apicviz")
        self.browser = QTextBrowser(self)
        self.browser.setOpenExternalLinks(True)
        try:
            self.browser.setMarkdown(resources.doc_file(name).read_text(encoding="utf-8"))
        except OSError as exc:
            self.browser.setPlainText(f"{name} is missing from this installation: {exc.strerror or exc}")
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, self)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.browser)
        layout.addWidget(buttons)
        self.resize(900, 700)

    def text(self) -> str:
        return self.browser.toPlainText()


def build_help_menu(window, menu) -> None:
    """Keyboard shortcuts, the two documents, About."""
    shortcuts = menu.addAction("&Keyboard Shortcuts…")
    shortcuts.setShortcut(QKeySequence("Ctrl+/"))
    shortcuts.triggered.connect(lambda: ShortcutsDialog(window).exec())
    menu.addSeparator()
    for name, title in DOCS:
        action = menu.addAction(title + "…")
        action.triggered.connect(lambda _checked=False, n=name: DocViewer(n, window).exec())
    menu.addSeparator()
