"""File > Settings: default model, device, model cache folder, export defaults, theme and
overlay colour."""

from __future__ import annotations

from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from bgeraser_gui.backends.model_choice import available_models
from bgeraser_gui.core.compose import EXISTING_POLICIES, FORMATS
from bgeraser_gui.gui.appearance import OVERLAY_CHOICES, THEMES
from bgeraser_gui.gui.export_dialog import POLICIES
from bgeraser_gui.gui.settings import DEVICES, AppSettings


def _default_model_dir() -> str:
    """The folder models go to when the field is left empty (as the app runs now)."""
    from bgeraser_gui.backends.model_cache import model_dir

    return str(model_dir())


class SettingsDialog(QDialog):
    def __init__(self, settings: AppSettings, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Settings")
        self._settings = settings
        self.model_combo = QComboBox()
        for entry in available_models(settings.model_folder):
            self.model_combo.addItem(entry.label, entry.name)
        index = self.model_combo.findData(settings.default_model)
        if index < 0:
            self.model_combo.addItem(settings.default_model, settings.default_model)
            index = self.model_combo.count() - 1
        self.model_combo.setCurrentIndex(index)
        self.device_combo = QComboBox()
        self.device_combo.addItems(list(DEVICES))
        self.device_combo.setCurrentText(settings.device)
        self.cache_edit = QLineEdit(settings.model_folder)
        self.cache_edit.setPlaceholderText(f"default: {_default_model_dir()}")
        browse = QPushButton("Browse…")
        browse.clicked.connect(self._browse)
        cache_row = QHBoxLayout()
        cache_row.addWidget(self.cache_edit, 1)
        cache_row.addWidget(browse)
        defaults = settings.export_defaults()
        self.format_combo = QComboBox()
        self.format_combo.addItems(list(FORMATS))
        self.format_combo.setCurrentText(str(defaults.get("format", "png")))
        self.policy_combo = QComboBox()
        for policy in EXISTING_POLICIES:
            self.policy_combo.addItem(POLICIES.get(policy, policy), policy)
        policy_index = self.policy_combo.findData(str(defaults.get("existing", "number")))
        self.policy_combo.setCurrentIndex(max(policy_index, 0))
        self.pattern_edit = QLineEdit(str(defaults.get("name_pattern", "{stem}_cutout")))
        self.theme_combo = _choice_combo(THEMES, settings.theme)
        self.overlay_combo = _choice_combo(OVERLAY_CHOICES, settings.overlay_colour)

        form = QFormLayout()
        form.addRow("Default model", self.model_combo)
        form.addRow("Device", self.device_combo)
        form.addRow("Model cache folder", cache_row)
        form.addRow("Export format", self.format_combo)
        form.addRow("If the file exists", self.policy_combo)
        form.addRow("Export file name", self.pattern_edit)
        form.addRow("Theme", self.theme_combo)
        form.addRow("Overlay colour", self.overlay_combo)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(buttons)

    def _browse(self) -> None:
        folder = QFileDialog.getExistingDirectory(
            self, "Model cache folder", self.cache_edit.text()
        )
        if folder:
            self.cache_edit.setText(folder)

    def apply(self) -> None:
        """Write the form back to the settings (called after the dialog was accepted)."""
        s = self._settings
        s.default_model = str(self.model_combo.currentData())
        s.device = self.device_combo.currentText()
        s.model_folder = self.cache_edit.text().strip()
        defaults = s.export_defaults()
        defaults.update(
            format=self.format_combo.currentText(),
            existing=str(self.policy_combo.currentData()),
            name_pattern=self.pattern_edit.text().strip() or "{stem}_cutout",
        )
        s.set_export_defaults(defaults)
        s.theme = str(self.theme_combo.currentData())
        s.overlay_colour = str(self.overlay_combo.currentData())
        s.sync()


def _choice_combo(choices: dict[str, str], current: str) -> QComboBox:
    """A combo box of `choices` (value -> label); an unknown `current` (a "#rrggbb" colour from
    an older version or another tool) is kept as an extra entry."""
    combo = QComboBox()
    for value, label in choices.items():
        combo.addItem(label, value)
    if combo.findData(current) < 0:
        combo.addItem(current, current)
    combo.setCurrentIndex(combo.findData(current))
    return combo
