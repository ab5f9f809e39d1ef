"""Help > Keyboard shortcuts: every action with its shortcut, searchable and editable."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QKeySequence
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QHeaderView,
    QKeySequenceEdit,
    QLabel,
    QLineEdit,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from bgeraser_gui.gui.actions import ACTION_SPECS, ActionRegistry, format_shortcuts
from bgeraser_gui.gui.objects_panel import OBJECT_KEYS

COLUMNS = ("Action", "Menu", "Shortcut")


def shortcut_rows(registry: ActionRegistry) -> list[tuple[str | None, str, str, str]]:
    """(action id, text, menu, shortcuts) for every action, in menu order, then the fixed keys
    of the Objects panel (action id None: not editable here)."""
    fixed = [(None, text, menu, keys) for text, menu, keys in OBJECT_KEYS]
    return [
        (
            spec.id,
            spec.text.replace("&", "").rstrip("…"),
            spec.menu,
            format_shortcuts(registry.shortcuts(spec.id)),
        )
        for spec in ACTION_SPECS
    ] + fixed


class ShortcutsDialog(QDialog):
    def __init__(self, registry: ActionRegistry, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Keyboard shortcuts")
        self.resize(620, 640)
        self._registry = registry

        self.filter_edit = QLineEdit(placeholderText="Filter actions or keys…")
        self.filter_edit.textChanged.connect(self._apply_filter)
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.verticalHeader().hide()
        self.table.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        self.table.itemSelectionChanged.connect(self._on_selection)

        self.key_edit = QKeySequenceEdit()
        self.key_edit.setMaximumSequenceLength(1)
        self.assign_button = QPushButton("&Assign")
        self.assign_button.clicked.connect(self._assign)
        self.clear_button = QPushButton("&Clear")
        self.clear_button.clicked.connect(lambda: self._set_keys(()))
        self.default_button = QPushButton("&Default")
        self.default_button.clicked.connect(self._restore_default)
        self.reset_all_button = QPushButton("Reset &all")
        self.reset_all_button.clicked.connect(self._reset_all)
        self.message = QLabel()
        self.message.setWordWrap(True)

        edit_row = QHBoxLayout()
        edit_row.addWidget(QLabel("New shortcut:"))
        edit_row.addWidget(self.key_edit, 1)
        for button in (self.assign_button, self.clear_button, self.default_button):
            edit_row.addWidget(button)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        buttons.addButton(self.reset_all_button, QDialogButtonBox.ButtonRole.ResetRole)

        layout = QVBoxLayout(self)
        layout.addWidget(self.filter_edit)
        layout.addWidget(self.table, 1)
        layout.addLayout(edit_row)
        layout.addWidget(self.message)
        layout.addWidget(buttons)
        self._fill()

    def _fill(self) -> None:
        selected = self.selected_action_id()
        rows = shortcut_rows(self._registry)
        self.table.setRowCount(len(rows))
        for row, (action_id, text, menu, keys) in enumerate(rows):
            for col, value in enumerate((text, menu, keys)):
                item = QTableWidgetItem(value)
                item.setData(Qt.ItemDataRole.UserRole, action_id)
                self.table.setItem(row, col, item)
            if action_id == selected:
                self.table.selectRow(row)
        self._apply_filter(self.filter_edit.text())

    def _apply_filter(self, text: str) -> None:
        needle = text.strip().lower()
        for row in range(self.table.rowCount()):
            cells = (self.table.item(row, c).text().lower() for c in range(len(COLUMNS)))
            self.table.setRowHidden(row, bool(needle) and not any(needle in c for c in cells))

    def selected_action_id(self) -> str | None:
        items = self.table.selectedItems()
        return items[0].data(Qt.ItemDataRole.UserRole) if items else None

    def select_action(self, action_id: str) -> None:
        for row in range(self.table.rowCount()):
            if self.table.item(row, 0).data(Qt.ItemDataRole.UserRole) == action_id:
                self.table.selectRow(row)
                return

    def _on_selection(self) -> None:
        action_id = self.selected_action_id()
        keys = self._registry.shortcuts(action_id) if action_id else ()
        self.key_edit.setKeySequence(QKeySequence(keys[0]) if keys else QKeySequence())
        self.message.clear()
        if action_id is None and self.table.selectedItems():
            self.message.setText("A fixed key of the Objects panel: it cannot be changed.")

    def _assign(self) -> None:
        seq = self.key_edit.keySequence()
        text = seq.toString(QKeySequence.SequenceFormat.PortableText)
        self._set_keys((text,) if text else ())

    def _restore_default(self) -> None:
        from bgeraser_gui.gui.actions import SPECS_BY_ID

        action_id = self.selected_action_id()
        if action_id:
            self._set_keys(SPECS_BY_ID[action_id].shortcuts)

    def _set_keys(self, keys: tuple[str, ...]) -> None:
        action_id = self.selected_action_id()
        if action_id is None:
            self.message.setText("Select an action first.")
            return
        clashes = self._registry.conflicts(action_id, keys)
        if clashes:
            names = ", ".join(self._registry.action(c).text().replace("&", "") for c in clashes)
            self.message.setText(f"{format_shortcuts(keys)} is already used by: {names}.")
            return
        self._registry.set_shortcuts(action_id, keys)
        self._fill()
        self.message.setText("Saved.")

    def _reset_all(self) -> None:
        self._registry.reset_all()
        self._fill()
        self.message.setText("All shortcuts restored to their defaults.")
