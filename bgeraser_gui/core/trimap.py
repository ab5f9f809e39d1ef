"""Trimap (0 = background, 128 = unknown, 255 = foreground) from a soft segmentation mask.

The unknown band follows the model's uncertainty: narrow along hard edges (where a wide band
only lets the matting solver bleed colour), wide where the mask is soft over a large area
(hair, fur, fringes), and it never swallows the core of thin structures or small holes (a mesh,
gaps between spokes), because a band that covers a whole hole leaves the solver no background
sample there and it fills the hole. Painted touch-ups win over everything.
"""

from __future__ import annotations

import cv2
import numpy as np

# Values of the uint8 touch-up layer painted in the editor (0 = none).
KEEP = 1
REMOVE = 2
REFINE = 3

TRIMAP_BG = 0
TRIMAP_UNKNOWN = 128
TRIMAP_FG = 255

# Analysis of "how soft is the mask around here" runs at about the model's own resolution:
# the mask carries no finer information, and it keeps big-kernel work cheap at 48 MP.
_ANALYSIS_LONG_SIDE = 1024
# A straight hard edge upsampled from the model resolution is this many analysis pixels soft.
_HARD_EDGE_SOFT_PX = 3.0
_ROWS_PER_BAND = 256  # full-resolution comparisons run this many rows at a time


def default_band_px(height: int, width: int) -> int:
    """Base unknown-band width: scales with the image size (6 MP -> 7 px, 24 MP -> 15 px)."""
    return max(4, int(round(0.003 * np.sqrt(float(height) * float(width)))))


def _clean_mask(mask: np.ndarray) -> np.ndarray:
    m = np.asarray(mask)
    if m.ndim != 2:
        raise ValueError(f"mask must be HxW, got shape {m.shape}")
    m = m.astype(np.float32, copy=False)
    if not np.all(np.isfinite(m)):
        m = np.nan_to_num(m, nan=0.0, posinf=1.0, neginf=0.0)
    return m


def _distance_to(zero_where: np.ndarray) -> np.ndarray:
    """Euclidean distance (float32) of every pixel to the nearest pixel where `zero_where` is True."""
    src = np.where(zero_where, np.uint8(0), np.uint8(255))  # uint8 directly: no int64 copy
    return cv2.distanceTransform(src, cv2.DIST_L2, 5)


def _analysis_factor(height: int, width: int) -> int:
    return max(1, int(np.ceil(max(height, width) / _ANALYSIS_LONG_SIDE)))


def _max_pool(values: np.ndarray, factor: int) -> np.ndarray:
    """Max over factor x factor blocks (a partial block at the end: its own pixels) of
    non-negative `values`, without a full-size copy."""
    if factor == 1:
        return values
    h, w = values.shape
    rows = np.maximum.reduceat(values, np.arange(0, h, factor), axis=0)
    return np.maximum.reduceat(rows, np.arange(0, w, factor), axis=1)


def _compare_upsampled(values: np.ndarray, small: np.ndarray, factor: int, compare) -> np.ndarray:
    """`compare(values, small upsampled to the size of values by nearest neighbour)` as a bool
    array, a band of rows at a time: no full-size float copy of `small` (400 MB at 100 MP)."""
    if factor == 1:
        return compare(values, small)
    height, width = values.shape
    cols = np.arange(width) // factor
    out = np.empty((height, width), bool)
    for start in range(0, height, _ROWS_PER_BAND):
        stop = min(height, start + _ROWS_PER_BAND)
        out[start:stop] = compare(
            values[start:stop], small[np.arange(start, stop) // factor][:, cols]
        )
    return out


def _local_max(values: np.ndarray, factor: int, radius_px: float) -> np.ndarray:
    """Max of `values` within about `radius_px` full-resolution pixels, at analysis resolution
    (one value per factor x factor block)."""
    pooled = _max_pool(values, factor)
    r = max(1, int(np.ceil(radius_px / factor)))
    kernel = cv2.getStructuringElement(cv2.MORPH_RECT, (2 * r + 1, 2 * r + 1))
    return cv2.dilate(pooled, kernel)


def _adaptive_width(soft: np.ndarray, band: int, factor: int) -> np.ndarray:
    """Band width per analysis block (float32, one value per factor x factor block): grows with the local thickness of the soft zone.

    Hard edges are about `_HARD_EDGE_SOFT_PX` analysis pixels soft; hair and fur make soft zones
    many times thicker. Thickness is measured at analysis resolution and spread over a
    neighbourhood so that the whole hair region, not just its soft centre, gets the wide band.
    """
    small = _max_pool(soft.view(np.uint8), factor).astype(bool)
    thickness = 2.0 * _distance_to(~small)  # soft-zone thickness in analysis pixels
    reach = max(2, int(np.ceil(3.0 * band / factor)))
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * reach + 1, 2 * reach + 1))
    thickness = cv2.dilate(thickness, kernel)
    hairiness = np.clip((thickness - _HARD_EDGE_SOFT_PX) / (4.0 * _HARD_EDGE_SOFT_PX), 0.0, 1.0)
    narrow = max(2.0, band / 3.0)
    wide = 2.0 * band
    return (narrow + (wide - narrow) * hairiness).astype(np.float32)


