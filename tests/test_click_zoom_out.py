"""Positive clicks on an object that fills the photo: salient-object models take what touches
the frame for background, so every crop of such an object sees nothing under the click; the
whole photo seen from further away (a padded canvas) does."""

from __future__ import annotations

import cv2
import numpy as np

from bgeraser_gui.core.click_proposals import CropSegmenter, view_key, zoomed_out
from bgeraser_gui.core.history import Rect
from bgeraser_gui.core.interactive import Click, ClickSession, prefetch_crops

GREEN = (40, 120, 40)


def _framed_salient(rgb: np.ndarray) -> np.ndarray:
    """'The model' with a boundary prior: red is salient, unless its connected region touches
    the frame."""
    r, g = rgb[..., 0].astype(int), rgb[..., 1].astype(int)
    salient = (r > g + 80).astype(np.uint8)
    n, ids = cv2.connectedComponents(salient, connectivity=4)
    edge = np.unique(np.concatenate([ids[0], ids[-1], ids[:, 0], ids[:, -1]]))
    keep = np.ones(n, bool)
    keep[edge] = False
    keep[0] = False
    return keep[ids].astype(np.float32)


def _bus_scene(seed: int = 0):
    """A red 'bus' that runs out of the photo at the left, right and bottom; green above."""
    rng = np.random.default_rng(seed)
    img = np.full((200, 300, 3), GREEN, np.uint8)
    bus = np.zeros((200, 300), bool)
    bus[90:, :] = True
    img[bus] = (200, 40, 40)
    img = (img + rng.normal(0, 5, img.shape)).clip(0, 255).astype(np.uint8)
    return img, bus


def test_zoomed_out_canvas_holds_the_photo_unchanged_in_its_middle():
    img, _ = _bus_scene()
    canvas, inside = zoomed_out(img, 1.5)
    assert canvas.shape == (300, 450, 3)
    assert inside == Rect(75, 50, 375, 250)
    np.testing.assert_array_equal(canvas[inside.slices()], img)
    # the object no longer touches the frame
    assert _framed_salient(canvas)[inside.slices()][100:].mean() > 0.99


def test_a_side_above_the_long_side_is_the_whole_photo_the_same_for_every_click():
    assert view_key(10, 10, 450, 300, 200) == (Rect(0, 0, 300, 200), 1.5)
    assert view_key(290, 190, 450, 300, 200) == (Rect(0, 0, 300, 200), 1.5)
    assert view_key(150, 100, 120, 300, 200)[1] == 1.0


def test_positive_click_on_an_object_filling_the_photo_selects_it():
    img, bus = _bus_scene()
    calls: list[tuple] = []

    def segment(rgb):
        calls.append(rgb.shape)
        return _framed_salient(rgb)

    segmenter = CropSegmenter(img, segment)
    assert _framed_salient(img).max() == 0  # the model alone sees nothing
    ran = prefetch_crops(segmenter, Click(150, 150, True))
    assert ran == len(calls) and (300, 450, 3) in calls  # the zoomed-out view is prefetched
    out = ClickSession(img, np.zeros(bus.shape, np.float32), segmenter).add(Click(150, 150, True))
    assert len(calls) == ran  # the click itself ran no model
    selected = out >= 0.5
    assert (selected & bus).sum() / (selected | bus).sum() > 0.95


def test_the_zoomed_out_photo_itself_is_not_taken_for_the_clicked_object():
    """Inside a plain canvas a model may call the whole picture salient: that is the photo,
    not a thing in it, and the click falls back to the colours under it."""
    img, bus = _bus_scene()

    def nothing(rgb):
        return np.zeros(rgb.shape[:2], np.float32)

    def picture_in_frame(rgb):  # crops: nothing; the canvas: everything but its padding
        if rgb.shape[:2] != (300, 450):
            return nothing(rgb)
        pad = rgb[0, 0].astype(int)
        return (np.abs(rgb.astype(int) - pad).sum(axis=2) > 0).astype(np.float32)

    start = np.zeros(bus.shape, np.float32)
    out = ClickSession(img, start, picture_in_frame).add(Click(150, 150, True))
    expected = ClickSession(img, start, nothing).add(Click(150, 150, True))
    np.testing.assert_array_equal(out, expected)
    assert (out >= 0.5).mean() < 0.9


def test_the_zoomed_out_view_is_not_asked_when_a_crop_sees_part_of_the_object():
    """A crop whose object runs out of it still answers before the whole photo is asked."""
    from bgeraser_gui.core.click_edit import _object_under_click

    img, bus = _bus_scene()
    asked: list[tuple] = []

    def salient_red(rgb):  # red is salient wherever it is, framed or not
        asked.append(rgb.shape)
        return (rgb[..., 0].astype(int) > rgb[..., 1].astype(int) + 80).astype(np.float32)

    segmenter = CropSegmenter(img, salient_red)
    current = np.zeros(bus.shape, bool)
    found = _object_under_click(
        segmenter, (150, 150, True), 1.0, current, [], current.astype(np.int8), None
    )
    assert found is not None
    assert (300, 450, 3) not in asked  # the zoomed-out canvas was never run
