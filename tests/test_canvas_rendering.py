"""Canvas rendering and viewport maths, without driving the widget."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
from PySide6.QtCore import QPointF

from bgeraser_gui.core.document import Document
from bgeraser_gui.core.history import Rect
from bgeraser_gui.core.trimap import REFINE
from bgeraser_gui.gui.canvas.overlay import render_cutout, render_overlay
from bgeraser_gui.gui.canvas.viewport import Viewport

H, W = 80, 100


def _doc() -> Document:
    rgb = np.random.default_rng(0).integers(0, 256, (H, W, 3), dtype=np.uint8)
    return Document(SimpleNamespace(rgb=rgb, path=None))


def test_render_functions_match_the_documented_formulas():
    doc = _doc()
    rng = np.random.default_rng(9)
    doc.set_model_mask(rng.random((H, W), dtype=np.float32))
    doc.touchups[40:45, 40:60] = REFINE
    rect = Rect(3, 5, 97, 77)
    sl = rect.slices()
    rgb = doc.rgb[sl].astype(np.float64)
    tint = render_overlay(doc, rect)
    refine = doc.touchups[sl] == REFINE
    inverse = 255 - doc.alpha_u8(rect)
    np.testing.assert_array_equal(tint[..., 0][~refine], inverse[~refine])
    np.testing.assert_array_equal(tint[..., 3][~refine], inverse[~refine])
    assert not tint[..., 1:3][~refine].any()
    assert (tint[refine][:, 1] > 0).all() and (tint[..., :3] <= tint[..., 3:]).all()
    cut = render_cutout(doc, rect)
    a8 = doc.alpha_u8(rect)
    np.testing.assert_array_equal(cut[..., 3], a8)
    assert (cut[..., :3] <= a8[..., None]).all()  # valid premultiplied colour
    assert np.abs(cut[..., :3] - rgb * (a8[..., None] / 255.0)).max() <= 0.5 + 1e-9


def test_viewport_counts_zoom_in_device_pixels_on_high_dpi_screens():
    view = Viewport()
    view.image_size, view.view_size = (1000, 800), (400, 300)
    view.set_dpr(2.0)
    view.set_zoom(1.0, QPointF(200, 150))  # 100 %: one image pixel per device pixel
    a, b = view.to_widget(0, 0), view.to_widget(10, 0)
    assert b.x() - a.x() == pytest.approx(5.0)  # = 10 device pixels
    assert view.to_image(view.to_widget(123.0, 45.0)) == pytest.approx((123.0, 45.0))
    view.zoom_to_fit()
    assert view.zoom == pytest.approx(min(400 / 1000, 300 / 800) * 2.0)
    assert view.to_widget(1000, 800).x() - view.to_widget(0, 0).x() <= 400 + 1e-9
    view.frame(Rect(100, 100, 110, 110), 0.5, 8.0)
    assert view.zoom == 8.0  # tiny region: capped at 800 % of device pixels
    view.set_zoom(2.0, QPointF(200, 150))
    centre = view.to_image(QPointF(200, 150))
    view.set_dpr(1.0)  # moved to a normal screen: same zoom, same image point in the middle
    assert view.zoom == 2.0 and view.to_image(QPointF(200, 150)) == pytest.approx(centre)