def _protect_cores(known: np.ndarray, unknown: np.ndarray, band: int, factor: int) -> np.ndarray:
    """Pixels of `known` that must stay known: the middle of thin parts and small holes.

    A known region narrower than twice its band would vanish entirely; keep its medial part
    (distance to its border at least half the local maximum), so e.g. a hole in a mesh keeps
    background samples and a thin solid stick keeps foreground samples.
    """
    inside = _distance_to(~known)
    threshold = np.maximum(0.5 * _local_max(inside, factor, 3.0 * band), 1.0)
    keep = _compare_upsampled(inside, threshold, factor, np.greater_equal)
    del inside
    keep &= known
    keep &= unknown
    return keep


def paint_strokes(target: np.ndarray, touchups: np.ndarray, values: dict[int, float]) -> np.ndarray:
    """Write `values[stroke kind]` into `target` (in place, returned) wherever that kind of
    stroke was painted: the one place touch-ups are applied to a trimap, a mask or an alpha."""
    ov = np.asarray(touchups)
    if ov.shape != target.shape:
        raise ValueError(f"touch-ups shape {ov.shape} does not match mask {target.shape}")
    for kind, value in values.items():
        target[ov == kind] = value
    return target


MASK_VALUES = {KEEP: 1.0, REMOVE: 0.0}  # what touch-ups do to a soft mask or alpha


def apply_touchups(trimap: np.ndarray, touchups: np.ndarray | None) -> np.ndarray:
    """Painted touch-ups win: KEEP -> foreground, REMOVE -> background, REFINE -> unknown."""
    if touchups is None:
        return trimap
    return paint_strokes(
        trimap, touchups, {KEEP: TRIMAP_FG, REMOVE: TRIMAP_BG, REFINE: TRIMAP_UNKNOWN}
    )


def apply_touchups_to_mask(mask: np.ndarray, touchups: np.ndarray | None) -> np.ndarray:
    """A copy of the soft mask with KEEP strokes at 1 and REMOVE strokes at 0 (REFINE ignored)."""
    if touchups is None:
        return mask
    return paint_strokes(np.array(mask, np.float32, copy=True), touchups, MASK_VALUES)


def make_trimap(
    mask: np.ndarray,
    band_px: int | None = None,
    touchups: np.ndarray | None = None,
    fg_threshold: float = 0.95,
    bg_threshold: float = 0.05,
    adaptive: bool = True,
) -> np.ndarray:
    """uint8 HxW trimap with values 0 / 128 / 255 from a float32 HxW soft mask in [0, 1].

    band_px: base half-width of the unknown band; None scales it with the image size.
    adaptive: True makes the band wide where the mask is soft over a large area and narrow on
    hard edges, and keeps thin parts and small holes known; False is a fixed band of band_px
    pixels on both sides of every edge.
    """
    m = _clean_mask(mask)
    h, w = m.shape
    band = default_band_px(h, w) if band_px is None else max(0, int(band_px))
    fg = m >= fg_threshold
    bg = m <= bg_threshold
    soft = ~(fg | bg)

    trimap = np.full((h, w), TRIMAP_UNKNOWN, np.uint8)
    trimap[fg] = TRIMAP_FG
    trimap[bg] = TRIMAP_BG
    if band > 0 and fg.any() and bg.any() | soft.any():
        # Distance of every pixel to the transition (soft pixels or a hard fg/bg boundary).
        cross = np.ones((3, 3), np.uint8)
        transition = soft | (fg & cv2.dilate(bg.view(np.uint8), cross).astype(bool))
        transition |= bg & cv2.dilate(fg.view(np.uint8), cross).astype(bool)
        dist = _distance_to(transition)
        del transition
        if adaptive:
            factor = _analysis_factor(h, w)
            width = _adaptive_width(soft, band, factor)
            unknown = _compare_upsampled(dist, width, factor, np.less)
            del width, dist
            unknown &= ~soft  # soft pixels are unknown anyway; look at the known ones only
            unknown &= ~_protect_cores(fg, unknown, band, factor)
            unknown &= ~_protect_cores(bg, unknown, band, factor)
        else:
            unknown = dist < band
            del dist
        trimap[unknown] = TRIMAP_UNKNOWN
    return apply_touchups(trimap, touchups)


def unknown_fraction(trimap: np.ndarray) -> float:
    return float(np.mean(trimap == TRIMAP_UNKNOWN))
