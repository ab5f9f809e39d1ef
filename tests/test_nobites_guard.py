"""No bites: refinement keeps what the model holds as solid subject (core/subject_guard.py)."""

from __future__ import annotations

import numpy as np

from bgeraser_gui.core import subject_guard
from bgeraser_gui.core.matting import RefineOptions, refine
from bgeraser_gui.core.subject_guard import guard_alpha, subject_floor
from bgeraser_gui.core.trimap import KEEP, REMOVE

OPTIONS = RefineOptions(decontaminate=False)


def _camouflage(h: int = 120, w: int = 160):
    """A red square subject on a blue background with a blue patch inside the subject (a dark
    sweater in front of dark trees): colour alone says the patch is background."""
    rng = np.random.default_rng(3)
    rgb = np.zeros((h, w, 3), np.uint8)
    rgb[...] = (30, 40, 200)
    rgb[20:100, 30:130] = (210, 40, 30)
    rgb[45:75, 55:105] = (30, 40, 200)  # the patch, background-coloured
    rgb = np.clip(rgb + rng.normal(0, 3, rgb.shape), 0, 255).astype(np.uint8)
    mask = np.zeros((h, w), np.float32)
    mask[20:100, 30:130] = 1.0
    return rgb, mask


def test_floor_is_the_model_value_on_solid_pixels_and_follows_strokes():
    mask = np.array([[0.95, 0.5, 0.0]], np.float32)
    touchups = np.array([[REMOVE, 0, KEEP]], np.uint8)
    assert subject_floor(mask, None).tolist() == [[np.float32(0.95), 0.0, 0.0]]
    assert subject_floor(mask, touchups).tolist() == [[0.0, 0.0, 1.0]]


def test_matting_cannot_lower_a_solid_pixel_below_the_model():
    mask = np.full((4, 4), 0.97, np.float32)
    alpha = np.zeros((4, 4), np.float32)
    result = guard_alpha(alpha, mask)
    assert np.all(result.alpha >= 0.97)


def test_a_large_area_where_matting_bit_keeps_the_models_value_and_is_reported():
    mask = np.zeros((100, 100), np.float32)
    mask[10:90, 10:90] = 0.8  # leans to subject, below SOLID: the floor alone does not hold it
    alpha = mask.copy()
    alpha[30:60, 30:60] = 0.0  # a bite of 900 px, 14% of the subject
    alpha[80, 80] = 0.0  # one stray pixel: below the dispute size, matting's call stands
    result = guard_alpha(alpha, mask)
    assert np.all(result.alpha[30:60, 30:60] == np.float32(0.8))
    assert result.alpha[80, 80] == 0.0
    assert 0.1 < result.disputed < 0.2


def test_agreement_reports_no_dispute():
    mask = np.zeros((50, 50), np.float32)
    mask[10:40, 10:40] = 1.0
    assert guard_alpha(mask.copy(), mask).disputed == 0.0


def test_remove_strokes_are_never_restored():
    mask = np.ones((40, 40), np.float32) * 0.8
    alpha = np.zeros_like(mask)
    touchups = np.full(mask.shape, REMOVE, np.uint8)
    result = guard_alpha(alpha, mask, touchups=touchups)
    assert result.alpha.max() == 0.0 and result.disputed == 0.0


def test_refine_keeps_a_background_coloured_patch_the_model_holds_as_subject():
    rgb, mask = _camouflage()
    result = refine(rgb, mask, options=OPTIONS)
    assert result.alpha[45:75, 55:105].min() >= subject_guard.SOLID


def test_refine_keeps_a_thin_solid_spoke_inside_a_wide_band():
    h, w = 120, 160
    rgb = np.zeros((h, w, 3), np.uint8)
    rgb[...] = (150, 120, 80)  # wood
    rgb[:, 78:80] = (160, 130, 90)  # a 2 px spoke in nearly the wood's colour
    mask = np.zeros((h, w), np.float32)
    mask[:, 78:80] = 0.95
    mask[:, 70:78] = 0.5  # the model is soft around it, so the band is wide
    result = refine(rgb, mask, options=OPTIONS)
    assert result.alpha[:, 78:80].min() >= 0.95


def test_refine_with_a_keep_stroke_is_opaque_under_the_stroke():
    rgb, mask = _camouflage()
    soft = mask * 0.3  # the model barely sees the subject
    touchups = np.zeros(mask.shape, np.uint8)
    touchups[50:70, 60:100] = KEEP
    result = refine(rgb, soft, touchups, options=OPTIONS)
    assert np.all(result.alpha[50:70, 60:100] == 1.0)


def _disc(size: int, radius: float) -> np.ndarray:
    yy, xx = np.mgrid[0:size, 0:size]
    c = (size - 1) / 2
    return (((yy - c) ** 2 + (xx - c) ** 2) <= radius**2).astype(np.float32) * 0.7


def _edge_moves(mask: np.ndarray, every: int) -> tuple[np.ndarray, np.ndarray]:
    """`mask` with every `every`-th pixel of its outline's inner ring pushed to background
    (single pixels: each far below the dispute size); returns (alpha, moved pixels)."""
    import cv2

    inner = mask > 0
    ring = inner & ~cv2.erode(inner.view(np.uint8), np.ones((3, 3), np.uint8)).astype(bool)
    moved = np.zeros_like(ring)
    ys, xs = np.nonzero(ring)
    moved[ys[::every], xs[::every]] = True
    alpha = mask.copy()
    alpha[moved] = 0.2
    return alpha, moved


def test_a_small_subject_keeps_the_models_outline_where_refinement_moved_it_a_little():
    mask = _disc(64, 15)  # the 4 px band is ~46% of the subject
    alpha, moved = _edge_moves(mask, 4)
    assert 0 < moved.sum() < subject_guard.OUTLINE_MAX_CHANGE * (mask >= 0.5).sum()
    result = guard_alpha(alpha, mask, edge_px=4)
    assert np.all(result.alpha[moved] == np.float32(0.7))
    assert result.disputed == 0.0  # scattered pixels: not a dispute


def test_the_outline_rule_leaves_large_subjects_large_changes_and_strokes_to_matting():
    big = _disc(400, 190)  # the 4 px band is ~4% of the subject
    alpha, moved = _edge_moves(big, 4)
    assert np.all(guard_alpha(alpha, big, edge_px=4).alpha[moved] == np.float32(0.2))
    small = _disc(64, 15)
    yy, xx = np.mgrid[0:64, 0:64]
    moved = (small > 0) & (yy % 2 == 0) & (xx % 2 == 0)  # isolated pixels, 1/4 of the subject
    alpha = np.where(moved, np.float32(0.2), small)
    assert np.all(guard_alpha(alpha, small, edge_px=4).alpha[moved] == np.float32(0.2))
    alpha, moved = _edge_moves(small, 4)
    touchups = np.where(moved, np.uint8(REMOVE), np.uint8(0))
    result = guard_alpha(alpha, small, touchups=touchups, edge_px=4)
    assert np.all(result.alpha[moved] == np.float32(0.2))
