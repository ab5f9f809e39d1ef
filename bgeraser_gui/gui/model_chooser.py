"""Toolbar model chooser: registry and imported models, plus "Import model file…".

What the models are called and which one is the default: backends.model_choice."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QComboBox, QWidget

from bgeraser_gui.backends.model_choice import available_models

IMPORT_ITEM = "__import__"
IMPORT_TEXT = "Import model file…"


class ModelChooser(QComboBox):
    modelChosen = Signal(str)
    importRequested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("modelChooser")
        self.setToolTip("Segmentation model (Ctrl+Shift+M)")
        self.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        self._current = ""
        self.activated.connect(self._on_activated)

    def reload(self, current: str, folder: str | None = None) -> None:
        """Re-read the model list of the model folder `folder` (the settings' choice; after an
        import or a change of folder) and select `current`."""
        self.blockSignals(True)
        self.clear()
        try:
            entries = available_models(folder)
        except Exception as exc:  # a broken manifest must not take the window down
            entries = []
            self.setToolTip(f"Model list unavailable: {exc}")
        for entry in entries:
            self.addItem(entry.label, entry.name)
            self.setItemData(self.count() - 1, entry.tooltip, role=3)  # Qt.ToolTipRole
        if current and self.findData(current) < 0:
            self.addItem(Path(current).name, current)
        self.insertSeparator(self.count())
        self.addItem(IMPORT_TEXT, IMPORT_ITEM)
        self.blockSignals(False)
        self.select(current)

    def select(self, name: str) -> None:
        self._current = name
        index = self.findData(name)
        if index >= 0:
            self.setCurrentIndex(index)

    def _on_activated(self, index: int) -> None:
        name = self.itemData(index)
        if name == IMPORT_ITEM:
            self.select(self._current)
            self.importRequested.emit()
        elif name and name != self._current:
            self._current = name
            self.modelChosen.emit(name)
