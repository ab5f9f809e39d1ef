"""History dock: every undoable step (strokes, model runs, refinements); click to jump."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QListWidget, QListWidgetItem, QVBoxLayout, QWidget

from bgeraser_gui.core.history import History

ORIGIN_LABEL = "Opened image"


class HistoryPanel(QWidget):
    """Row 0 is the state when the image was opened; row i is after entry i."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.list = QListWidget()
        self.list.setObjectName("historyList")
        # long labels ("Segment (ISNet general-use, fp16 …)") end in "…"; the tooltip has all
        self.list.setTextElideMode(Qt.TextElideMode.ElideRight)
        self.list.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.list.itemClicked.connect(self._jump)
        self.memory_label = QLabel()
        self.memory_label.setObjectName("historyMemory")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.list, 1)
        layout.addWidget(self.memory_label)
        self._history: History | None = None
        self._target: object | None = None

    def set_history(self, history: History | None, target: object | None) -> None:
        if self._history is not None:
            self._history.remove_listener(self._on_change)
        self._history, self._target = history, target
        if history is not None:
            history.add_listener(self._on_change)
        self._on_change(history)

    def _on_change(self, history: History | None) -> None:
        self.list.clear()
        if history is None:
            self.memory_label.clear()
            return
        first = "Earlier steps (dropped)" if history.dropped else ORIGIN_LABEL
        for row, label in enumerate([first, *history.labels()]):
            item = QListWidgetItem(label)
            item.setToolTip(label)
            item.setData(Qt.ItemDataRole.UserRole, row)
            if row > history.index:
                item.setForeground(self.palette().placeholderText())
            self.list.addItem(item)
        self.list.setCurrentRow(history.index)
        self.memory_label.setText(f"Undo memory: {history.memory_bytes / 1e6:.1f} MB")

    def _jump(self, item: QListWidgetItem) -> None:
        if self._history is not None and self._target is not None:
            self._history.goto(self._target, int(item.data(Qt.ItemDataRole.UserRole)))
