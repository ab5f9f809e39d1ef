"""Status bar: device, model, image size, zoom and the running job's progress (Esc cancels)."""

from __future__ import annotations

from PySide6.QtWidgets import QLabel, QProgressBar, QStatusBar, QToolButton


class StatusPanel:
    """Permanent widgets on the window's QStatusBar."""

    def __init__(self, bar: QStatusBar) -> None:
        self.bar = bar
        self.hint_label = QLabel()
        self.progress_label = QLabel()
        self.progress = QProgressBar()
        self.progress.setRange(0, 1000)
        self.progress.setTextVisible(False)
        self.progress.setFixedWidth(160)
        self.cancel_button = QToolButton(text="✕")
        self.cancel_button.setToolTip("Cancel (Esc)")
        self.cancel_button.setAutoRaise(True)
        self.cursor_label = QLabel()
        self.size_label = QLabel()
        self.zoom_label = QLabel()
        self.model_label = QLabel()
        self.device_label = QLabel()
        for name, widget in (
            ("statusHint", self.hint_label),
            ("statusProgressText", self.progress_label),
            ("statusProgress", self.progress),
            ("statusCancel", self.cancel_button),
            ("statusCursor", self.cursor_label),
            ("statusImageSize", self.size_label),
            ("statusZoom", self.zoom_label),
            ("statusModel", self.model_label),
            ("statusDevice", self.device_label),
        ):
            widget.setObjectName(name)
            bar.addPermanentWidget(widget)
        self.finish_progress()
        self.set_hint("")
        self.set_device("")
        self.set_model("")

    def set_hint(self, text: str) -> None:
        """A standing hint about what to do next ("" hides it)."""
        self.hint_label.setText(text)
        self.hint_label.setVisible(bool(text))

    def set_device(self, device: str) -> None:
        text = {"cpu": "CPU", "cuda": "CUDA", "mps": "Apple GPU"}.get(device.split(":")[0], device)
        self.device_label.setText(f"Device: {text or 'not loaded'}")

    def set_model(self, model: str) -> None:
        self.model_label.setText(f"Model: {model or '—'}")

    def set_image_size(self, width: int | None, height: int | None) -> None:
        if not width or not height:
            self.size_label.clear()
            return
        self.size_label.setText(f"{width} × {height} ({width * height / 1e6:.1f} MP)")

    def set_cursor_info(self, text: str) -> None:
        self.cursor_label.setText(text)

    def set_zoom(self, factor: float) -> None:
        self.zoom_label.setText(f"{factor * 100:.0f}%")

    def start_progress(self, message: str) -> None:
        self.progress_label.setText(message)
        self.progress.setValue(0)
        for widget in (self.progress_label, self.progress, self.cancel_button):
            widget.show()

    def set_progress(self, fraction: float, message: str) -> None:
        if not self.progress.isVisible():
            self.start_progress(message)
        self.progress.setValue(round(min(max(fraction, 0.0), 1.0) * 1000))
        if message:
            self.progress_label.setText(message)

    def finish_progress(self, message: str = "", timeout_ms: int = 4000) -> None:
        for widget in (self.progress_label, self.progress, self.cancel_button):
            widget.hide()
        if message:
            self.bar.showMessage(message, timeout_ms)
