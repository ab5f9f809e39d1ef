"""CanvasView driven as a user would: real mouse/wheel/key events on the real widget."""

from __future__ import annotations

import math
from types import SimpleNamespace

import numpy as np
import pytest
from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtGui import QColor, QImage, QWheelEvent
from PySide6.QtWidgets import QApplication

from bgeraser_gui.core.document import Document
from bgeraser_gui.core.trimap import KEEP, REFINE, REMOVE
from bgeraser_gui.gui.canvas import MAX_ZOOM, MIN_ZOOM, VIEW_MODES, CanvasView, ViewMode

W, H = 100, 80


def _doc(width=W, height=H) -> Document:
    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
    mask = np.zeros((height, width), np.float32)
    mask[height // 4 : 3 * height // 4, width // 4 : 3 * width // 4] = 1.0
    mask[height // 4 : 3 * height // 4, width // 4 - 3 : width // 4] = 0.5  # a soft edge
    return Document(SimpleNamespace(rgb=rgb, path=None), model_mask=mask)


@pytest.fixture
def canvas(qtbot):
    view = CanvasView()
    qtbot.addWidget(view)
    view.resize(400, 300)
    view.show()
    qtbot.waitExposed(view)
    view.set_document(_doc())
    view.zoom_actual()  # 1 image px = 1 screen px, image centred at (150, 110)
    return view


def _expected_capsule(p0, p1, radius, width=W, height=H):
    (ax, ay), (bx, by) = p0, p1
    length = math.hypot(bx - ax, by - ay)
    out = np.zeros((height, width), bool)
    for j in range(height):
        for i in range(width):
            cx, cy = i + 0.5, j + 0.5
            d = min(math.hypot(cx - ax, cy - ay), math.hypot(cx - bx, cy - by))
            if length and 0 <= ((cx - ax) * (bx - ax) + (cy - ay) * (by - ay)) / length <= length:
                d = min(d, abs((cx - ax) * (by - ay) - (cy - ay) * (bx - ax)) / length)
            out[j, i] = d <= radius
    return out


def _widget_pos(view: CanvasView, x: float, y: float) -> QPoint:
    return view.map_from_image(x, y).toPoint()


def _drag(qtbot, view, points, modifier=Qt.KeyboardModifier.NoModifier):
    qtbot.mousePress(view, Qt.MouseButton.LeftButton, modifier, _widget_pos(view, *points[0]))
    for p in points[1:]:
        qtbot.mouseMove(view, _widget_pos(view, *p))
    qtbot.mouseRelease(view, Qt.MouseButton.LeftButton, modifier, _widget_pos(view, *points[-1]))


def _grab(view) -> np.ndarray:
    img = view.grab().toImage().convertToFormat(QImage.Format.Format_RGB888)
    ptr = np.frombuffer(img.constBits(), np.uint8, img.sizeInBytes())
    return ptr.reshape(img.height(), img.bytesPerLine())[:, : img.width() * 3].copy()


def test_mouse_drag_paints_exactly_the_expected_pixels_and_undo_redo_are_exact(canvas, qtbot):
    doc = canvas.document()
    assert canvas.map_to_image(QPointF(150, 110)) == (0.0, 0.0)
    canvas.set_tool("remove")
    canvas.set_brush_hardness(1.0)
    canvas.set_brush_size(11)
    alpha_before = doc.alpha().copy()
    with qtbot.waitSignal(canvas.strokeFinished) as finished:
        _drag(qtbot, canvas, [(20, 30), (60, 41)])
    assert finished.args == ["Remove stroke"]
    expected = _expected_capsule((20, 30), (60, 41), 5.5)
    np.testing.assert_array_equal(doc.touchups == REMOVE, expected)
    np.testing.assert_array_equal(doc.touchups != 0, expected)
    alpha_after = doc.alpha().copy()
    assert (alpha_after[expected] == 0).all()
    np.testing.assert_array_equal(alpha_after[~expected], alpha_before[~expected])
    assert doc.history.labels() == ["Remove stroke"]
    doc.undo()
    np.testing.assert_array_equal(doc.alpha(), alpha_before)
    assert not doc.touchups.any()
    doc.redo()
    np.testing.assert_array_equal(doc.alpha(), alpha_after)


def test_shift_click_draws_a_straight_line_from_the_last_point(canvas, qtbot):
    doc = canvas.document()
    canvas.set_brush_hardness(1.0)
    canvas.set_brush_size(6)
    _drag(qtbot, canvas, [(10, 10)])
    first = _expected_capsule((10, 10), (10, 10), 3.0)
    np.testing.assert_array_equal(doc.touchups == KEEP, first)
    _drag(qtbot, canvas, [(90, 70)], Qt.KeyboardModifier.ShiftModifier)
    line = _expected_capsule((10, 10), (90, 70), 3.0)
    np.testing.assert_array_equal(doc.touchups == KEEP, first | line)
    assert doc.history.labels() == ["Keep stroke", "Keep stroke"]


def test_soft_brush_marks_a_refine_ring(canvas, qtbot):
    doc = canvas.document()
    canvas.set_brush_size(20)
    canvas.set_brush_hardness(0.0)
    _drag(qtbot, canvas, [(50, 40)])
    assert (doc.touchups == KEEP).sum() == _expected_capsule((50, 40), (50, 40), 2.5).sum()
    ring = _expected_capsule((50, 40), (50, 40), 10.0) & ~_expected_capsule((50, 40), (50, 40), 2.5)
    np.testing.assert_array_equal(doc.touchups == REFINE, ring)


def test_space_drag_and_middle_drag_pan_without_painting(canvas, qtbot):
    canvas.set_zoom(8.0)
    doc = canvas.document()
    before = canvas.map_to_image(QPointF(200, 150))
    qtbot.keyPress(canvas, Qt.Key.Key_Space)
    _drag(qtbot, canvas, [(40, 40), (45, 43)])
    qtbot.keyRelease(canvas, Qt.Key.Key_Space)
    moved = canvas.map_to_image(QPointF(200, 150))
    assert moved[0] < before[0] and moved[1] < before[1]
    start = _widget_pos(canvas, 50, 40)
    qtbot.mousePress(canvas, Qt.MouseButton.MiddleButton, pos=start)
    qtbot.mouseMove(canvas, start - QPoint(16, 8))
    qtbot.mouseRelease(canvas, Qt.MouseButton.MiddleButton, pos=start - QPoint(16, 8))
    after = canvas.map_to_image(QPointF(200, 150))
    assert after[0] == pytest.approx(moved[0] + 2) and after[1] == pytest.approx(moved[1] + 1)
    assert not doc.touchups.any() and doc.history.labels() == []


def test_zoom_limits_fit_actual_and_wheel_about_the_cursor(canvas, qtbot):
    zooms = []
    canvas.zoomChanged.connect(zooms.append)
    canvas.set_zoom(1000)
    assert canvas.zoom() == MAX_ZOOM == 32.0
    canvas.set_zoom(0.0001)
    assert canvas.zoom() == MIN_ZOOM == 0.05
    canvas.zoom_fit()
    assert canvas.zoom() == pytest.approx(min(400 / W, 300 / H))
    tl, br = canvas.map_from_image(0, 0), canvas.map_from_image(W, H)
    assert tl.x() >= -1e-6 and tl.y() >= -1e-6 and br.x() <= 400 + 1e-6 and br.y() <= 300 + 1e-6
    canvas.resize(600, 300)
    qtbot.waitUntil(lambda: canvas.zoom() == pytest.approx(min(600 / W, 300 / H)))
    canvas.zoom_actual()
    assert canvas.zoom() == 1.0
    canvas.set_zoom(8.0)  # the image is larger than the view: no centring interferes
    anchor = QPointF(230, 140)
    under = canvas.map_to_image(anchor)
    for _ in range(3):
        _wheel(canvas, anchor, 120)
    assert canvas.zoom() == pytest.approx(8.0 * 1.25**3)
    assert canvas.map_to_image(anchor) == pytest.approx(under)
    for _ in range(60):
        _wheel(canvas, anchor, -120)
    assert canvas.zoom() == MIN_ZOOM
    canvas.zoom_in()
    assert canvas.zoom() == pytest.approx(MIN_ZOOM * 1.25)
    canvas.zoom_out()
    assert zooms[-1] == canvas.zoom() == MIN_ZOOM


def _wheel(view, pos: QPointF, delta: int) -> None:
    event = QWheelEvent(
        pos,
        view.mapToGlobal(pos),
        QPoint(0, 0),
        QPoint(0, delta),
        Qt.MouseButton.NoButton,
        Qt.KeyboardModifier.NoModifier,
        Qt.ScrollPhase.NoScrollPhase,
        False,
    )
    QApplication.sendEvent(view, event)


def test_view_modes_cycle_and_render_different_pixels(canvas, qtbot):
    canvas.zoom_fit()
    seen = []
    canvas.viewModeChanged.connect(seen.append)
    images = {}
    for _ in VIEW_MODES:
        images[canvas.view_mode()] = _grab(canvas)
        canvas.cycle_view_mode()
    assert canvas.view_mode() == ViewMode.OVERLAY
    assert seen == [m.value for m in VIEW_MODES[1:]] + ["overlay"]
    modes = list(images)
    for i, a in enumerate(modes):
        for b in modes[i + 1 :]:
            assert not np.array_equal(images[a], images[b]), (a, b)
    canvas.cycle_view_mode(-1)
    assert canvas.view_mode() == ViewMode.ORIGINAL
    canvas.set_view_mode(ViewMode.COLOR)
    canvas.set_matte_color(QColor(0, 0, 255))
    blue = _grab(canvas)
    canvas.set_matte_color(QColor(0, 255, 0))
    assert not np.array_equal(blue, _grab(canvas))


def test_mask_view_shows_alpha_and_overlay_opacity_and_peek(canvas, qtbot):
    doc = canvas.document()
    canvas.set_view_mode("mask")
    shot = _grab(canvas)
    centre = canvas.map_from_image(W / 2, H / 2).toPoint()
    corner = canvas.map_from_image(2, 2).toPoint()
    assert tuple(shot[centre.y(), centre.x() * 3 : centre.x() * 3 + 3]) == (255, 255, 255)
    assert tuple(shot[corner.y(), corner.x() * 3 : corner.x() * 3 + 3]) == (0, 0, 0)
    canvas.set_view_mode("overlay")
    canvas.set_overlay_opacity(1.0)
    shot = _grab(canvas)
    cx, cy = corner.x(), corner.y()
    assert tuple(shot[cy, cx * 3 : cx * 3 + 3]) == (255, 0, 0)
    mx, my = centre.x(), centre.y()  # alpha 1: the photo itself, untinted
    assert tuple(shot[my, mx * 3 : mx * 3 + 3]) == tuple(doc.rgb[H // 2, W // 2])
    canvas.set_overlay_opacity(0.5)
    half = _grab(canvas)[cy, cx * 3 : cx * 3 + 3].astype(int)
    expected = (doc.rgb[2, 2].astype(int) + np.array([255, 0, 0])) / 2
    assert np.abs(half - expected).max() <= 2
    qtbot.keyPress(canvas, Qt.Key.Key_Backslash)
    assert canvas.peek_original()
    peek = _grab(canvas)
    x, y = corner.x(), corner.y()
    assert tuple(peek[y, x * 3 : x * 3 + 3]) == tuple(doc.rgb[2, 2])
    qtbot.keyRelease(canvas, Qt.Key.Key_Backslash)
    assert not canvas.peek_original()


def test_stroke_repaints_and_rerenders_only_its_own_region(canvas, qtbot):
    canvas.set_view_mode("overlay")
    _grab(canvas)  # builds the overlay cache once
    cache = canvas.display_cache()
    rendered = cache.rendered_pixels
    canvas.set_brush_size(8)
    _drag(qtbot, canvas, [(30, 30), (34, 31)])
    _grab(canvas)
    assert 0 < cache.rendered_pixels - rendered <= (4 + 8 + 1) * (1 + 8 + 1) * 2


def test_24_megapixel_stroke_touches_only_a_small_rect(qtbot):
    width, height = 6000, 4000
    rgb = np.zeros((height, width, 3), np.uint8)
    doc = Document(SimpleNamespace(rgb=rgb, path=None), model_mask=np.zeros((height, width), "f4"))
    view = CanvasView()
    qtbot.addWidget(view)
    view.resize(500, 400)
    view.show()
    qtbot.waitExposed(view)
    view.set_document(doc)
    view.set_view_mode("mask")
    _grab(view)
    cache = view.display_cache()
    rendered = cache.rendered_pixels
    assert rendered == width * height  # the cache is built once
    rects = []
    doc.add_listener(rects.append)
    view.set_brush_size(40)
    _drag(qtbot, view, [(3000, 2000), (3100, 2050)])
    _grab(view)
    assert rects and all(r is not None and r.area < 200 * 120 for r in rects)
    assert cache.rendered_pixels - rendered < 2 * 200 * 120
    assert doc.history.entries[-1].nbytes < 100_000


def test_tool_and_brush_slots_emit_signals(canvas, qtbot):
    tools, brushes = [], []
    canvas.toolChanged.connect(tools.append)
    canvas.brushChanged.connect(lambda s, h: brushes.append((s, h)))
    canvas.set_tool("refine")
    canvas.swap_keep_remove()
    canvas.swap_keep_remove()
    canvas.set_tool("keep")
    canvas.set_tool("keep")
    assert tools == ["refine", "remove", "keep"]
    with pytest.raises(ValueError):
        canvas.set_tool("lasso")
    canvas.set_brush_size(40)
    canvas.change_brush_size(+1)
    canvas.change_brush_hardness(-1)
    assert brushes[-2:] == [(46, 1.0), (46, 0.9)]
    assert canvas.brush_size() == 46 and canvas.brush_hardness() == 0.9


def test_tab_review_frames_uncertain_regions_largest_first(canvas, qtbot):
    doc = canvas.document()
    mask = np.zeros((H, W), np.float32)
    mask[10:30, 10:40] = 0.5  # 600 px
    mask[60:70, 70:80] = 0.4  # 100 px
    doc.set_model_mask(mask, "test")
    positions = []
    canvas.uncertainRegionChanged.connect(lambda i, n: positions.append((i, n)))
    first = canvas.goto_next_uncertain()
    centre = canvas.map_to_image(QPointF(200, 150))
    assert first.uncertain_pixels == 600
    assert centre == pytest.approx((25.0, 20.0))
    assert canvas.zoom() == pytest.approx(min(400 * 0.6 / 30, 300 * 0.6 / 20, 8.0))
    assert canvas.goto_next_uncertain().uncertain_pixels == 100
    assert canvas.goto_next_uncertain().uncertain_pixels == 600
    assert canvas.goto_prev_uncertain().uncertain_pixels == 100
    assert positions == [(1, 2), (2, 2), (1, 2), (2, 2)]
    doc.set_model_mask(np.ones((H, W), np.float32))
    assert canvas.goto_next_uncertain() is None and positions[-1] == (0, 0)


def test_empty_canvas_and_document_switch(qtbot):
    view = CanvasView()
    qtbot.addWidget(view)
    view.resize(300, 200)
    view.show()
    qtbot.waitExposed(view)
    _grab(view)
    view.zoom_in()
    assert view.goto_next_uncertain() is None and view.document() is None
    doc = _doc()
    view.set_document(doc)
    view.set_document(None)
    doc.set_model_mask(np.ones((H, W), np.float32))  # the old document no longer repaints us
    assert view.document() is None
    _grab(view)


def test_smart_brush_toggle_signal_and_stroke(canvas, qtbot):
    doc = canvas.document()
    seen = []
    canvas.smartBrushChanged.connect(seen.append)
    canvas.toggle_smart_brush()
    canvas.set_smart_brush(True)
    assert canvas.smart_brush() and seen == [True]
    rgb = doc.rgb  # make the photo two-toned: dark left of x = 50, bright right
    rgb[:, :50] = 30
    rgb[:, 50:] = 220
    canvas.set_brush_size(30)
    _drag(qtbot, canvas, [(40, 20), (40, 60)])
    painted = doc.touchups == KEEP
    assert painted[:, :50].any() and not painted[:, 50:].any()
    canvas.toggle_smart_brush()
    assert seen == [True, False] and not canvas.smart_brush()


def test_modes_cached_earlier_catch_up_with_strokes_made_in_another_mode(canvas, qtbot):
    doc = canvas.document()
    canvas.set_view_mode("checker")
    _grab(canvas)
    canvas.set_view_mode("mask")
    _grab(canvas)
    canvas.set_view_mode("overlay")
    canvas.set_brush_size(10)
    canvas.set_tool("remove")
    _drag(qtbot, canvas, [(50, 40), (60, 40)])  # remove inside the subject
    painted = doc.touchups == REMOVE
    assert painted.any()
    for mode in ("checker", "mask"):
        canvas.set_view_mode(mode)
        shot = _grab(canvas)
        spot = canvas.map_from_image(51.5, 40.5).toPoint()  # away from the cursor outline
        x, y = spot.x(), spot.y()
        pixel = tuple(shot[y, x * 3 : x * 3 + 3])
        if mode == "mask":
            assert pixel == (0, 0, 0)
        else:
            assert pixel in ((204, 204, 204), (153, 153, 153))  # checkerboard shows through
    doc.undo()
    shot = _grab(canvas)  # undo repaints the current mode too
    assert tuple(shot[y, x * 3 : x * 3 + 3]) == (255, 255, 255)


def test_arrow_keys_pan_the_zoomed_view(canvas, qtbot):
    canvas.set_zoom(8.0)
    centre = QPointF(200, 150)
    x0, y0 = canvas.map_to_image(centre)
    qtbot.keyClick(canvas, Qt.Key.Key_Right)
    x1, y1 = canvas.map_to_image(centre)
    assert x1 == pytest.approx(x0 + 400 * 0.125 / 8.0) and y1 == pytest.approx(y0)
    qtbot.keyClick(canvas, Qt.Key.Key_Up, Qt.KeyboardModifier.ShiftModifier)
    assert canvas.map_to_image(centre)[1] == pytest.approx(y0 - 300 * 0.5 / 8.0)
