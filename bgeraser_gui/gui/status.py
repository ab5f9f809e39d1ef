"""Status bar: device, model, image size, zoom and the running job's progress (Esc cancels).

The progress never looks hung: a stage that reports no progress for STALL_S (one model run,
waiting for the edge solver to compile) turns the bar into a busy indicator, and the elapsed time counts
up next to the stage's message until real progress arrives again.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QLabel, QProgressBar, QStatusBar, QToolButton

STALL_S = 1.0  # no progress for this long: show a busy bar and the elapsed time
TICK_MS = 500


class StatusPanel:
    """Permanent widgets on the window's QStatusBar."""

    def __init__(self, bar: QStatusBar, clock: Callable[[], float] = time.monotonic) -> None:
        self.bar = bar
        self._clock = clock
        self._started = self._advanced = 0.0
        self._fraction = 0.0
        self._message = ""
        self.ticker = QTimer(bar)
        self.ticker.setInterval(TICK_MS)
        self.ticker.timeout.connect(self.tick)
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
        bar.messageChanged.connect(self._show_hint)
        self.finish_progress()
        self.set_hint("")
        self.set_device("")
        self.set_model("")

    def set_hint(self, text: str) -> None:
        """A standing hint about what to do next ("" hides it; so does a status message)."""
        self.hint_label.setText(text)
        self._show_hint()

    def _show_hint(self, _message: str = "") -> None:
        # a temporary message (an error, "Subject found") takes the hint's place instead of
        # being drawn underneath it
        self.hint_label.setVisible(bool(self.hint_label.text()) and not self.bar.currentMessage())

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

    @property
    def running(self) -> bool:
        return self.ticker.isActive()

    def start_progress(self, message: str) -> None:
        self.bar.clearMessage()  # the last job's "Subject found" would be drawn under the bar
        self._started = self._advanced = self._clock()
        self._fraction = 0.0
        self._message = message
        self.progress.setRange(0, 1000)
        self.progress.setValue(0)
        self.progress_label.setText(message)
        for widget in (self.progress_label, self.progress, self.cancel_button):
            widget.show()
        self.ticker.start()

    def set_progress(self, fraction: float, message: str) -> None:
        if not self.running:
            self.start_progress(message)
        fraction = min(max(fraction, 0.0), 1.0)
        if message and message != self._message:
            self._message = message  # a new stage: its own elapsed time
            self._started = self._advanced = self._clock()
        if fraction > self._fraction + 1e-3:
            self._advanced = self._clock()
            self.progress.setRange(0, 1000)
        self._fraction = fraction
        self.progress.setValue(round(fraction * 1000))
        self.tick()

    def tick(self) -> None:
        """Busy bar and elapsed time while the stage reports no progress."""
        now = self._clock()
        stalled = now - self._advanced >= STALL_S
        if stalled and self.progress.maximum() != 0:
            self.progress.setRange(0, 0)  # Qt's busy indicator
        elapsed = now - self._started
        self.progress_label.setText(
            f"{self._message} · {elapsed:.0f} s" if stalled else self._message
        )

    def finish_progress(self, message: str = "", timeout_ms: int = 4000) -> None:
        self.ticker.stop()
        self.progress.setRange(0, 1000)
        for widget in (self.progress_label, self.progress, self.cancel_button):
            widget.hide()
        if message:
            self.bar.showMessage(message, timeout_ms)
