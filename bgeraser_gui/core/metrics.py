"""Cutout quality metrics: segmentation (IoU, boundary F) and matting (SAD, MSE, Grad, Conn).

All functions take a predicted alpha and a ground-truth alpha of the same HxW shape, either
uint8 (0..255) or float in [0, 1], plus an optional boolean `valid` mask of the pixels that are
scored (see `scored_pixels`: ignore mask removed, optionally restricted to an unknown band).

Matting metrics follow the alphamatting.com / Deep Image Matting evaluation code
(Rhemann et al. 2009, Xu et al. 2017), with alpha in [0, 1]:

- SAD:  sum |pred - gt| over the scored pixels, divided by 1000.
- MSE:  mean (pred - gt)^2 over the scored pixels.
- Grad: sum (|grad pred| - |grad gt|)^2 over the scored pixels, divided by 1000; gradients are
        first derivatives of a Gaussian with sigma 1.4 (replicated border).
- Conn: sum |phi(pred) - phi(gt)| over the scored pixels, divided by 1000; phi measures how
        far each pixel's alpha rises above the level at which it stops being 4-connected to
        the largest region the two mattes share (thresholds 0, 0.1, ..., 1; jumps below 0.15
        count as zero).
Gradient and connectivity are computed on the full image and only then summed over `valid`,
so masking does not invent edges.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

BINARY_THRESHOLD = 0.5
GRADIENT_SIGMA = 1.4
CONNECTIVITY_STEP = 0.1
CONNECTIVITY_MIN_JUMP = 0.15
DEFAULT_BOUNDARY_TOLERANCE_PX = 3
DEFAULT_BAND_PX = 10
METRIC_NAMES = ("iou", "sad", "mse", "grad", "conn", "bf")


def to_unit(alpha: np.ndarray) -> np.ndarray:
    """uint8 0..255 or float 0..1 -> float64 in [0, 1]."""
    arr = np.asarray(alpha)
    if arr.ndim != 2:
        raise ValueError(f"alpha must be 2-D, got shape {arr.shape}")
    if arr.dtype == np.uint8:
        return arr.astype(np.float64) / 255.0
    if arr.dtype == np.uint16:
        return arr.astype(np.float64) / 65535.0
    if arr.dtype == np.bool_:
        return arr.astype(np.float64)
    return np.clip(arr.astype(np.float64), 0.0, 1.0)


def _pair(pred: np.ndarray, gt: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    p, g = to_unit(pred), to_unit(gt)
    if p.shape != g.shape:
        raise ValueError(f"prediction {p.shape} and ground truth {g.shape} differ in size")
    return p, g


def _valid(shape: tuple[int, ...], valid: np.ndarray | None) -> np.ndarray:
    if valid is None:
        return np.ones(shape, dtype=bool)
    v = np.asarray(valid).astype(bool)
    if v.shape != shape:
        raise ValueError(f"mask {v.shape} does not match image {shape}")
    return v


def scored_pixels(
    shape: tuple[int, ...], ignore: np.ndarray | None = None, region: np.ndarray | None = None
) -> np.ndarray:
    """Boolean mask of the pixels a metric counts: not ignored, and inside `region` if given.

    `ignore` and `region` may be bool or uint8 (non-zero / >= 128 means set for uint8).
    """
    valid = np.ones(shape, dtype=bool)
    if ignore is not None:
        valid &= ~_as_bool(ignore, shape)
    if region is not None:
        valid &= _as_bool(region, shape)
    return valid


def _as_bool(mask: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    m = np.asarray(mask)
    if m.shape != shape:
        raise ValueError(f"mask {m.shape} does not match image {shape}")
    if m.dtype == np.uint8:
        return m >= 128
    return m.astype(bool)


def unknown_band(
    gt: np.ndarray, trimap: np.ndarray | None = None, band_px: int = DEFAULT_BAND_PX
) -> np.ndarray:
    """The region matting metrics focus on: trimap == 128 when a trimap exists, otherwise the
    pixels within `band_px` of the ground-truth 0.5 contour, plus every fractional GT pixel."""
    if trimap is not None:
        t = np.asarray(trimap)
        if t.shape != np.asarray(gt).shape:
            raise ValueError(f"trimap {t.shape} does not match alpha {np.asarray(gt).shape}")
        return (t > 0) & (t < 255)
    g = to_unit(gt)
    fg = (g >= BINARY_THRESHOLD).astype(np.uint8)
    size = 2 * int(band_px) + 1
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (size, size))
    band = cv2.dilate(fg, kernel) != cv2.erode(fg, kernel)
    return band | ((g > 0.0) & (g < 1.0))


def iou(pred: np.ndarray, gt: np.ndarray, valid: np.ndarray | None = None) -> float:
    """Intersection over union of alpha >= 0.5; 1.0 when both are empty."""
    p, g = _pair(pred, gt)
    v = _valid(p.shape, valid)
    pb, gb = (p >= BINARY_THRESHOLD) & v, (g >= BINARY_THRESHOLD) & v
    union = int(np.count_nonzero(pb | gb))
    if union == 0:
        return 1.0
    return int(np.count_nonzero(pb & gb)) / union


def sad(pred: np.ndarray, gt: np.ndarray, valid: np.ndarray | None = None) -> float:
    """Sum of absolute alpha differences, divided by 1000."""
    p, g = _pair(pred, gt)
    v = _valid(p.shape, valid)
    return float(np.abs(p - g)[v].sum()) / 1000.0


def mse(pred: np.ndarray, gt: np.ndarray, valid: np.ndarray | None = None) -> float:
    """Mean squared alpha error over the scored pixels (0.0 when none are scored)."""
    p, g = _pair(pred, gt)
    v = _valid(p.shape, valid)
    n = int(np.count_nonzero(v))
    if n == 0:
        return 0.0
    return float(((p - g) ** 2)[v].sum()) / n


def _gaussian_derivative_kernel(sigma: float, epsilon: float = 1e-2) -> np.ndarray:
    """2-D kernel: Gaussian along y times its derivative along x, unit L2 norm.

    The half size is where the Gaussian falls below `epsilon` of its peak density, as in the
    reference gaussgradient code (sigma 1.4 -> 9x9)."""
    half = math.ceil(sigma * math.sqrt(-2.0 * math.log(math.sqrt(2.0 * math.pi) * sigma * epsilon)))
    x = np.arange(-half, half + 1, dtype=np.float64)
    gauss = np.exp(-(x**2) / (2.0 * sigma**2)) / (sigma * math.sqrt(2.0 * math.pi))
    dgauss = -x * gauss / sigma**2
    kernel = np.outer(gauss, dgauss)
    return kernel / math.sqrt(float((kernel**2).sum()))


def gradient_magnitude(alpha: np.ndarray, sigma: float = GRADIENT_SIGMA) -> np.ndarray:
    """|grad alpha| from Gaussian-derivative filters, replicated borders (alpha in [0, 1])."""
    a = to_unit(alpha)
    kx = _gaussian_derivative_kernel(sigma)
    gx = cv2.filter2D(a, cv2.CV_64F, kx, borderType=cv2.BORDER_REPLICATE)
    gy = cv2.filter2D(a, cv2.CV_64F, kx.T, borderType=cv2.BORDER_REPLICATE)
    return np.sqrt(gx**2 + gy**2)


def gradient_error_map(
    pred: np.ndarray, gt: np.ndarray, sigma: float = GRADIENT_SIGMA
) -> np.ndarray:
    """Per-pixel (|grad pred| - |grad gt|)^2 over the full image."""
    p, g = _pair(pred, gt)
    return (gradient_magnitude(p, sigma) - gradient_magnitude(g, sigma)) ** 2


def gradient_error(
    pred: np.ndarray,
    gt: np.ndarray,
    valid: np.ndarray | None = None,
    sigma: float = GRADIENT_SIGMA,
) -> float:
    """alphamatting.com gradient error, divided by 1000."""
    diff = gradient_error_map(pred, gt, sigma)
    return float(diff[_valid(diff.shape, valid)].sum()) / 1000.0


def _largest_component(binary: np.ndarray) -> np.ndarray:
    """The largest 4-connected component of a boolean image (all False if it is empty)."""
    count, labels, stats, _ = cv2.connectedComponentsWithStats(
        binary.astype(np.uint8), connectivity=4
    )
    if count <= 1:
        return np.zeros(binary.shape, dtype=bool)
    biggest = 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))
    return labels == biggest


def connectivity_error_map(
    pred: np.ndarray, gt: np.ndarray, step: float = CONNECTIVITY_STEP
) -> np.ndarray:
    """Per-pixel |phi(pred) - phi(gt)| over the full image."""
    p, g = _pair(pred, gt)
    # level at which each pixel first drops out of the shared largest component
    drop_level = np.full(p.shape, -1.0)
    steps = int(round(1.0 / step))
    for i in range(1, steps + 1):
        threshold = i * step
        shared = _largest_component((p >= threshold) & (g >= threshold))
        newly_lost = (drop_level < 0) & ~shared
        drop_level[newly_lost] = (i - 1) * step
    drop_level[drop_level < 0] = 1.0
    p_rise, g_rise = p - drop_level, g - drop_level
    p_phi = 1.0 - p_rise * (p_rise >= CONNECTIVITY_MIN_JUMP)
    g_phi = 1.0 - g_rise * (g_rise >= CONNECTIVITY_MIN_JUMP)
    return np.abs(p_phi - g_phi)


def connectivity_error(
    pred: np.ndarray,
    gt: np.ndarray,
    valid: np.ndarray | None = None,
    step: float = CONNECTIVITY_STEP,
) -> float:
    """alphamatting.com connectivity error, divided by 1000."""
    diff = connectivity_error_map(pred, gt, step)
    return float(diff[_valid(diff.shape, valid)].sum()) / 1000.0


def _boundary(binary: np.ndarray) -> np.ndarray:
    """Pixels of `binary` with a 4-neighbour outside it (the image border is not an edge)."""
    b = binary.astype(np.uint8)
    kernel = np.array([[0, 1, 0], [1, 1, 1], [0, 1, 0]], dtype=np.uint8)
    eroded = cv2.erode(b, kernel)
    return (b == 1) & (eroded == 0)


def _distance_to(points: np.ndarray) -> np.ndarray:
    """Euclidean distance from every pixel to the nearest True pixel of `points`."""
    if not points.any():
        return np.full(points.shape, np.inf)
    return cv2.distanceTransform((~points).astype(np.uint8), cv2.DIST_L2, cv2.DIST_MASK_PRECISE)


def boundary_f_score(
    pred: np.ndarray,
    gt: np.ndarray,
    valid: np.ndarray | None = None,
    tolerance_px: float = DEFAULT_BOUNDARY_TOLERANCE_PX,
) -> float:
    """F-measure of the alpha >= 0.5 contours: a contour pixel matches when the other contour
    is within `tolerance_px`. Only contour pixels inside `valid` are counted; 1.0 when
    neither mask has a counted contour pixel, 0.0 when only one has."""
    p, g = _pair(pred, gt)
    v = _valid(p.shape, valid)
    pb, gb = _boundary(p >= BINARY_THRESHOLD), _boundary(g >= BINARY_THRESHOLD)
    p_counted, g_counted = pb & v, gb & v
    n_pred, n_gt = int(np.count_nonzero(p_counted)), int(np.count_nonzero(g_counted))
    if n_pred == 0 and n_gt == 0:
        return 1.0
    if n_pred == 0 or n_gt == 0:
        return 0.0
    precision = np.count_nonzero(_distance_to(gb)[p_counted] <= tolerance_px) / n_pred
    recall = np.count_nonzero(_distance_to(pb)[g_counted] <= tolerance_px) / n_gt
    if precision + recall == 0:
        return 0.0
    return float(2.0 * precision * recall / (precision + recall))


def evaluate_alpha(
    pred: np.ndarray,
    gt: np.ndarray,
    ignore: np.ndarray | None = None,
    region: np.ndarray | None = None,
    boundary_tolerance_px: float = DEFAULT_BOUNDARY_TOLERANCE_PX,
) -> dict[str, float]:
    """Every metric over the whole image (`iou`, `sad`, ...) and, when `region` is given,
    over that region (`band_iou`, `band_sad`, ...). `ignore` pixels never count."""
    p, g = _pair(pred, gt)
    results: dict[str, float] = {}
    scopes = [("", scored_pixels(p.shape, ignore))]
    if region is not None:
        scopes.append(("band_", scored_pixels(p.shape, ignore, region)))
    # gradient and connectivity maps are full-image quantities, shared by both scopes
    grad_map, conn_map = gradient_error_map(p, g), connectivity_error_map(p, g)
    for prefix, valid in scopes:
        results[prefix + "iou"] = iou(p, g, valid)
        results[prefix + "sad"] = sad(p, g, valid)
        results[prefix + "mse"] = mse(p, g, valid)
        results[prefix + "grad"] = float(grad_map[valid].sum()) / 1000.0
        results[prefix + "conn"] = float(conn_map[valid].sum()) / 1000.0
        results[prefix + "bf"] = boundary_f_score(p, g, valid, boundary_tolerance_px)
    return results


def error_map(pred: np.ndarray, gt: np.ndarray, ignore: np.ndarray | None = None) -> np.ndarray:
    """RGB uint8 picture of the error: red = extra foreground (pred > gt), blue = missing
    foreground (pred < gt), brightness = size of the error, grey = ignored pixels."""
    p, g = _pair(pred, gt)
    diff = p - g
    out = np.zeros((*p.shape, 3), dtype=np.uint8)
    out[..., 0] = np.round(np.clip(diff, 0, 1) * 255).astype(np.uint8)
    out[..., 2] = np.round(np.clip(-diff, 0, 1) * 255).astype(np.uint8)
    out[..., 1] = np.round(np.abs(diff) * 60).astype(np.uint8)
    if ignore is not None:
        out[_as_bool(ignore, p.shape)] = (96, 96, 96)
    return out
