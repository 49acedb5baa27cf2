"""The lesson panel: the scenario's title and notes, large enough to read in a classroom.

An example teaches through its notes; in the KVM tab they sat in a narrow
editor. Here they are shown read-only, as paragraphs, beside the vCPU table;
"Edit…" leads to the fields in the KVM tab, which own the editing.
"""
from __future__ import annotations

import html
import re

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QTextOption
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QTextBrowser, QVBoxLayout, QWidget

from ...model.errors import shorten
from ..controller.controller import Controller

#: What the panel shows of a title and of the notes (a valid scenario may hold a million characters).
TITLE_CHARS = 300
NOTES_CHARS = 20_000
#: A word this long cannot wrap at a word boundary: Qt's search for one is quadratic.
_LONG_WORD = re.compile(r"\S{200}")
PLACEHOLDER = ("This scenario has no notes yet. Write what it shows in the KVM tab (Title, Notes): "
               "they are saved with it and shown here.")


class LessonView(QWidget):
    """Title and notes of the current scenario; follows every edit, undo and open."""

    #: The user wants to edit the title and notes (the window shows the KVM tab).
    edit_requested = Signal()

    def __init__(self, controller: Controller, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.controller = controller
        self.title = QLabel(self)
        self.title.setWordWrap(True)
        self.title.setTextFormat(Qt.TextFormat.PlainText)
        font = self.title.font()
        font.setBold(True)
        self.title.setFont(font)
        self.edit_button = QPushButton("Edit…", self)
        self.edit_button.setToolTip("Edit the title and notes (KVM tab)")
        self.edit_button.clicked.connect(self.edit_requested)
        self.notes = QTextBrowser(self)
        self.notes.setOpenExternalLinks(False)
        self.notes.setFrameShape(QTextBrowser.Shape.NoFrame)
        head = QHBoxLayout()
        head.setContentsMargins(0, 0, 0, 0)
        head.addWidget(self.title, 1)
        head.addWidget(self.edit_button, 0, Qt.AlignmentFlag.AlignTop)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 4, 6, 4)
        self.layout_margins = layout.contentsMargins()
        layout.setSpacing(2)
        layout.addLayout(head)
        layout.addWidget(self.notes, 1)
        controller.kvm_changed.connect(self._on_kvm_changed)
        controller.scenario_replaced.connect(self._on_kvm_changed)
        self._on_kvm_changed()

    def _on_kvm_changed(self) -> None:
        s = self.controller.scenario
        title = shorten(s.title, TITLE_CHARS)
        self.title.setText(title or "(untitled scenario)")
        self.title.setWordWrap(_LONG_WORD.search(title) is None)
        if s.notes.strip():
            notes = shorten(s.notes, NOTES_CHARS)
            self.notes.setWordWrapMode(QTextOption.WrapMode.WrapAnywhere if _LONG_WORD.search(notes)
                                       else QTextOption.WrapMode.WrapAtWordBoundaryOrAnywhere)
            paragraphs = [p.strip() for p in notes.split("\n") if p.strip()]
            self.notes.setHtml("".join(f"<p>{html.escape(p)}</p>" for p in paragraphs))
        else:
            self.notes.setHtml(f"<p style='color:#606060'><i>{html.escape(PLACEHOLDER)}</i></p>")

    def text(self) -> str:
        """Title and notes as shown (what tests and screenshots read)."""
        return f"{self.title.text()}\n{self.notes.toPlainText()}"

    def wanted_height(self, width: int) -> int:
        """Height that shows the whole lesson at ``width`` (the dock is sized from it)."""
        doc = self.notes.document().clone(self)
        doc.setTextWidth(max(50, width - 16))
        m = self.layout_margins
        title_h = max(self.title.heightForWidth(max(50, width - self.edit_button.sizeHint().width() - 16)),
                      self.edit_button.sizeHint().height())
        height = int(doc.size().height()) + title_h + m.top() + m.bottom() + 8
        doc.deleteLater()
        return height
