"""pymatting's incomplete Cholesky and multilevel foreground kernels, rewritten to compile fast.

numba compiles every kernel the first time a fresh install refines an edge. pymatting's
versions of these two cost ~10 s of CPU to compile on the 2-core test machine, more than a
whole warm refinement at 6 MP: `_ichol` sorts with `np.sort` (numba compiles a generic
quicksort for it) and the foreground estimator calls two `parallel=True` resize kernels
(numba's parallel compiler, ~5 s), which also made it 14x slower when called from one thread
(the parallel launch per pyramid level). Here the arithmetic is pymatting's, statement for
statement, so the results are bit-identical (tests/test_matting_kernels.py), but work arrays,
the pyramid and the nearest-neighbour resizes are numpy, sorting is a shell sort, the two
triangular solves are one kernel and nothing runs in parallel inside a kernel (callers
already run one tile per thread).

Adapted from pymatting 1.1 (MIT licence, Copyright (c) 2020 Thomas Germer, Tobias Uelwer):
pymatting/preconditioner/ichol.py and pymatting/foreground/estimate_foreground_ml.py.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np
import scipy.sparse

from bgeraser_gui.core.kernel_cache import cached_kernel

_log = logging.getLogger(__name__)


@cached_kernel
def _ichol_columns(n, Av, Ar, Ap, Lv, Lr, Lp, discard_threshold, shift, max_nnz, work, values, flags):  # pragma: no cover - numba  # fmt: skip
    """pymatting's `_ichol` (relative threshold 0, discarded entries kept on the diagonal).

    Scratch from `ichol`: work int64 (4, n), values float64 (2, n), flags bool (n,). Returns
    the number of entries of L, -1 when the matrix is not positive definite enough, -2 past
    max_nnz."""
    nnz = 0
    c_n = 0
    s = work[0]  # next non-zero row index i in column j of L
    t = work[1]  # first subdiagonal index i in column j of A
    l = work[2]  # linked list of non-zero columns in row k of L  # noqa: E741 - pymatting's name
    c = work[3]  # row indices of non-zero elements in column j
    b = flags  # b[i]: the i-th element of column j is non-zero
    a = values[0]  # values of column j
    d = values[1]  # diagonal
    for j in range(n):
        a[j] = 0.0
        s[j] = 0
        t[j] = 0
        l[j] = -1
        b[j] = False
        d[j] = shift
    for j in range(n):
        for idx in range(Ap[j], Ap[j + 1]):
            i = Ar[idx]
            if i == j:
                d[j] += Av[idx]
                t[j] = idx + 1
    for j in range(n):
        for idx in range(t[j], Ap[j + 1]):
            i = Ar[idx]
            L_ij = Av[idx]
            if L_ij != 0.0 and i > j:
                a[i] += L_ij
                if not b[i]:
                    b[i] = True
                    c[c_n] = i
                    c_n += 1
        k = l[j]
        while k != -1:
            k0 = s[k]
            k1 = Lp[k + 1]
            k2 = l[k]
            L_jk = Lv[k0]
            k0 += 1
            if k0 < k1:
                s[k] = k0
                i = Lr[k0]
                l[k] = l[i]
                l[i] = k
                for idx in range(k0, k1):
                    i = Lr[idx]
                    L_ik = Lv[idx]
                    a[i] -= L_ik * L_jk
                    if not b[i]:
                        b[i] = True
                        c[c_n] = i
                        c_n += 1
            k = k2
        if d[j] <= 0.0:
            return -1
        if nnz + 1 + c_n > max_nnz:
            return -2
        d[j] = np.sqrt(d[j])
        Lv[nnz] = d[j]
        Lr[nnz] = j
        nnz += 1
        s[j] = nnz
        # rows of column j in increasing order (shell sort of c[:c_n], gaps 1, 4, 13, ...)
        gap = 1
        while gap < c_n // 3:
            gap = 3 * gap + 1
        while gap > 0:
            for m in range(gap, c_n):
                v = c[m]
                q = m
                while q >= gap and c[q - gap] > v:
                    c[q] = c[q - gap]
                    q -= gap
                c[q] = v
            gap //= 3
        for m in range(c_n):
            i = c[m]
            L_ij = a[i] / d[j]
            d[i] -= L_ij * L_ij
            if abs(L_ij) > discard_threshold and abs(a[i]) > 0.0:
                Lv[nnz] = L_ij
                Lr[nnz] = i
                nnz += 1
            a[i] = 0.0
            b[i] = False
        c_n = 0
        Lp[j + 1] = nnz
        if Lp[j] + 1 < Lp[j + 1]:
            i = Lr[Lp[j] + 1]
            l[j] = l[i]
            l[i] = j
    return nnz


@cached_kernel
def _solve_llt(data, indices, indptr, x, n):  # pragma: no cover - numba
    """x <- (L L^T)^-1 x in place for L in CSC form (pymatting's two back-substitutions)."""
    for j in range(n):
        temp = x[j] / data[indptr[j]]
        x[j] = temp
        for k in range(indptr[j] + 1, indptr[j + 1]):
            x[indices[k]] -= data[k] * temp
    for i in range(n - 1, -1, -1):
        s = x[i]
        for k in range(indptr[i] + 1, indptr[i + 1]):
            s -= data[k] * x[indices[k]]
        x[i] = s / data[indptr[i]]


class CholeskyFactor:
    """L of A ~ L L^T; calling it applies (L L^T)^-1 (the CG preconditioner)."""

    def __init__(self, data: np.ndarray, indices: np.ndarray, indptr: np.ndarray) -> None:
        self.data, self.indices, self.indptr = data, indices, indptr

    def __call__(self, b: np.ndarray) -> np.ndarray:
        x = b.copy()
        _solve_llt(self.data, self.indices, self.indptr, x, len(b))
        return x


def ichol(
    matrix: scipy.sparse.spmatrix,
    discard_threshold: float = 1e-4,
    shifts: Sequence[float] = (0.0, 1e-4, 1e-3, 1e-2, 0.1, 0.5, 1.0, 10.0, 100, 1e3, 1e4, 1e5),
    max_nnz: int = int(4e9 / 16),
) -> CholeskyFactor:
    """Thresholded incomplete Cholesky of a symmetric matrix, as `pymatting.ichol` with its
    default relative threshold (0) and diagonal rule; each shift is tried in turn until the
    factor exists. Raises ValueError when none works or the factor passes max_nnz."""
    if isinstance(matrix, scipy.sparse.csr_matrix):
        matrix = matrix.T  # symmetric: the CSR arrays read as CSC
    if not isinstance(matrix, scipy.sparse.csc_matrix):
        raise ValueError("Matrix A must be a scipy.sparse.csc_matrix")
    if not matrix.has_canonical_format:
        matrix.sum_duplicates()
    n = matrix.shape[0]
    values = np.ascontiguousarray(matrix.data, dtype=np.float64)
    rows = matrix.indices.astype(np.int64)
    starts = matrix.indptr.astype(np.int64)
    Lv = np.empty(max_nnz, np.float64)
    Lr = np.empty(max_nnz, np.int64)
    Lp = np.zeros(n + 1, np.int64)
    work = np.empty((4, n), np.int64)
    scratch = np.empty((2, n), np.float64)
    flags = np.empty(n, np.bool_)
    nnz = -1
    for shift in shifts:
        nnz = _ichol_columns(
            n, values, rows, starts, Lv, Lr, Lp, float(discard_threshold), float(shift),
            int(max_nnz), work, scratch, flags,
        )  # fmt: skip
        if nnz >= 0:
            break
        if nnz == -2:
            raise ValueError(
                "Thresholded incomplete Cholesky decomposition failed because more than "
                "max_nnz non-zero elements were created"
            )
        _log.debug("incomplete Cholesky: not positive definite at shift %g; retrying", shift)
    if nnz < 0:
        raise ValueError(
            "Thresholded incomplete Cholesky decomposition failed due to insufficient "
            "positive-definiteness of matrix A and diagonal shifts did not help."
        )
    return CholeskyFactor(Lv[:nnz], Lr[:nnz], Lp)


@cached_kernel
def _ml_sweeps(
    image, alpha, F, B, regularization, gradient_weight, n_iter, b
):  # pragma: no cover - numba
    """n_iter Gauss-Seidel sweeps of the multilevel foreground model on one pyramid level,
    in place on F and B (float32); b is a float32 (2, depth) scratch."""
    h, w, depth = image.shape
    for _ in range(n_iter):
        for y in range(h):
            for x in range(w):
                a0 = alpha[y, x]
                a1 = 1.0 - a0
                a00 = a0 * a0
                a01 = a0 * a1
                a11 = a1 * a1
                for c in range(depth):
                    b[0, c] = a0 * image[y, x, c]
                    b[1, c] = a1 * image[y, x, c]
                for d in range(4):  # left, right, up, down: pymatting's neighbour order
                    x2 = max(0, min(w - 1, x + (d == 1) - (d == 0)))
                    y2 = max(0, min(h - 1, y + (d == 3) - (d == 2)))
                    gradient = abs(a0 - alpha[y2, x2])
                    da = regularization + gradient_weight * gradient
                    a00 += da
                    a11 += da
                    for c in range(depth):
                        b[0, c] += da * F[y2, x2, c]
                        b[1, c] += da * B[y2, x2, c]
                determinant = a00 * a11 - a01 * a01
                inv_det = 1.0 / determinant
                b00 = inv_det * a11
                b01 = inv_det * -a01
                b11 = inv_det * a00
                for c in range(depth):
                    F_c = b00 * b[0, c] + b01 * b[1, c]
                    B_c = b01 * b[0, c] + b11 * b[1, c]
                    F[y, x, c] = max(0.0, min(1.0, F_c))
                    B[y, x, c] = max(0.0, min(1.0, B_c))


def _resize_nearest(src: np.ndarray, h: int, w: int) -> np.ndarray:
    """pymatting's nearest-neighbour resize (source index = destination index * src // dst)."""
    ys = np.minimum(np.arange(h) * src.shape[0] // h, src.shape[0] - 1)
    xs = np.minimum(np.arange(w) * src.shape[1] // w, src.shape[1] - 1)
    return np.ascontiguousarray(src[ys[:, None], xs[None, :]])


def _mean_colour(image: np.ndarray, where: np.ndarray) -> np.ndarray:
    """pymatting's float32 running sum in raster order (cumsum is sequential), then / count."""
    picked = image[where]
    if not len(picked):
        return np.zeros(image.shape[-1], np.float32)
    total = np.cumsum(picked, axis=0, dtype=np.float32)[-1]
    return (total.astype(np.float64) / (len(picked) + 1e-5)).astype(np.float32)


def estimate_foreground_ml(
    image: np.ndarray,
    alpha: np.ndarray,
    regularization: float = 1e-5,
    n_small_iterations: int = 10,
    n_big_iterations: int = 2,
    small_size: int = 32,
    gradient_weight: float = 1.0,
) -> np.ndarray:
    """Foreground colours F (float32 HxWx3) of `image` given its alpha: pymatting's
    `estimate_foreground_ml` with the same defaults and the same result."""
    image = np.ascontiguousarray(image, dtype=np.float32)
    alpha = np.ascontiguousarray(alpha, dtype=np.float32)
    h0, w0, depth = image.shape
    F = _mean_colour(image, alpha > 0.9).reshape(1, 1, depth)
    B = _mean_colour(image, alpha < 0.1).reshape(1, 1, depth)
    n_levels = int(np.ceil(np.log2(max(w0, h0))))
    scratch = np.zeros((2, depth), np.float32)
    regularization = np.float32(regularization)
    gradient_weight = np.float32(gradient_weight)
    for level in range(n_levels + 1):
        w = round(w0 ** (level / n_levels))
        h = round(h0 ** (level / n_levels))
        level_image = _resize_nearest(image, h, w)
        level_alpha = _resize_nearest(alpha, h, w)
        F = _resize_nearest(F, h, w)
        B = _resize_nearest(B, h, w)
        n_iter = n_small_iterations if w <= small_size and h <= small_size else n_big_iterations
        _ml_sweeps(level_image, level_alpha, F, B, regularization, gradient_weight, n_iter, scratch)
    return F
