"""Brush rasterisation: exact capsule pixels, hardness ring, clipping, undoable strokes."""

from __future__ import annotations

import math
from types import SimpleNamespace

import numpy as np
import pytest

from bgeraser_gui.core.brush import (
    BrushSettings,
    BrushStroke,
    core_radius,
    paint_line,
    paint_segment,
    segment_rect,
)
from bgeraser_gui.core.document import Document
from bgeraser_gui.core.history import TILE, Rect
from bgeraser_gui.core.trimap import KEEP, REFINE, REMOVE


def expected_capsule(width, height, p0, p1, radius):
    """Pixels whose centre is within `radius` of segment p0-p1, by plain per-pixel geometry."""
    (ax, ay), (bx, by) = p0, p1
    length = math.hypot(bx - ax, by - ay)
    out = np.zeros((height, width), bool)
    for j in range(height):
        for i in range(width):
            cx, cy = i + 0.5, j + 0.5
            d = min(math.hypot(cx - ax, cy - ay), math.hypot(cx - bx, cy - by))
            if length > 0:
                along = ((cx - ax) * (bx - ax) + (cy - ay) * (by - ay)) / length
                if 0.0 <= along <= length:
                    d = min(d, abs((cx - ax) * (by - ay) - (cy - ay) * (bx - ax)) / length)
            out[j, i] = d <= radius + 1e-9
    return out


def _doc(width=90, height=70):
    image = SimpleNamespace(rgb=np.zeros((height, width, 3), np.uint8), path=None)
    return Document(image)


@pytest.mark.parametrize(
    ("p0", "p1", "radius"),
    [((20.0, 30.0), (60.0, 41.0), 5.5), ((33.3, 12.7), (33.3, 12.7), 7.0), ((5, 60), (80, 2), 3.0)],
)
def test_hard_segment_paints_exactly_the_capsule(p0, p1, radius):
    layer = np.zeros((70, 90), np.uint8)
    rect = paint_segment(layer, p0, p1, radius, hardness=1.0, value=KEEP)
    expected = expected_capsule(90, 70, p0, p1, radius)
    np.testing.assert_array_equal(layer == KEEP, expected)
    assert not (layer != KEEP)[expected].any()
    ys, xs = np.nonzero(expected)  # the returned rect covers every painted pixel
    assert rect.x0 <= xs.min() and xs.max() < rect.x1 and rect.y0 <= ys.min() and ys.max() < rect.y1


def test_soft_brush_paints_core_and_marks_ring_refine_only_on_empty_pixels():
    layer = np.zeros((70, 90), np.uint8)
    layer[:, :10] = REMOVE  # an earlier touch-up the ring must not overwrite
    p0, p1, radius, hardness = (8.0, 35.0), (60.0, 35.0), 12.0, 0.5
    paint_segment(layer, p0, p1, radius, hardness, KEEP)
    core = expected_capsule(90, 70, p0, p1, core_radius(radius, hardness))
    disc = expected_capsule(90, 70, p0, p1, radius)
    np.testing.assert_array_equal(layer == KEEP, core)
    ring = disc & ~core
    old_remove = np.zeros_like(ring)
    old_remove[:, :10] = True
    np.testing.assert_array_equal(layer == REFINE, ring & ~old_remove)
    np.testing.assert_array_equal(layer == REMOVE, old_remove & ~core)
    assert core_radius(10.0, 1.0) == 10.0 and core_radius(10.0, 0.0) == 2.5


def test_refine_and_erase_paint_the_full_disc_over_anything():
    layer = np.full((40, 40), KEEP, np.uint8)
    paint_segment(layer, (20, 20), (20, 20), 6.0, hardness=0.0, value=REFINE)
    disc = expected_capsule(40, 40, (20, 20), (20, 20), 6.0)
    np.testing.assert_array_equal(layer == REFINE, disc)
    paint_segment(layer, (20, 20), (20, 20), 6.0, hardness=0.3, value=0)
    np.testing.assert_array_equal(layer == 0, disc)


def test_strokes_outside_or_across_the_border_are_clipped():
    layer = np.zeros((30, 30), np.uint8)
    assert paint_segment(layer, (-50, -50), (-40, -45), 3, 1.0, KEEP).is_empty()
    rect = paint_segment(layer, (-5.0, 15.0), (3.0, 15.0), 4.0, 1.0, KEEP)
    assert rect.x0 == 0 and rect.x1 <= 30
    np.testing.assert_array_equal(
        layer == KEEP, expected_capsule(30, 30, (-5.0, 15.0), (3.0, 15.0), 4.0)
    )
    assert segment_rect((10, 10), (12, 10), 2, 30, 30) == Rect(8, 8, 14, 12)


def test_stroke_is_one_undo_entry_and_reports_small_dirty_rects():
    doc = _doc()
    rects = []
    doc.add_listener(rects.append)
    stroke = BrushStroke(doc, "remove", BrushSettings(size=8, hardness=1.0), (10.0, 10.0))
    for x in range(12, 60, 4):
        stroke.add_point((float(x), 12.0))
    entry = stroke.finish()
    assert entry is not None and entry.label == "Remove stroke"
    assert doc.history.labels() == ["Remove stroke"]
    assert all(r is not None and r.width <= 4 + 8 + 1 and r.height <= 2 + 8 + 1 for r in rects)
    painted = doc.touchups == REMOVE
    assert painted.sum() > 0 and stroke.dirty.x1 >= 60
    doc.undo()
    assert not doc.touchups.any()
    doc.redo()
    np.testing.assert_array_equal(doc.touchups == REMOVE, painted)


