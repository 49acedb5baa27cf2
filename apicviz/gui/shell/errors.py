"""Unexpected exceptions become a dialog, not a crash: the scenario stays open to be saved."""
from __future__ import annotations

import sys
import traceback
from collections.abc import Callable
from types import TracebackType

from PySide6.QtWidgets import QApplication, QMessageBox, QWidget

from ...model.errors import dialog_text

_showing = False


def show_exception(parent: QWidget | None, exc_type: type[BaseException], exc: BaseException,
                   tb: TracebackType | None) -> None:
    """A modal dialog with the message, the traceback under "Show Details"."""
    global _showing  # noqa: PLW0603 - one flag for the whole process: an error while the dialog is up
    if _showing or QApplication.instance() is None:
        return  # an error inside the dialog itself: stderr already has it
    _showing = True
    try:
        box = QMessageBox(parent)
        box.setIcon(QMessageBox.Icon.Critical)
        box.setWindowTitle("apicviz: unexpected error")
        box.setText(dialog_text(f"{exc_type.__name__}: {exc}"))
        box.setInformativeText("This is a bug in apicviz. Your scenario is still open: save it (File > Save As) "
                               "and report the details below.")
        box.setDetailedText("".join(traceback.format_exception(exc_type, exc, tb)))
        box.exec()
    finally:
        _showing = False


def install_excepthook(parent: Callable[[], QWidget | None]) -> Callable[..., None]:
    """Route uncaught exceptions (including those raised in Qt slots) to :func:`show_exception`."""
    previous = sys.excepthook

    def hook(exc_type: type[BaseException], exc: BaseException, tb: TracebackType | None) -> None:
        if issubclass(exc_type, KeyboardInterrupt):
            previous(exc_type, exc, tb)
            return
        sys.stderr.write("".join(traceback.format_exception(exc_type, exc, tb)))
        show_exception(parent(), exc_type, exc, tb)

    sys.excepthook = hook
    return previous
