"""Issue 19 (5): a keep stroke over hair is matted inside (M) instead of stamping a solid bar
with the background inside it."""

from __future__ import annotations

import numpy as np
import pytest
from app_fakes import InstantBackend, make_window
from PIL import Image
from PySide6.QtCore import Qt

pytest.importorskip("pytestqt")
W, H = 120, 80
HAIR = (150, 40, 40)
STRANDS = range(62, 100, 6)  # 2 px strands every 6 px, body-coloured, on a white background


def _hair_photo(path):
    rgb = np.full((H, W, 3), 240, np.uint8)
    rgb[:, :60] = HAIR  # the body
    for x in STRANDS:
        rgb[5:75, x : x + 2] = HAIR
    Image.fromarray(rgb).save(path)
    return path


def _stroke(qtbot, window, y: float, x0: float, x1: float) -> None:
    canvas = window.canvas
    canvas.set_tool("keep")
    canvas.set_brush_size(16)
    start = canvas.map_from_image(x0, y).toPoint()
    qtbot.mousePress(canvas, Qt.MouseButton.LeftButton, pos=start)
    for x in np.linspace(x0, x1, 8)[1:]:
        qtbot.mouseMove(canvas, canvas.map_from_image(float(x), y).toPoint())
    qtbot.mouseRelease(
        canvas, Qt.MouseButton.LeftButton, pos=canvas.map_from_image(x1, y).toPoint()
    )


def test_a_keep_stroke_over_hair_is_matted_inside_instead_of_stamped(qtbot, tmp_path):
    window = make_window(qtbot, tmp_path / "s.ini", {"fake": InstantBackend()})
    window.open_paths([_hair_photo(tmp_path / "hair.png")])
    qtbot.waitUntil(lambda: window.session.document is not None, timeout=10_000)
    doc = window.session.document
    qtbot.waitUntil(lambda: doc.has_mask, timeout=10_000)
    mask = np.zeros((H, W), np.float32)
    mask[:, :60] = 1.0
    mask[:, 60:102] = 0.4  # the model hesitated over the hair
    doc.set_model_mask(mask, "test")
    strand, gap = (40, STRANDS[2]), (40, STRANDS[2] + 3)  # (row, column)

    _stroke(qtbot, window, 40.5, 64.0, 96.0)  # stamp mode: a solid bar
    assert doc.alpha()[gap] == 1.0 and doc.alpha()[strand] == 1.0
    doc.undo()

    window.actions_.action("matte_strokes").trigger()  # M
    assert window.stroke_matting.enabled
    _stroke(qtbot, window, 40.5, 64.0, 96.0)
    qtbot.waitUntil(lambda: doc.refined_alpha is not None, timeout=120_000)
    alpha = doc.alpha()
    assert alpha[strand] > 0.7  # the strand stays
    assert alpha[gap] < 0.3  # the background between strands goes
    assert doc.history.entries[doc.history.index - 1].label.startswith("Refine")
    doc.undo()  # one step back: the stroke before matting
    assert doc.refined_alpha is None
