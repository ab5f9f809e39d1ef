"""Issue 19 (4): Tab shows a handful of outlined stops, most important first, "3 of 8";
the x/y/alpha readout follows Tab and undo and says nothing about alpha before a mask exists."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
from app_fakes import move_pointer
from PySide6.QtCore import QPointF

from bgeraser_gui.core.document import Document
from bgeraser_gui.core.region_review import review_stops
from bgeraser_gui.core.uncertain_regions import find_uncertain_regions
from bgeraser_gui.gui.canvas import CanvasView

pytest.importorskip("pytestqt")
W, H = 200, 160


def _specks_and_edges() -> np.ndarray:
    alpha = np.zeros((H, W), np.float32)
    alpha[20:60, 20:40] = 0.5  # 800 px, fully undecided
    alpha[100:150, 100:160] = 0.88  # 3000 px, nearly decided (weight 0.24 each)
    for x in range(48, 80, 8):  # stray hairs a few px right of the first edge
        alpha[30:33, x : x + 3] = 0.5
    alpha[150:152, 5:9] = 0.15  # one faint 8 px speck, far from everything
    return alpha


def test_stops_merge_nearby_specks_drop_far_ones_and_weigh_area_by_uncertainty():
    alpha = _specks_and_edges()
    assert len(find_uncertain_regions(alpha)) == 7  # 2 edges, 4 stray hairs, 1 far speck
    stops = review_stops(alpha)
    assert len(stops) == 2
    first, second = stops
    # 800 px at alpha 0.5 matter more than 4500 px at alpha 0.88 (weight 800 + 4 x 9 > 720)
    assert first.rect.x0 == 20 and first.rect.x1 == 75  # the stray hairs joined the edge
    assert first.weight == pytest.approx(800 + 36, abs=1)
    assert second.rect == (100, 100, 160, 150)
    assert second.weight == pytest.approx(3000 * 0.24, rel=1e-3)


def test_gt04_review_has_a_handful_of_stops(isnet_fp16_path, eval_dir):
    from bgeraser_gui.assemble import PipelineSpec, build_pipeline
    from bgeraser_gui.core.image_io import load_image

    image = load_image(eval_dir / "alphamatting_train27" / "images" / "GT04.png")
    pipeline = build_pipeline(PipelineSpec(model=str(isnet_fp16_path), device="cpu"))
    mask = pipeline.segment(image.rgb)
    assert len(find_uncertain_regions(mask)) > 30  # what Tab stepped through before
    stops = review_stops(mask)
    assert 3 <= len(stops) <= 12
    assert [s.weight for s in stops] == sorted((s.weight for s in stops), reverse=True)


@pytest.fixture
def canvas(qtbot):
    view = CanvasView()
    qtbot.addWidget(view)
    view.resize(500, 400)
    view.show()
    qtbot.waitExposed(view)
    rgb = np.full((H, W, 3), 90, np.uint8)
    view.set_document(Document(SimpleNamespace(rgb=rgb, path=None)))
    return view


def _rgb(view: CanvasView, x: int, y: int) -> tuple[int, int, int]:
    image = view.grab().toImage()
    dpr = image.devicePixelRatio()
    colour = image.pixelColor(round(x * dpr), round(y * dpr))
    return colour.red(), colour.green(), colour.blue()


def test_tab_outlines_the_current_stop_and_labels_it(canvas, qtbot):
    canvas.document().set_model_mask(_specks_and_edges(), "test")
    canvas.goto_next_uncertain()
    box, index, count = canvas.current_region()
    assert (index, count) == (1, 2) and box.x0 == 20
    left = canvas.map_from_image(box.x0, (box.y0 + box.y1) / 2)
    # the outline runs 3 px outside the region: dark line with white dashes, not the photo
    column = [_rgb(canvas, round(left.x()) - 3, round(left.y()) + dy) for dy in range(-6, 6)]
    assert any(c == (255, 255, 255) for c in column)
    assert any(max(c) < 40 for c in column)
    canvas.goto_next_uncertain()
    assert canvas.current_region()[1:] == (2, 2)


def test_the_readout_follows_tab_and_undo_and_needs_a_mask_for_alpha(canvas, qtbot):
    infos: list[str] = []
    canvas.cursorInfo.connect(infos.append)
    move_pointer(canvas, QPointF(250, 200))
    qtbot.waitUntil(lambda: bool(infos))
    assert "alpha" not in infos[-1] and "no mask" in infos[-1]  # not "alpha 0 %"
    doc = canvas.document()
    alpha = _specks_and_edges()
    doc.set_model_mask(alpha, "test")
    before = infos[-1]
    assert "alpha" in before  # the mask arrived under the still mouse
    canvas.goto_next_uncertain()  # the view moved under the still mouse
    assert infos[-1] != before
    x, y = canvas.map_to_image(QPointF(250, 200))
    assert infos[-1].startswith(f"x {int(x)}, y {int(y)}")
    assert infos[-1].endswith(f"alpha {alpha[int(y), int(x)] * 100:.0f} %")
    doc.undo()  # back to no mask: the readout says so at once
    assert infos[-1].endswith("no mask yet")
