"""Export dialog: format, background, mask only, crop, resize, watermark, existing-file policy.

`ExportDialog.result_options()` returns a validated `core.compose.ExportOptions` and the output
folder; invalid combinations (e.g. JPEG on transparent) are reported inline, never raised.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QCheckBox,
    QColorDialog,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from bgeraser_gui.core.compose import FORMATS, ExportOptions, output_path_for
from bgeraser_gui.core.layered_export import LAYERED_FORMATS
from bgeraser_gui.core.watermark import POSITIONS, Watermark

BACKGROUNDS = ("transparent", "colour", "image")
FORMAT_TIPS = {
    "png": "PNG with transparency; 16-bit when the photo is 16-bit",
    "webp": "lossless WebP with transparency (8-bit)",
    "tiff": "TIFF with transparency; 16-bit when the photo is 16-bit",
    "jpeg": "JPEG, flattened onto a background (8-bit)",
    "ora": "OpenRaster layers (GIMP, Krita, MyPaint): the cutout, one layer per object, the original",
    "psd": "Photoshop layers (Photoshop, Affinity, GIMP, Photopea): the cutout, one layer per "
    "object with a layer mask, the original",
}
POLICIES = {"number": "Add a number", "skip": "Skip", "overwrite": "Overwrite"}


def _row(*widgets: QWidget) -> QWidget:
    box = QWidget()
    layout = QHBoxLayout(box)
    layout.setContentsMargins(0, 0, 0, 0)
    for widget in widgets:
        layout.addWidget(widget)
    return box


class ExportDialog(QDialog):
    def __init__(
        self,
        options: ExportOptions,
        out_dir: str,
        input_path: Path | None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Export cutout")
        self._input_path = input_path
        self._color = QColor("#ffffff")
        self._options: ExportOptions | None = None

        self.folder_edit = QLineEdit(out_dir)
        browse = QPushButton("Browse…")
        browse.clicked.connect(self._browse_folder)
        self.pattern_edit = QLineEdit(options.name_pattern)
        self.format_combo = QComboBox()
        for key in FORMATS:  # the key is the item's text (as on the command line)
            self.format_combo.addItem(key, key)
            tip = FORMAT_TIPS.get(key, "")
            self.format_combo.setItemData(
                self.format_combo.count() - 1, tip, Qt.ItemDataRole.ToolTipRole
            )
        self.background_combo = QComboBox()
        self.background_combo.addItems(list(BACKGROUNDS))
        self.color_button = QPushButton()
        self.color_button.clicked.connect(self._pick_color)
        self.bg_image_edit = QLineEdit(placeholderText="background image file")
        bg_browse = QPushButton("…")
        bg_browse.clicked.connect(self._browse_background)
        self.mask_only_check = QCheckBox("Export the mask only (PNG)")
        self.crop_check = QCheckBox("Crop to subject, margin")
        self.margin_spin = QSpinBox(suffix=" px", maximum=10_000)
        self.resize_check = QCheckBox("Resize, longest side")
        self.resize_spin = QSpinBox(suffix=" px", minimum=1, maximum=100_000, value=2000)
        self.watermark_edit = QLineEdit(placeholderText="watermark text (empty = none)")
        self.watermark_position = QComboBox()
        self.watermark_position.addItems(list(POSITIONS))
        self.watermark_opacity = QDoubleSpinBox(minimum=0.0, maximum=1.0, singleStep=0.1)
        self.watermark_opacity.setValue(0.5)
        self.policy_combo = QComboBox()
        for key, text in POLICIES.items():
            self.policy_combo.addItem(text, key)
        self.preview_label = QLabel()
        self.error_label = QLabel()
        self.error_label.setStyleSheet("color: #d9534f")
        self.error_label.setWordWrap(True)

        form = QFormLayout()
        form.addRow("Folder", _row(self.folder_edit, browse))
        form.addRow("File name", self.pattern_edit)
        form.addRow("Format", self.format_combo)
        form.addRow("Background", _row(self.background_combo, self.color_button))
        form.addRow("Background image", _row(self.bg_image_edit, bg_browse))
        form.addRow("", self.mask_only_check)
        form.addRow(self.crop_check, self.margin_spin)
        form.addRow(self.resize_check, self.resize_spin)
        form.addRow("Watermark", self.watermark_edit)
        form.addRow("", _row(self.watermark_position, QLabel("opacity"), self.watermark_opacity))
        form.addRow("If the file exists", self.policy_combo)
        form.addRow("Will write", self.preview_label)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel
        )
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.error_label)
        layout.addWidget(buttons)

        self._load(options)
        for signal in (
            self.folder_edit.textChanged,
            self.pattern_edit.textChanged,
            self.format_combo.currentIndexChanged,
            self.background_combo.currentIndexChanged,
            self.bg_image_edit.textChanged,
            self.mask_only_check.toggled,
            self.crop_check.toggled,
            self.resize_check.toggled,
            self.watermark_edit.textChanged,
            self.margin_spin.valueChanged,
            self.resize_spin.valueChanged,
            self.watermark_position.currentIndexChanged,
            self.watermark_opacity.valueChanged,
            self.policy_combo.currentIndexChanged,
        ):
            signal.connect(self._update)
        self._update()

    def _load(self, o: ExportOptions) -> None:
        self.format_combo.setCurrentIndex(max(0, self.format_combo.findData(o.format)))
        if isinstance(o.background, Path):
            self.background_combo.setCurrentText("image")
            self.bg_image_edit.setText(str(o.background))
        elif o.background is not None:
            self.background_combo.setCurrentText("colour")
            self._color = QColor(*o.background)
        self.mask_only_check.setChecked(o.mask_only)
        self.crop_check.setChecked(o.crop_to_subject)
        self.margin_spin.setValue(o.crop_margin_px)
        self.resize_check.setChecked(o.resize_long_side is not None)
        if o.resize_long_side:
            self.resize_spin.setValue(o.resize_long_side)
        if o.watermark is not None and o.watermark.text:
            self.watermark_edit.setText(o.watermark.text)
            self.watermark_position.setCurrentText(o.watermark.position)
            self.watermark_opacity.setValue(o.watermark.opacity)
        self.policy_combo.setCurrentIndex(max(0, self.policy_combo.findData(o.existing)))

    def _background(self) -> None | tuple[int, int, int] | Path:
        kind = self.background_combo.currentText()
        if kind == "colour":
            return (self._color.red(), self._color.green(), self._color.blue())
        if kind == "image":
            return Path(self.bg_image_edit.text().strip())
        return None

    def build_options(self) -> ExportOptions:
        """The options the form describes; raises ValueError with a user-facing message."""
        text = self.watermark_edit.text().strip()
        mark = None
        if text:
            mark = Watermark(
                text=text,
                position=self.watermark_position.currentText(),
                opacity=self.watermark_opacity.value(),
            )
        layered = self._layered()  # the whole photo, transparent: these options do not apply
        background = None if layered else self._background()
        if isinstance(background, Path) and not background.is_file():
            raise ValueError("choose an existing background image file")
        resize = self.resize_check.isChecked() and not layered
        return ExportOptions(
            format=self.format_combo.currentData(),
            background=background,
            mask_only=self.mask_only_check.isChecked(),
            crop_to_subject=self.crop_check.isChecked() and not layered,
            crop_margin_px=self.margin_spin.value(),
            resize_long_side=self.resize_spin.value() if resize else None,
            watermark=None if layered else mark,
            existing=self.policy_combo.currentData(),
            name_pattern=self.pattern_edit.text().strip() or "{stem}_cutout",
        )

    def _layered(self) -> bool:
        """A layered file (ORA, PSD): one layer per object, no background/crop/resize/mark."""
        return self.format_combo.currentData() in LAYERED_FORMATS and not (
            self.mask_only_check.isChecked()
        )

    def out_dir(self) -> str:
        return self.folder_edit.text().strip()

    def _update(self) -> None:
        kind = self.background_combo.currentText()
        flat = not self._layered()
        self.color_button.setVisible(kind == "colour")
        self.color_button.setText(self._color.name())
        self.bg_image_edit.setEnabled(kind == "image" and flat)
        for widget in (self.background_combo, self.crop_check, self.resize_check):
            widget.setEnabled(flat)
        for widget in (self.watermark_edit, self.watermark_position, self.watermark_opacity):
            widget.setEnabled(flat)
        self.margin_spin.setEnabled(self.crop_check.isChecked() and flat)
        self.resize_spin.setEnabled(self.resize_check.isChecked() and flat)
        try:
            options = self.build_options()
            if not Path(self.out_dir()).is_dir():
                raise ValueError("choose an existing output folder")
            stem_source = self._input_path or Path("image.png")
            self.preview_label.setText(output_path_for(stem_source, self.out_dir(), options).name)
            self.error_label.clear()
            self._options = options
        except ValueError as exc:
            self.error_label.setText(str(exc))
            self.preview_label.clear()
            self._options = None
        save = self.findChild(QDialogButtonBox).button(QDialogButtonBox.StandardButton.Save)
        save.setEnabled(self._options is not None)

    def result_options(self) -> ExportOptions | None:
        return self._options

    def _pick_color(self) -> None:
        color = QColorDialog.getColor(self._color, self, "Background colour")
        if color.isValid():
            self._color = color
            self._update()

    def _browse_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Export folder", self.out_dir())
        if folder:
            self.folder_edit.setText(folder)

    def _browse_background(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Background image", self.out_dir())
        if path:
            self.bg_image_edit.setText(path)
