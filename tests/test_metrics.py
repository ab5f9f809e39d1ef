"""Metric functions against values computed by hand on tiny arrays."""

from __future__ import annotations

import numpy as np
import pytest

from bgeraser_gui.core import metrics as m


def half_gt(h: int = 4, w: int = 4) -> np.ndarray:
    """Left half foreground (1.0), right half background."""
    gt = np.zeros((h, w), dtype=np.float32)
    gt[:, : w // 2] = 1.0
    return gt


def test_perfect_prediction_scores_best_everywhere():
    gt = half_gt(8, 8)
    result = m.evaluate_alpha(gt.copy(), gt, region=m.unknown_band(gt, band_px=1))
    for scope in ("", "band_"):
        assert result[scope + "iou"] == 1.0
        assert result[scope + "bf"] == 1.0
        for name in ("sad", "mse", "grad", "conn"):
            assert result[scope + name] == 0.0


def test_inverted_prediction():
    gt = half_gt()  # 8 fg + 8 bg pixels
    pred = 1.0 - gt
    assert m.iou(pred, gt) == 0.0
    assert m.sad(pred, gt) == pytest.approx(16 / 1000)
    assert m.mse(pred, gt) == pytest.approx(1.0)
    assert m.boundary_f_score(pred, gt, tolerance_px=0) == 0.0


def test_half_alpha_prediction():
    gt = half_gt()
    pred = np.full(gt.shape, 0.5, dtype=np.float32)
    # 0.5 counts as foreground at the 0.5 threshold: 8 of 16 pixels agree
    assert m.iou(pred, gt) == pytest.approx(0.5)
    assert m.sad(pred, gt) == pytest.approx(16 * 0.5 / 1000)
    assert m.mse(pred, gt) == pytest.approx(0.25)


def test_uint8_and_float_inputs_agree():
    gt = half_gt()
    pred = np.full(gt.shape, 0.5, dtype=np.float32)
    pred[0, 0] = 1.0
    as_u8 = (gt * 255).astype(np.uint8)
    assert m.sad(pred, as_u8) == pytest.approx(m.sad(pred, gt))
    assert m.iou((pred * 255).round().astype(np.uint8), gt) == pytest.approx(m.iou(pred, gt))


def test_ignore_mask_excludes_pixels_from_every_metric():
    gt = half_gt()
    pred = gt.copy()
    pred[0, 0] = 0.0  # one wrong foreground pixel
    pred[3, 3] = 1.0  # one wrong background pixel
    ignore = np.zeros(gt.shape, dtype=np.uint8)
    ignore[0, 0] = 255
    valid = m.scored_pixels(gt.shape, ignore=ignore)
    assert valid.sum() == 15
    assert m.sad(pred, gt, valid) == pytest.approx(1 / 1000)
    assert m.mse(pred, gt, valid) == pytest.approx(1 / 15)
    # fg: 7 scored gt pixels, pred has the same 7 + (3,3): IoU 7/8
    assert m.iou(pred, gt, valid) == pytest.approx(7 / 8)
    result = m.evaluate_alpha(pred, gt, ignore=ignore)
    assert result["sad"] == pytest.approx(1 / 1000)
    everything_ignored = np.full(gt.shape, 255, dtype=np.uint8)
    assert m.evaluate_alpha(pred, gt, ignore=everything_ignored)["sad"] == 0.0


def test_region_restricts_scoring():
    gt = half_gt()
    pred = gt.copy()
    pred[0, 0] = 0.0
    region = np.zeros(gt.shape, dtype=bool)
    region[:, 2:] = True  # the background half only
    result = m.evaluate_alpha(pred, gt, region=region)
    assert result["sad"] == pytest.approx(1 / 1000)
    assert result["band_sad"] == 0.0


def test_unknown_band_from_trimap_and_from_contour():
    trimap = np.array([[0, 128, 255], [128, 128, 0]], dtype=np.uint8)
    gt = np.zeros((2, 3), dtype=np.uint8)
    band = m.unknown_band(gt, trimap)
    assert band.tolist() == [[False, True, False], [True, True, False]]
    # binary gt, fg columns 0..3 of 8: 1 px band = the columns on both sides of the edge
    wide = half_gt(6, 8)
    band = m.unknown_band(wide, band_px=1)
    assert band.any(axis=0).tolist() == [False, False, False, True, True, False, False, False]
    assert band[:, 3:5].all()
    # fractional alpha is always in the band
    soft = wide.copy()
    soft[0, 0] = 0.5
    assert m.unknown_band(soft, band_px=1)[0, 0]


def test_gaussian_derivative_kernel_matches_reference_size_and_norm():
    k = m._gaussian_derivative_kernel(1.4)
    assert k.shape == (9, 9)  # half size ceil(1.4 * sqrt(-2 ln(sqrt(2 pi) 1.4 0.01))) = 4
    assert np.sum(k**2) == pytest.approx(1.0)
    assert np.allclose(k, -k[:, ::-1])  # odd in x
    assert np.allclose(k, k[::-1, :])  # even in y


def test_gradient_error_ignores_constant_offset_but_sees_edges():
    gt = half_gt(16, 16)
    offset = np.clip(gt * 0.8 + 0.1, 0, 1)  # same edge, lower contrast
    assert m.gradient_error(gt + 0.0, gt) == 0.0
    # a constant image against a constant image: no gradient at all, although SAD is large
    assert m.gradient_error(np.full((8, 8), 0.3), np.zeros((8, 8))) == 0.0
    assert m.sad(np.full((8, 8), 0.3), np.zeros((8, 8))) == pytest.approx(64 * 0.3 / 1000)
    assert m.gradient_error(offset, gt) > 0.0
    # a missing edge costs more than a weakened one
    assert m.gradient_error(np.zeros_like(gt), gt) > m.gradient_error(offset, gt)


def test_connectivity_error_hand_values():
    # nothing predicted for a fully opaque 3x3 subject: every pixel costs |1 - 0| = 1
    gt = np.ones((3, 3))
    assert m.connectivity_error(np.zeros((3, 3)), gt) == pytest.approx(9 / 1000)
    # a detached opaque speck costs 1, like SAD
    gt = np.zeros((7, 7))
    gt[1:4, 1:4] = 1.0
    pred = gt.copy()
    pred[6, 6] = 1.0
    assert m.connectivity_error(pred, gt) == pytest.approx(1 / 1000)
    # a faint detached speck (rise below 0.15) costs nothing, although SAD sees it
    faint = gt.copy()
    faint[6, 6] = 0.1
    assert m.connectivity_error(faint, gt) == 0.0
    assert m.sad(faint, gt) == pytest.approx(0.1 / 1000)
    # the speck is outside the scored region -> no cost
    valid = np.ones((7, 7), dtype=bool)
    valid[6, 6] = False
    assert m.connectivity_error(pred, gt, valid) == 0.0


def test_boundary_f_score_tolerance():
    gt = np.zeros((20, 20))
    gt[5:15, 5:15] = 1.0
    shifted = np.zeros_like(gt)
    shifted[5:15, 7:17] = 1.0  # 2 px to the right
    assert m.boundary_f_score(shifted, gt, tolerance_px=3) == 1.0
    score = m.boundary_f_score(shifted, gt, tolerance_px=1)
    assert 0.0 < score < 1.0
    assert m.boundary_f_score(np.zeros_like(gt), gt) == 0.0
    assert m.boundary_f_score(np.zeros_like(gt), np.zeros_like(gt)) == 1.0


def test_boundary_f_score_hand_value():
    # gt: columns 0..3 of 8 -> contour = column 3 (6 px); pred: columns 0..4 -> column 4.
    gt = half_gt(6, 8)
    pred = np.zeros_like(gt)
    pred[:, :5] = 1.0
    assert m.boundary_f_score(pred, gt, tolerance_px=1) == 1.0
    assert m.boundary_f_score(pred, gt, tolerance_px=0.5) == 0.0


def test_size_mismatch_is_an_error():
    with pytest.raises(ValueError, match="differ in size"):
        m.sad(np.zeros((2, 2)), np.zeros((3, 3)))
    with pytest.raises(ValueError):
        m.sad(np.zeros((2, 2)), np.zeros((2, 2)), np.zeros((3, 3), dtype=bool))


def test_error_map_colours():
    gt = np.array([[1.0, 0.0, 1.0]])
    pred = np.array([[1.0, 1.0, 0.0]])
    ignore = np.array([[True, False, False]])
    rgb = m.error_map(pred, gt, ignore)
    assert rgb.shape == (1, 3, 3)
    assert tuple(rgb[0, 0]) == (96, 96, 96)  # ignored
    assert rgb[0, 1, 0] == 255 and rgb[0, 1, 2] == 0  # extra foreground: red
    assert rgb[0, 2, 2] == 255 and rgb[0, 2, 0] == 0  # missing foreground: blue
