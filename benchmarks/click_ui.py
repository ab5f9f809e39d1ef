"""What a select-object click costs the editor's UI thread, in the real window at 6 MP.

    QT_QPA_PLATFORM=offscreen python benchmarks/click_ui.py [--model PATH] [--photo PATH] [--mp 6]

Opens the photo in a real MainWindow (offscreen) with the real model, waits for the automatic
mask, switches to the select tool (W) and applies the three scripted clicks of
benchmarks/clicks.py (remove / add / edge). Before each click the pointer "rests" there
(`selectHoverRest`), so the crops are prefetched as in the editor; the prefetch time is
printed separately. For each click: wall seconds from the click to the mask in the document,
and the UI thread's share of it, measured with a 5 ms heartbeat timer on the UI thread: every
gap beyond 5 ms is time the UI thread was busy (longest gap = the longest freeze a user could
feel).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from clicks import MODEL, PHOTO, _resized, scripted_clicks  # noqa: E402

BEAT_MS = 5


class Heartbeat:
    """Records the gaps between 5 ms timer ticks on the UI thread."""

    def __init__(self) -> None:
        from PySide6.QtCore import QTimer

        self.gaps: list[float] = []
        self._last = time.perf_counter()
        self.timer = QTimer()
        self.timer.setInterval(BEAT_MS)
        self.timer.timeout.connect(self._tick)
        self.timer.start()

    def _tick(self) -> None:
        now = time.perf_counter()
        self.gaps.append(now - self._last)
        self._last = now

    def take(self) -> tuple[float, float]:
        """(busy seconds, longest gap) since the last take."""
        gaps, self.gaps = self.gaps, []
        busy = sum(max(0.0, g - BEAT_MS / 1000) for g in gaps)
        return busy, max(gaps, default=0.0)


def wait(app, condition, timeout: float = 600.0) -> None:
    end = time.perf_counter() + timeout
    while not condition():
        if time.perf_counter() > end:
            raise SystemExit("timed out")
        app.processEvents()
        time.sleep(0.001)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=str(MODEL))
    parser.add_argument("--photo", type=Path, default=PHOTO)
    parser.add_argument("--mp", type=float, default=6.0)
    args = parser.parse_args()

    import tempfile

    from PIL import Image
    from PySide6.QtWidgets import QApplication

    from bgeraser_gui.backends.loader import load_backend
    from bgeraser_gui.gui.main_window import MainWindow
    from bgeraser_gui.gui.session import EditorSession
    from bgeraser_gui.gui.settings import AppSettings
    from bgeraser_gui.services.inference import InferenceService

    app = QApplication.instance() or QApplication([])
    backend = load_backend(args.model)
    tmp = Path(tempfile.mkdtemp())
    rgb = _resized(np.asarray(Image.open(args.photo).convert("RGB")), args.mp)
    photo = tmp / "photo.png"
    Image.fromarray(rgb).save(photo)
    settings = AppSettings(tmp / "s.ini")
    settings.default_model = "model"
    inference = InferenceService(backend_factory=lambda name, device, progress=None: backend)
    session = EditorSession(settings, None, inference=inference)
    window = MainWindow(settings, session)
    window.resize(1400, 900)
    window.show()
    window.open_paths([photo])
    wait(app, lambda: session.document is not None and session.document.model_mask is not None)
    doc = session.document
    window.canvas.set_tool("select")
    selector = window.selector
    applied: list[object] = []
    selector.applied.connect(applied.append)
    h, w = rgb.shape[:2]
    beat = Heartbeat()
    print(
        f"{w}x{h}, model {Path(args.model).name}; seconds (UI-thread busy = heartbeat gaps > 5 ms)"
    )
    print(
        f"{'click':>7} {'prefetch':>9} {'click':>7} {'UI busy':>8} {'UI share':>9} {'longest':>8}"
    )
    for name, rx, ry, positive in scripted_clicks(doc.model_mask):
        x, y = min(w - 1, int(rx * w)), min(h - 1, int(ry * h))
        began = time.perf_counter()
        window.canvas.selectHoverRest.emit(x, y, positive)
        wait(app, lambda: not selector.prefetcher.busy)
        prefetch = time.perf_counter() - began
        beat.take()
        n = len(applied)
        began = time.perf_counter()
        window.canvas.selectClicked.emit(x, y, positive)
        wait(app, lambda n=n: len(applied) > n)
        app.processEvents()  # the repaint that shows the new mask
        took = time.perf_counter() - began
        busy, longest = beat.take()
        print(
            f"{name:>7} {prefetch:9.2f} {took:7.3f} {busy:8.3f} {busy / took:9.1%} {longest:8.3f}"
        )
    window.close()


if __name__ == "__main__":
    main()
