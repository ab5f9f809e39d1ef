"""Our fast-compiling kernels give pymatting's results bit for bit (issue 19.2).

core/matting_kernels.py rewrites pymatting's incomplete Cholesky and multilevel foreground
estimator so numba compiles them in ~2 s instead of ~10 s on a fresh install; the arithmetic
is meant to be the same statement for statement, so the results must be identical, not close.
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse

from bgeraser_gui.core import matting_kernels
from bgeraser_gui.core.kernel_cache import pymatting_part
from bgeraser_gui.core.matting_tiles import band_system
from tests.test_matting import band_trimap, synthetic_composite


def _band_matrix(seed: int, diagonal: float) -> scipy.sparse.csr_matrix:
    rgb, alpha, _, _ = synthetic_composite(60, 80, seed=seed)
    trimap = band_trimap(alpha, band=5)
    unknown = trimap == 128
    matrix, _, _, _ = band_system(rgb / 255.0, unknown, trimap / 255.0, diagonal=diagonal)
    return matrix


@pytest.mark.parametrize(
    ("discard", "shifts"),
    [(3e-3, [1e-2, 0.1, 1.0]), (1e-4, [0.0, 1e-4]), (0.2, [0.0, 1e-3, 10.0])],
)
def test_incomplete_cholesky_is_pymatting_s_bit_for_bit(discard, shifts):
    reference_ichol = pymatting_part("preconditioner.ichol").ichol
    for seed, diagonal in ((0, 1e-3), (1, 1e-8)):
        matrix = _band_matrix(seed, diagonal)
        try:
            reference = reference_ichol(
                matrix.copy(), discard_threshold=discard, shifts=shifts, max_nnz=10**6
            )
        except ValueError:  # no shift works: ours must fail the same way
            with pytest.raises(ValueError):
                matting_kernels.ichol(matrix, discard, shifts, 10**6)
            continue
        ours = matting_kernels.ichol(matrix, discard, shifts, 10**6)
        for theirs, mine in zip(
            reference.Ltuple, (ours.data, ours.indices, ours.indptr), strict=True
        ):
            assert np.array_equal(theirs, mine)
        vector = np.random.default_rng(seed).random(matrix.shape[0])
        assert np.array_equal(reference(vector), ours(vector))


def test_incomplete_cholesky_retries_with_a_shift_and_says_nothing_on_stdout(capsys):
    indefinite = scipy.sparse.csc_matrix(np.array([[1.0, 2.0], [2.0, 1.0]]))
    factor = matting_kernels.ichol(indefinite, shifts=[0.0, 10.0])  # fails at 0, works at 10
    assert np.all(np.isfinite(factor(np.ones(2))))
    assert capsys.readouterr().out == ""
    with pytest.raises(ValueError):
        matting_kernels.ichol(indefinite, shifts=[0.0])


@pytest.mark.parametrize("shape", [(64, 64), (37, 90), (120, 33), (5, 9), (1, 40)])
def test_foreground_estimate_is_pymatting_s_bit_for_bit(shape):
    reference = pymatting_part("foreground.estimate_foreground_ml").estimate_foreground_ml
    rgb, alpha, _, _ = synthetic_composite(160, 200, seed=3)
    rng = np.random.default_rng(sum(shape))
    y = rng.integers(0, 160 - shape[0] + 1)
    x = max(0, 110 - shape[1] // 2)  # across the soft edge (alpha 0.5 near x = 110)
    image = rgb[y : y + shape[0], x : x + shape[1]].astype(np.float32) / 255.0
    tile_alpha = np.ascontiguousarray(alpha[y : y + shape[0], x : x + shape[1]], np.float32)
    ours = matting_kernels.estimate_foreground_ml(image, tile_alpha)
    assert ours.dtype == np.float32 and ours.shape == image.shape
    assert np.array_equal(reference(image, tile_alpha), ours)


def test_foreground_estimate_without_sure_pixels_matches_too():
    reference = pymatting_part("foreground.estimate_foreground_ml").estimate_foreground_ml
    image = np.random.default_rng(5).random((20, 30, 3)).astype(np.float32)
    half = np.full((20, 30), 0.5, np.float32)  # no pixel above 0.9 or below 0.1
    assert np.array_equal(
        reference(image, half), matting_kernels.estimate_foreground_ml(image, half)
    )
