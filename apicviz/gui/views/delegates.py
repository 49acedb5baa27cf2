"""Cell editors: a combo for choices, an editable combo for DFR and source, a line edit for numbers.

Ctrl+Enter in an editor applies the value to every selected row of that
column (one undo step) instead of just the edited cell.
"""
from __future__ import annotations

from PySide6.QtCore import QAbstractItemModel, QEvent, QModelIndex, QObject, QPersistentModelIndex, Qt
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QLineEdit,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QWidget,
)

from ...model.numbers import fmt_id
from ..viewmodels.columns import CHOICE, DFR, INT, MSI_TEXT, SOURCE, Column

Index = QModelIndex | QPersistentModelIndex


def _is_ctrl_enter(event: QEvent) -> bool:
    if event.type() not in (QEvent.Type.KeyPress, QEvent.Type.ShortcutOverride):
        return False
    assert isinstance(event, QKeyEvent)
    return (event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter)
            and bool(event.modifiers() & Qt.KeyboardModifier.ControlModifier))


class CellDelegate(QStyledItemDelegate):
    """One delegate for both tables; the model's Column says which editor to make."""

    def __init__(self, view: QAbstractItemView) -> None:
        super().__init__(view)
        self.view = view
        self._apply_to_selection = False

    def _column(self, index: Index) -> Column:
        return index.model().columns[index.column()]  # type: ignore[attr-defined]

    def createEditor(self, parent: QWidget, option: QStyleOptionViewItem, index: Index) -> QWidget:
        col = self._column(index)
        if col.editor in (CHOICE, DFR, SOURCE):
            combo = QComboBox(parent)
            if col.editor == CHOICE:
                combo.addItems(list(col.labels or col.choices))
                combo.activated.connect(lambda _i, c=combo: self._commit_and_close(c))
            else:
                combo.setEditable(True)
                combo.setInsertPolicy(QComboBox.InsertPolicy.NoInsert)
                if col.editor == DFR:
                    combo.addItems(["flat", "cluster"])
                else:
                    controller = index.model().controller  # type: ignore[attr-defined]
                    combo.addItem(MSI_TEXT)
                    combo.addItems([fmt_id(v.id) for v in controller.scenario.vcpus[:512] if v.present])
            combo.setToolTip(f"allowed: {col.range_text()}\nCtrl+Enter: set for every selected row")
            return combo
        edit = QLineEdit(parent)
        if col.editor == INT:
            edit.setPlaceholderText("hex 0x23 or decimal 35")
        edit.setToolTip(f"allowed: {col.range_text()}\nEnter: this cell; Ctrl+Enter: every selected row")
        return edit

    def setEditorData(self, editor: QWidget, index: Index) -> None:
        text = str(index.data(Qt.ItemDataRole.EditRole) or "")
        if isinstance(editor, QComboBox):
            found = editor.findText(text)
            if found >= 0:
                editor.setCurrentIndex(found)
            elif editor.isEditable():
                editor.setEditText(text)
            line = editor.lineEdit()
            if line is not None:
                line.selectAll()  # a typed value replaces the old one, as in a plain cell
        elif isinstance(editor, QLineEdit):
            editor.setText(text)
            editor.selectAll()

    def setModelData(self, editor: QWidget, model: QAbstractItemModel, index: Index) -> None:
        if isinstance(editor, QComboBox):
            text = editor.currentText()
        elif isinstance(editor, QLineEdit):
            text = editor.text()
        else:
            return
        if text == str(index.data(Qt.ItemDataRole.EditRole) or "") and not self._apply_to_selection:
            return  # nothing typed: no undo step
        rows = self.selected_rows() if self._apply_to_selection else []
        if len(rows) > 1 and index.row() in rows:
            model.set_for_rows(rows, index.column(), text)  # type: ignore[attr-defined]
        else:
            model.setData(index, text, Qt.ItemDataRole.EditRole)

    def selected_rows(self) -> list[int]:
        selection = self.view.selectionModel()
        return sorted({i.row() for i in selection.selectedIndexes()}) if selection is not None else []

    def updateEditorGeometry(self, editor: QWidget, option: QStyleOptionViewItem, index: Index) -> None:
        editor.setGeometry(option.rect)

    def eventFilter(self, editor: QObject, event: QEvent) -> bool:
        if _is_ctrl_enter(event):
            if event.type() == QEvent.Type.ShortcutOverride:
                event.accept()  # keep Ctrl+Enter for the editor, not a window shortcut
                return True
            self._apply_to_selection = True
            try:
                self._commit_and_close(editor)
            finally:
                self._apply_to_selection = False
            return True
        return super().eventFilter(editor, event)

    def _commit_and_close(self, editor: QObject) -> None:
        if isinstance(editor, QWidget):
            self.commitData.emit(editor)
            self.closeEditor.emit(editor, QStyledItemDelegate.EndEditHint.NoHint)
