"""Matting: tiled band solve equals the full solve, fallbacks, cancel, decontamination."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from bgeraser_gui.core import matting
from bgeraser_gui.core.errors import Cancelled
from bgeraser_gui.core.matting import RefineOptions, estimate_alpha, estimate_foreground, refine
from bgeraser_gui.core.progress import CancelToken


def synthetic_composite(h: int = 120, w: int = 160, seed: int = 0):
    """Known foreground (warm, textured) over a saturated green background with a soft edge.

    Returns rgb uint8, true alpha, true foreground float, a model-like mask (hard, shifted).
    """
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    wave = 8 * np.sin(yy / 5.0)  # a wavy edge with fine detail
    alpha = np.clip((w * 0.55 + wave - xx) / 6.0 + 0.5, 0, 1).astype(np.float32)
    fg = np.dstack(
        [0.85 + 0.1 * np.sin(xx / 7), 0.45 + 0.1 * np.cos(yy / 9), 0.25 + 0 * xx]
    ).astype(np.float32)
    fg = np.clip(fg + rng.normal(0, 0.01, fg.shape), 0, 1).astype(np.float32)
    bg = np.zeros_like(fg)
    bg[..., 1] = 1.0
    image = alpha[..., None] * fg + (1 - alpha[..., None]) * bg
    rgb = np.clip(np.round(image * 255), 0, 255).astype(np.uint8)
    mask = (alpha > 0.5).astype(np.float32)  # the "model" sees only a hard edge
    return rgb, alpha, fg, mask


def band_trimap(alpha: np.ndarray, band: int = 6) -> np.ndarray:
    import cv2

    kernel = np.ones((2 * band + 1, 2 * band + 1), np.uint8)
    fg = cv2.erode((alpha > 0.99).astype(np.uint8), kernel).astype(bool)
    bg = cv2.erode((alpha < 0.01).astype(np.uint8), kernel).astype(bool)
    trimap = np.full(alpha.shape, 128, np.uint8)
    trimap[fg] = 255
    trimap[bg] = 0
    return trimap


def test_tiled_band_solve_equals_full_image_solve(monkeypatch):
    from pymatting import estimate_alpha_cf

    rgb, alpha, _, _ = synthetic_composite()
    trimap = band_trimap(alpha)
    unknown = int(np.count_nonzero(trimap == 128))
    full = estimate_alpha_cf(rgb / 255.0, trimap / 255.0)
    single = estimate_alpha(rgb, trimap, "cf")
    assert np.abs(single - full).sum() < 0.001 * unknown  # one tile: the same linear system
    monkeypatch.setattr(matting, "TILE_PX", 40)
    monkeypatch.setattr(matting, "MARGIN_PX", 12)
    tiled = estimate_alpha(rgb, trimap, "cf")
    assert np.abs(tiled - full).sum() < 0.02 * unknown
    assert np.all(tiled[trimap == 255] == 1) and np.all(tiled[trimap == 0] == 0)


def test_parallel_tiles_give_the_same_result_as_one_thread(monkeypatch):
    rgb, alpha, _, _ = synthetic_composite()
    trimap = band_trimap(alpha)
    monkeypatch.setattr(matting, "TILE_PX", 40)
    monkeypatch.setattr(matting, "MARGIN_PX", 12)
    monkeypatch.setattr(matting, "MAX_WORKERS", 1)
    sequential = estimate_alpha(rgb, trimap, "cf")
    monkeypatch.setattr(matting, "MAX_WORKERS", 3)
    assert np.allclose(estimate_alpha(rgb, trimap, "cf"), sequential, atol=1e-6)


def test_refine_beats_the_raw_mask_and_keeps_inputs():
    rgb, alpha, _, mask = synthetic_composite()
    rgb_before, mask_before = rgb.copy(), mask.copy()
    result = refine(rgb, mask, options=RefineOptions(band_px=8))
    assert result.alpha.dtype == np.float32 and result.alpha.shape == mask.shape
    assert result.foreground is not None and result.foreground.shape == rgb.shape
    assert np.abs(result.alpha - alpha).sum() < 0.5 * np.abs(mask - alpha).sum()
    assert np.array_equal(rgb, rgb_before) and np.array_equal(mask, mask_before)


def test_decontaminated_colours_are_closer_to_the_true_foreground():
    rgb, alpha, fg, mask = synthetic_composite()
    band = (alpha > 0.15) & (alpha < 0.85)
    raw_error = np.abs(rgb / 255.0 - fg)[band].mean()
    with_true_alpha = estimate_foreground(rgb, alpha)
    assert np.abs(with_true_alpha - fg)[band].mean() < 0.5 * raw_error
    result = refine(rgb, mask, options=RefineOptions(band_px=8))
    assert np.abs(result.foreground - fg)[band].mean() < 0.7 * raw_error
    opaque = result.alpha >= 1.0
    assert np.allclose(result.foreground[opaque], rgb[opaque] / 255.0)


def test_ichol_failure_falls_back_and_says_so(monkeypatch):
    def broken_ichol(*args, **kwargs):
        raise ValueError("Thresholded incomplete Cholesky decomposition failed")

    monkeypatch.setattr(matting, "ichol", broken_ichol)  # the one the solver calls
    rgb, alpha, _, mask = synthetic_composite()
    result = refine(rgb, mask, options=RefineOptions(band_px=8, decontaminate=False))
    assert any("fell back to Jacobi" in note for note in result.notes)
    assert np.abs(result.alpha - alpha).sum() < 0.5 * np.abs(mask - alpha).sum()


@pytest.mark.parametrize("method", ["knn", "lkm", "rw"])
def test_other_methods_produce_a_valid_matte(method):
    rgb, alpha, _, mask = synthetic_composite(80, 100)
    result = refine(rgb, mask, options=RefineOptions(method=method, decontaminate=False))
    assert result.alpha.shape == mask.shape
    assert result.alpha.min() >= 0.0 and result.alpha.max() <= 1.0
    # knn / lkm beat the hard mask; random walk (no colour-line model) beats a 0.5 guess
    guess = np.where(result.trimap == 128, 0.5, result.trimap / 255.0)
    baseline = mask if method != "rw" else guess
    assert np.abs(result.alpha - alpha).sum() < np.abs(baseline - alpha).sum()


def test_unknown_method_is_rejected():
    rgb, _, _, mask = synthetic_composite(40, 40)
    with pytest.raises(ValueError):
        refine(rgb, mask, options=RefineOptions(method="magic"))


class CountingToken(CancelToken):
    """Cancels itself after `after` polls, so we see how often the solver checks."""

    def __init__(self, after: int) -> None:
        super().__init__()
        self.after = after
        self.polls = 0

    def check(self) -> None:
        self.polls += 1
        if self.polls >= self.after:
            self.cancel()
        super().check()


def test_cancel_stops_promptly_and_leaves_inputs_unchanged(monkeypatch):
    rgb, _, _, mask = synthetic_composite(200, 240)
    touchups = np.zeros(mask.shape, np.uint8)
    copies = rgb.copy(), mask.copy(), touchups.copy()
    token = CountingToken(after=12)  # cancelled inside the solver's iterations
    started = []  # cancel polls seen when each tile started
    original = matting._solve_tile
    monkeypatch.setattr(matting, "TILE_PX", 48)
    monkeypatch.setattr(matting, "MAX_WORKERS", 1)  # one thread: the poll count is exact
    monkeypatch.setattr(
        matting, "_solve_tile", lambda *a, **k: (started.append(token.polls), original(*a, **k))[1]
    )
    with pytest.raises(Cancelled):
        refine(rgb, mask, touchups, RefineOptions(band_px=8), cancel=token)
    assert token.polls == 12  # raised at the very poll that saw the cancel
    assert started and max(started) < 12  # no tile started after the cancel
    total = sum(1 for _ in matting.tiles_over(token_trimap(mask) == 128, 48, 12))
    assert len(started) < total  # the band was not finished
    for now, before in zip((rgb, mask, touchups), copies, strict=True):
        assert np.array_equal(now, before)


def token_trimap(mask: np.ndarray) -> np.ndarray:
    from bgeraser_gui.core.trimap import make_trimap

    return make_trimap(mask, band_px=8)


def test_cancel_before_start_raises_at_once():
    rgb, _, _, mask = synthetic_composite(40, 40)
    token = CancelToken()
    token.cancel()
    with pytest.raises(Cancelled):
        refine(rgb, mask, cancel=token)


def test_disabled_refinement_returns_the_mask_and_progress_reaches_one():
    rgb, _, _, mask = synthetic_composite(40, 40)
    seen = []
    result = refine(
        rgb, mask, options=RefineOptions(enabled=False), progress=lambda f, m: seen.append(f)
    )
    assert result.foreground is None and np.array_equal(result.alpha, mask)
    assert seen[-1] == 1.0
    seen.clear()
    refine(rgb, mask, progress=lambda f, m: seen.append(f))
    assert seen == sorted(seen) and seen[-1] == 1.0


def test_warm_up_runs():
    matting.warm_up()


def test_numba_cache_dir_defaults_to_a_user_cache_folder(monkeypatch, tmp_path):
    import os

    import platformdirs
    from numba.core import config

    from bgeraser_gui.core.kernel_cache import ensure_numba_cache_dir

    previous = os.environ.get("NUMBA_CACHE_DIR")
    monkeypatch.delenv("NUMBA_CACHE_DIR", raising=False)
    monkeypatch.setattr(platformdirs, "user_cache_dir", lambda name: str(tmp_path / name))
    try:
        folder = ensure_numba_cache_dir()
        assert folder == tmp_path / "bgeraser" / "numba" and folder.is_dir()
        assert os.environ["NUMBA_CACHE_DIR"] == str(folder)
        monkeypatch.setenv("NUMBA_CACHE_DIR", "/somewhere/else")
        assert ensure_numba_cache_dir() == Path("/somewhere/else")  # an explicit setting wins
    finally:
        if previous is None:
            os.environ.pop("NUMBA_CACHE_DIR", None)
        else:
            os.environ["NUMBA_CACHE_DIR"] = previous
        config.reload_config()


def test_pymatting_retry_warnings_do_not_reach_stdout(capsys):
    import pymatting
    import scipy.sparse

    matting._quiet_pymatting_prints()
    indefinite = scipy.sparse.csc_matrix(np.array([[1.0, 2.0], [2.0, 1.0]]))
    pymatting.ichol(indefinite, shifts=[0.0, 10.0])  # fails at shift 0, retries at 10
    assert capsys.readouterr().out == ""


def test_band_system_is_the_full_laplacian_restricted_to_the_band():
    import scipy.sparse
    from pymatting import cf_laplacian

    from bgeraser_gui.core.matting_tiles import band_system

    rgb, alpha, _, _ = synthetic_composite(40, 50)
    trimap = band_trimap(alpha, band=4)
    image = rgb / 255.0
    unknown = trimap == 128
    known_alpha = trimap / 255.0
    matrix, rhs, ys, xs = band_system(image, unknown, known_alpha, diagonal=0.25)
    laplacian = cf_laplacian(image).tocsr()
    rows = ys * unknown.shape[1] + xs
    known = np.flatnonzero(~unknown.ravel())
    expected = laplacian[rows][:, rows] + 0.25 * scipy.sparse.identity(len(rows))
    scale = abs(expected).max()  # pymatting rounds differently: compare relative to the entries
    assert abs(matrix - expected).max() < 1e-5 * scale
    expected_rhs = -laplacian[rows][:, known] @ known_alpha.ravel()[known]
    assert np.abs(rhs - expected_rhs).max() < 1e-5 * scale
