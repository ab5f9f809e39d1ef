"""The select-object tool in the editor: W, click to add, right click to remove, undo, hover."""

from __future__ import annotations

import numpy as np
from app_fakes import make_window, move_pointer
from PIL import Image
from PySide6.QtCore import QPoint, Qt

W, H = 120, 80
GREY = (128, 128, 128)


def _photo(path):
    rgb = np.full((H, W, 3), GREY, np.uint8)
    rgb[20:60, 10:50] = (220, 40, 40)  # the subject the model finds
    rgb[25:55, 75:110] = (40, 60, 220)  # an object it leaves out
    Image.fromarray(rgb).save(path)
    return path


class SalientBackend:
    """The whole photo: only the red block; any crop: everything that is not grey."""

    name = "salient"
    device = "cpu"

    def __init__(self) -> None:
        self.crops = 0

    def predict(self, rgb, progress=None, cancel=None):
        not_grey = np.abs(rgb.astype(int) - GREY).sum(axis=2) > 60
        if rgb.shape[:2] == (H, W):
            red = (rgb[..., 0] > 150) & not_grey
            return red.astype(np.float32)
        self.crops += 1
        return not_grey.astype(np.float32)


def _open(qtbot, tmp_path, backend):
    """A window showing the test photo with the model's mask."""
    window = make_window(qtbot, tmp_path / "s.ini", {"salient": backend})
    window.open_paths([_photo(tmp_path / "a.png")])
    qtbot.waitUntil(lambda: window.session.document is not None)
    doc = window.session.document
    qtbot.waitUntil(lambda: doc.model_mask is not None)
    return window, doc


def _widget_point(window, x, y) -> QPoint:
    return window.canvas.map_from_image(x + 0.5, y + 0.5).toPoint()