def test_shift_click_line_and_cancel():
    doc = _doc()
    entry = paint_line(doc, "keep", BrushSettings(size=6, hardness=1.0), (5.0, 5.0), (80.0, 60.0))
    assert entry is not None and entry.label == "Keep stroke"
    expected = expected_capsule(90, 70, (5.0, 5.0), (80.0, 60.0), 3.0)
    np.testing.assert_array_equal(doc.touchups == KEEP, expected)
    stroke = BrushStroke(doc, "refine", BrushSettings(size=20), (40.0, 40.0))
    stroke.cancel()
    np.testing.assert_array_equal(doc.touchups == KEEP, expected)
    assert doc.history.labels() == ["Keep stroke"]
    with pytest.raises(ValueError):
        BrushStroke(doc, "paint", BrushSettings(), (1.0, 1.0))


def test_brush_settings_steps_and_limits():
    s = BrushSettings(size=40, hardness=0.8)
    assert s.resized(+1).size == 46 and s.resized(-1).size == 34
    assert BrushSettings(size=2).resized(-5).size == 1
    assert BrushSettings(size=1990).resized(+3).size == 2000
    assert BrushSettings(size=3).resized(+1).size == 4  # at least one pixel per step
    assert s.hardened(+1).hardness == 0.9 and s.hardened(+5).hardness == 1.0
    assert s.hardened(-9).hardness == 0.0


def test_stroke_on_24_megapixel_document_touches_only_a_small_rect():
    width, height = 6000, 4000
    image = SimpleNamespace(rgb=np.zeros((height, width, 3), np.uint8), path=None)
    doc = Document(image, model_mask=np.full((height, width), 0.5, np.float32))
    rects = []
    doc.add_listener(rects.append)
    stroke = BrushStroke(doc, "keep", BrushSettings(size=30, hardness=1.0), (3000.0, 2000.0))
    stroke.add_point((3010.0, 2005.0))
    entry = stroke.finish()
    assert rects and all(r is not None and r.area <= 60 * 60 for r in rects)
    assert entry is not None and len(entry.deltas) == 1 and len(entry.deltas[0].before) <= 2
    assert entry.nbytes < 2 * TILE * TILE  # compressed tiles of one uint8 layer
    assert doc.alpha()[2000, 3005] == 1.0 and doc.alpha()[100, 100] == 0.5


def test_undo_waits_while_a_stroke_is_in_progress():
    doc = _doc()
    paint_line(doc, "keep", BrushSettings(size=6), (5.0, 5.0), (20.0, 5.0))
    first = doc.touchups.copy()
    stroke = BrushStroke(doc, "remove", BrushSettings(size=6), (5.0, 5.0))
    stroke.add_point((20.0, 8.0))
    assert doc.history.busy and not doc.history.can_undo()
    assert not doc.undo()  # Ctrl+Z mid-stroke must not tear the stroke's undo record
    stroke.finish()
    assert not doc.history.busy
    assert doc.undo()
    np.testing.assert_array_equal(doc.touchups, first)


def _two_tone_doc():
    """Dark left (x < 45), a bright band (45 <= x < 62), dark again beyond; mild noise."""
    rng = np.random.default_rng(3)
    rgb = np.full((70, 90, 3), 40, np.int16)
    rgb[:, 45:] = 210
    rgb[:, 62:] = 40  # dark again beyond the bright band: not connected to a dark stroke
    rgb += rng.integers(-6, 7, rgb.shape, dtype=np.int16)
    image = SimpleNamespace(rgb=np.clip(rgb, 0, 255).astype(np.uint8), path=None)
    return Document(image)


def test_smart_brush_stops_at_the_colour_edge_and_needs_connection():
    doc = _two_tone_doc()
    settings = BrushSettings(size=60, smart=True)
    stroke = BrushStroke(doc, "keep", settings, (38.0, 20.0))
    stroke.add_point((38.0, 50.0))
    stroke.finish()
    painted = doc.touchups == KEEP
    capsule = expected_capsule(90, 70, (38.0, 20.0), (38.0, 50.0), 30.0)
    dark_left = np.zeros_like(capsule)
    dark_left[:, :45] = True
    np.testing.assert_array_equal(painted, capsule & dark_left)  # not the bright band ...
    assert capsule[:, 62:].any() and not painted[:, 62:].any()  # ... nor dark pixels beyond it
    doc.undo()
    plain = BrushStroke(doc, "keep", BrushSettings(size=60), (38.0, 20.0))
    plain.add_point((38.0, 50.0))
    plain.finish()
    np.testing.assert_array_equal(doc.touchups == KEEP, capsule)


def test_smart_brush_on_the_bright_side_and_settings_keep_the_flag():
    doc = _two_tone_doc()
    paint_line(doc, "remove", BrushSettings(size=30, smart=True), (55.0, 10.0), (55.0, 60.0))
    painted = doc.touchups == REMOVE
    capsule = expected_capsule(90, 70, (55.0, 10.0), (55.0, 60.0), 15.0)
    band = np.zeros_like(capsule)
    band[:, 45:62] = True
    np.testing.assert_array_equal(painted, capsule & band)
    s = BrushSettings(size=30, hardness=0.5, smart=True)
    assert s.resized(+1).smart and s.hardened(-1).smart
