"""Trimap: band widths (fixed and adaptive), holes and thin parts, painted touch-ups."""

from __future__ import annotations

import numpy as np
import pytest

from bgeraser_gui.core.trimap import KEEP, REFINE, REMOVE, default_band_px, make_trimap


def disc_mask(size: int = 200, radius: float = 60.0, soft_px: float = 1.0) -> np.ndarray:
    yy, xx = np.mgrid[0:size, 0:size]
    dist = np.hypot(yy - size / 2, xx - size / 2) - radius
    return np.clip(0.5 - dist / (2 * soft_px), 0, 1).astype(np.float32)


def unknown_run_along_row(trimap: np.ndarray, row: int, cols: slice) -> int:
    return int(np.count_nonzero(trimap[row, cols] == 128))


def test_values_dtype_and_input_untouched():
    mask = disc_mask()
    before = mask.copy()
    trimap = make_trimap(mask)
    assert trimap.dtype == np.uint8 and trimap.shape == mask.shape
    assert set(np.unique(trimap)) <= {0, 128, 255}
    assert np.array_equal(mask, before)
    assert trimap[100, 100] == 255 and trimap[0, 0] == 0


def test_fixed_band_has_the_requested_width():
    mask = disc_mask(soft_px=0.2)  # practically binary
    trimap = make_trimap(mask, band_px=6, adaptive=False)
    # along the middle row the edge is crossed twice; each crossing: ~6 px each side
    width = unknown_run_along_row(trimap, 100, slice(0, 100))
    assert 10 <= width <= 14
    wider = make_trimap(mask, band_px=12, adaptive=False)
    assert unknown_run_along_row(wider, 100, slice(0, 100)) > width + 8


def test_band_scales_with_image_size():
    assert default_band_px(2000, 3000) > default_band_px(500, 750) >= 3
    assert default_band_px(4000, 6000) == pytest.approx(2 * default_band_px(2000, 3000), abs=1)


def test_adaptive_band_is_wide_on_soft_hair_and_narrow_on_hard_edges():
    size = 240
    mask = np.zeros((size, size), np.float32)
    mask[:, :120] = 1.0  # left: solid subject with a hard vertical edge at x = 120
    rng = np.random.default_rng(0)
    hair = rng.uniform(0.1, 0.9, (size // 2, 60)).astype(np.float32)
    mask[size // 2 :, 120:180] = hair  # bottom half: a wide soft "hair" zone beyond the edge
    trimap = make_trimap(mask, band_px=8)
    hard = unknown_run_along_row(trimap, 40, slice(60, 240))
    soft = unknown_run_along_row(trimap, 200, slice(60, 240))
    assert hard <= 8  # narrow on the hard edge (below the fixed 2 x band)
    assert soft >= 60 + 8  # the whole soft zone plus a widened margin
    fixed = make_trimap(mask, band_px=8, adaptive=False)
    assert unknown_run_along_row(fixed, 40, slice(60, 240)) > hard


def test_small_hole_keeps_background_samples():
    mask = disc_mask(radius=80, soft_px=0.5)
    yy, xx = np.mgrid[0:200, 0:200]
    hole = np.hypot(yy - 100, xx - 100) < 7  # a 14 px hole, narrower than twice the band
    mask[hole] = 0.0
    adaptive = make_trimap(mask, band_px=10)
    assert adaptive[100, 100] == 0  # the hole's middle stays known background
    fixed = make_trimap(mask, band_px=10, adaptive=False)
    assert fixed[100, 100] == 128  # a fixed band swallows it (the failure adaptive avoids)


def test_thin_solid_stick_keeps_foreground_core():
    mask = np.zeros((120, 120), np.float32)
    mask[:, 58:63] = 1.0  # a 5 px wide spoke
    trimap = make_trimap(mask, band_px=10)
    assert trimap[60, 60] == 255
    assert trimap[60, 56] == 128 and trimap[60, 64] == 128  # its edges are refined


def test_touchups_win():
    mask = disc_mask()
    touchups = np.zeros(mask.shape, np.uint8)
    touchups[5:20, 5:20] = KEEP  # in the background
    touchups[95:105, 95:105] = REMOVE  # in the subject
    touchups[150:160, 10:30] = REFINE  # in the background
    before = touchups.copy()
    trimap = make_trimap(mask, touchups=touchups)
    assert np.all(trimap[5:20, 5:20] == 255)
    assert np.all(trimap[95:105, 95:105] == 0)
    assert np.all(trimap[150:160, 10:30] == 128)
    assert np.array_equal(touchups, before)


def test_rejects_mismatched_touchups_and_bad_mask():
    mask = disc_mask()
    with pytest.raises(ValueError):
        make_trimap(mask, touchups=np.zeros((10, 10), np.uint8))
    with pytest.raises(ValueError):
        make_trimap(np.zeros((4, 4, 3), np.float32))


def test_nan_mask_and_uniform_masks():
    mask = disc_mask()
    mask[0:5, 0:5] = np.nan
    assert make_trimap(mask)[2, 2] == 0
    assert np.all(make_trimap(np.ones((50, 50), np.float32)) == 255)
    assert np.all(make_trimap(np.zeros((50, 50), np.float32)) == 0)