def test_w_then_click_adds_the_object_undo_takes_it_back(qtbot, tmp_path):
    backend = SalientBackend()
    window, doc = _open(qtbot, tmp_path, backend)
    assert doc.alpha()[40, 90] == 0.0  # the blue object is left out

    qtbot.keyClick(window.canvas, Qt.Key.Key_W)
    assert window.canvas.tool() == "select"
    assert window.actions_.action("tool_select").isChecked()

    qtbot.mouseMove(window.canvas, _widget_point(window, 90, 40))
    outline = window.canvas.hover_outline()
    assert outline is not None and outline[1] is True  # hovering outside: a click would add

    qtbot.mouseClick(window.canvas, Qt.MouseButton.LeftButton, pos=_widget_point(window, 90, 40))
    qtbot.waitUntil(lambda: doc.click_mask is not None, timeout=10000)
    assert doc.alpha()[40, 90] == 1.0 and doc.alpha()[40, 30] == 1.0
    assert doc.alpha()[10, 90] == 0.0  # the grey ground stays out
    assert backend.crops >= 1  # the click re-ran the model on a crop
    assert doc.history.labels()[-1] == "Add object (click)"
    qtbot.waitUntil(lambda: "added" in window.statusBar().currentMessage())

    qtbot.keyClick(window.canvas, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert doc.alpha()[40, 90] == 0.0 and doc.clicks == ()

    qtbot.mouseClick(window.canvas, Qt.MouseButton.RightButton, pos=_widget_point(window, 30, 40))
    qtbot.waitUntil(lambda: doc.click_mask is not None, timeout=10000)
    assert doc.alpha()[40, 30] == 0.0  # right click removed the red block
    assert doc.clicks[-1].positive is False
    assert doc.history.labels()[-1] == "Remove object (click)"


def test_clicks_are_replayed_on_a_new_model_mask(qtbot, tmp_path):
    backend = SalientBackend()
    window, doc = _open(qtbot, tmp_path, backend)
    window.canvas.set_tool("select")
    window.canvas.selectClicked.emit(90, 40, True)
    qtbot.waitUntil(lambda: doc.click_mask is not None, timeout=10000)
    window.session.segment()  # the model runs again: the click is applied to its new mask
    qtbot.waitUntil(lambda: doc.history.labels()[-1] == "Clicks on the new mask", timeout=10000)
    assert doc.alpha()[40, 90] == 1.0 and len(doc.clicks) == 1


class GatedSalientBackend(SalientBackend):
    """Crops wait until `gate` is set (or the click's job is cancelled)."""

    def __init__(self) -> None:
        super().__init__()
        import threading

        self.gate = threading.Event()
        self.entered = threading.Event()
        self.cancelled = threading.Event()

    def predict(self, rgb, progress=None, cancel=None):
        if rgb.shape[:2] != (H, W):
            self.entered.set()
            while not self.gate.wait(0.01):
                if cancel is not None and cancel.cancelled:
                    self.cancelled.set()
                    cancel.check()
        return super().predict(rgb, progress, cancel)


def test_a_newer_click_cancels_the_running_one_and_both_are_applied(qtbot, tmp_path):
    backend = GatedSalientBackend()
    window, doc = _open(qtbot, tmp_path, backend)
    window.canvas.set_tool("select")
    window.canvas.selectClicked.emit(90, 40, True)
    qtbot.waitUntil(backend.entered.is_set)  # the first click waits in the model on the worker
    assert doc.clicks == ()  # and the UI thread is free meanwhile
    window.canvas.selectClicked.emit(30, 40, False)  # a newer click
    qtbot.waitUntil(backend.cancelled.is_set)  # ... cancels the running computation
    backend.gate.set()
    qtbot.waitUntil(lambda: len(doc.clicks) == 2, timeout=10000)
    assert [c.positive for c in doc.clicks] == [True, False]
    assert doc.history.labels()[-2:] == ["Add object (click)", "Remove object (click)"]
    assert doc.alpha()[40, 90] == 1.0 and doc.alpha()[40, 30] == 0.0
    doc.undo()  # one click per undo step
    assert doc.alpha()[40, 30] == 1.0 and doc.alpha()[40, 90] == 1.0


def test_resting_pointer_prefetches_the_crops_so_the_click_runs_no_model(qtbot, tmp_path):
    backend = SalientBackend()
    window, doc = _open(qtbot, tmp_path, backend)
    qtbot.keyClick(window.canvas, Qt.Key.Key_W)
    move_pointer(window.canvas, _widget_point(window, 90, 40))  # rests over the left-out object
    qtbot.waitUntil(lambda: backend.crops >= 1, timeout=10000)
    qtbot.waitUntil(lambda: not window.selector.prefetcher.busy, timeout=10000)
    before = backend.crops
    qtbot.mouseClick(window.canvas, Qt.MouseButton.LeftButton, pos=_widget_point(window, 90, 40))
    qtbot.waitUntil(lambda: doc.click_mask is not None, timeout=10000)
    assert backend.crops == before  # the click answered from the prefetched crops
    assert doc.alpha()[40, 90] == 1.0


def test_esc_cancels_a_click_being_computed_and_says_so(qtbot, tmp_path):
    backend = GatedSalientBackend()
    window, doc = _open(qtbot, tmp_path, backend)
    window.canvas.set_tool("select")
    window.canvas.selectClicked.emit(90, 40, True)
    qtbot.waitUntil(backend.entered.is_set)
    window.actions_.action("cancel").trigger()
    qtbot.waitUntil(backend.cancelled.is_set)
    assert window.statusBar().currentMessage() == "Click cancelled"  # not "Nothing to cancel"
    backend.gate.set()
    qtbot.wait(200)
    assert doc.clicks == () and doc.alpha()[40, 90] == 0.0


def _filled(polygons, shape=(H, W)) -> np.ndarray:
    import cv2

    canvas = np.zeros(shape, np.uint8)
    cv2.fillPoly(canvas, [np.round(p - 0.5).astype(np.int32) for p in polygons], 1)
    return canvas.astype(bool)


def test_resting_pointer_shows_exactly_what_the_click_will_change(qtbot, tmp_path):
    backend = SalientBackend()
    window, doc = _open(qtbot, tmp_path, backend)
    qtbot.keyClick(window.canvas, Qt.Key.Key_W)
    move_pointer(window.canvas, _widget_point(window, 90, 40))  # rests over the left-out object
    assert not window.canvas.hover_outline_exact()  # first the cheap guess
    qtbot.waitUntil(window.canvas.hover_outline_exact, timeout=10000)
    polygons, adds = window.canvas.hover_outline()
    assert adds is True
    shown = _filled(polygons)
    assert shown[40, 90] and not shown[40, 30] and not shown[5, 5]  # the blue object only

    before = doc.alpha() >= 0.5
    qtbot.mouseClick(window.canvas, Qt.MouseButton.LeftButton, pos=_widget_point(window, 90, 40))
    qtbot.waitUntil(lambda: doc.click_mask is not None, timeout=10000)
    changed = (doc.alpha() >= 0.5) != before
    overlap = (changed & shown).sum() / max(1, (changed | shown).sum())
    assert overlap > 0.9  # the preview was the click's result
    assert not window.canvas.hover_outline_exact()  # the click ends the preview


def test_moving_on_replaces_the_exact_preview_by_the_guess(qtbot, tmp_path):
    backend = SalientBackend()
    window, _doc = _open(qtbot, tmp_path, backend)
    qtbot.keyClick(window.canvas, Qt.Key.Key_W)
    move_pointer(window.canvas, _widget_point(window, 90, 40))
    qtbot.waitUntil(window.canvas.hover_outline_exact, timeout=10000)
    move_pointer(window.canvas, _widget_point(window, 100, 70))  # the pointer moves on
    assert not window.canvas.hover_outline_exact()
    # a late answer for the old point is not shown at the new one
    assert not window.canvas.show_click_preview(90, 40, [], True)
