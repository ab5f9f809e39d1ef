"""Helpers for the tests/test_app_*.py GUI tests: fake backends, windows on throw-away settings."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
from PIL import Image


class GatedBackend:
    """A SegmentationBackend that blocks in predict() until `release()` (or cancel)."""

    device = "cpu"

    def __init__(self, name: str = "fake", fill_left: bool = True, honour_cancel: bool = True):
        self.name = name
        self.fill_left = fill_left
        self.honour_cancel = honour_cancel
        self.gate = threading.Event()
        self.entered = threading.Event()
        self.returned = threading.Event()
        self.saw_cancel = threading.Event()
        self.threads: list[int] = []

    def release(self) -> None:
        self.gate.set()

    def predict(self, rgb, progress=None, cancel=None):
        self.threads.append(threading.get_ident())
        self.entered.set()
        try:
            step = 0
            while not self.gate.wait(0.01):
                step += 1
                if cancel is not None and cancel.cancelled:
                    self.saw_cancel.set()
                    if self.honour_cancel:
                        cancel.check()
                    continue
                if progress is not None:
                    progress(min(step / 100, 0.9), "fake model thinking")
            mask = np.zeros(rgb.shape[:2], np.float32)
            half = rgb.shape[1] // 2
            if self.fill_left:
                mask[:, :half] = 1.0
            else:
                mask[:, half:] = 1.0
            return mask
        finally:
            self.returned.set()


class InstantBackend(GatedBackend):
    def __init__(self, name: str = "instant", fill_left: bool = True):
        super().__init__(name, fill_left)
        self.gate.set()


def write_photo(path: Path, width: int = 64, height: int = 48, seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    rgb = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
    Image.fromarray(rgb).save(path)
    return path


def make_window(qtbot, settings_path: Path, backends: dict[str, object]):
    """A real MainWindow whose model names map to the given fake backends."""
    from bgeraser_gui.gui.main_window import MainWindow
    from bgeraser_gui.gui.session import EditorSession
    from bgeraser_gui.gui.settings import AppSettings
    from bgeraser_gui.services.inference import InferenceService

    settings = AppSettings(settings_path)
    settings.default_model = next(iter(backends))
    inference = InferenceService(backend_factory=lambda name, device, progress=None: backends[name])
    session = EditorSession(settings, None, inference=inference)
    window = MainWindow(settings, session)
    inference.setParent(session)
    session.setParent(window)
    qtbot.addWidget(window)
    window.show()
    qtbot.waitExposed(window)
    activate(qtbot, window)
    return window


def activate(qtbot, window) -> None:
    """Make `window` the active window (shortcuts only fire in the active window)."""
    from PySide6.QtWidgets import QApplication

    window.activateWindow()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is window)
    window.canvas.setFocus()


def move_pointer(widget, pos) -> None:
    """Deliver a mouse move to `widget` at `pos` (widget coordinates) directly. qtbot.mouseMove
    sends nothing when the pointer is already at that screen position (e.g. left there by an
    earlier test), which made hover tests depend on the order they ran in."""
    from PySide6.QtCore import QEvent, QPointF, Qt
    from PySide6.QtGui import QMouseEvent
    from PySide6.QtWidgets import QApplication

    local = QPointF(pos)
    event = QMouseEvent(
        QEvent.Type.MouseMove, local, QPointF(widget.mapToGlobal(local)),
        Qt.MouseButton.NoButton, Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier,
    )  # fmt: skip
    QApplication.sendEvent(widget, event)
