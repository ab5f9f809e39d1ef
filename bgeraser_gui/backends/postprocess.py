"""Quality steps applied to a predicted soft mask: subject box, island/hole clean-up, and edge
snapping with a guided filter (He et al., "Guided Image Filtering", TPAMI 2013; the fast
subsampled variant of He & Sun 2015 keeps memory flat on large photos)."""

from __future__ import annotations

import cv2
import numpy as np

THRESHOLD = 0.5


def subject_box(mask: np.ndarray, threshold: float = THRESHOLD) -> tuple[int, int, int, int] | None:
    """(x0, y0, x1, y1), end exclusive, of the pixels at or above `threshold`; None if none."""
    rows = np.flatnonzero((mask >= threshold).any(axis=1))
    if rows.size == 0:
        return None
    cols = np.flatnonzero((mask[rows[0] : rows[-1] + 1] >= threshold).any(axis=0))
    return int(cols[0]), int(rows[0]), int(cols[-1]) + 1, int(rows[-1]) + 1


def expand_box(
    box: tuple[int, int, int, int], width: int, height: int, margin: float
) -> tuple[int, int, int, int]:
    """Grow a box by `margin` x its larger side on every side, clipped to the image."""
    x0, y0, x1, y1 = box
    pad = int(round(margin * max(x1 - x0, y1 - y0)))
    return max(0, x0 - pad), max(0, y0 - pad), min(width, x1 + pad), min(height, y1 + pad)


def remove_small_regions(
    mask: np.ndarray, island_fraction: float = 0.01, hole_fraction: float = 0.001
) -> np.ndarray:
    """Drop foreground islands smaller than `island_fraction` of the largest region and fill
    enclosed holes smaller than `hole_fraction` of the foreground area.

    Spokes and thin parts stay because they are connected to their subject; the inside of a ring
    stays because it is much larger than a speck. Touching the image border never counts as
    enclosed. Returns a new float32 mask; soft values are kept outside the changed regions.
    """
    binary = (mask >= THRESHOLD).astype(np.uint8)
    out = mask.astype(np.float32, copy=True)
    count, labels, stats, _ = cv2.connectedComponentsWithStats(binary, connectivity=8)
    if count > 2:
        areas = stats[1:, cv2.CC_STAT_AREA]
        small = np.flatnonzero(areas < island_fraction * areas.max()) + 1
        if small.size:
            specks = _labelled(labels, small, count)
            # take the soft fringe around each removed speck with it
            drop = cv2.dilate(specks.view(np.uint8), np.ones((3, 3), np.uint8)) > 0
            out[drop & (binary == 0) | specks] = 0.0
            del specks, drop
    del labels  # 400 MB at 100 MP: gone before the holes' labelling below
    foreground_area = int(binary.sum())
    if foreground_area:
        count, labels, stats, _ = cv2.connectedComponentsWithStats(1 - binary, connectivity=4)
        height, width = binary.shape
        x, y, w, h, area = (stats[1:, i] for i in range(5))
        enclosed = (x > 0) & (y > 0) & (x + w < width) & (y + h < height)
        fill = np.flatnonzero(enclosed & (area < hole_fraction * foreground_area)) + 1
        if fill.size:
            out[_labelled(labels, fill, count)] = 1.0
    return out


def _labelled(labels: np.ndarray, ids: np.ndarray, count: int) -> np.ndarray:
    """Pixels whose label is one of `ids` (a lookup table: 1 byte per pixel, where np.isin
    makes several full-size temporaries)."""
    table = np.zeros(count, bool)
    table[ids] = True
    return table[labels]


def _box(image: np.ndarray, radius: int) -> np.ndarray:
    size = 2 * radius + 1
    return cv2.boxFilter(image, -1, (size, size), borderType=cv2.BORDER_REFLECT)


def guided_filter(
    guide: np.ndarray, source: np.ndarray, radius: int, eps: float, subsample: int = 1
) -> np.ndarray:
    """Edge-preserving smoothing of `source` (HxW float32) steered by `guide` (HxW float32 in
    [0, 1], e.g. the photo's luminance). With `subsample` > 1 the linear coefficients are
    computed at reduced size and upsampled (fast guided filter)."""
    height, width = source.shape
    guide = guide.astype(np.float32, copy=False)
    source = source.astype(np.float32, copy=False)
    if subsample > 1:
        small = (max(1, width // subsample), max(1, height // subsample))
        g, p = (cv2.resize(a, small, interpolation=cv2.INTER_AREA) for a in (guide, source))
        r = max(1, radius // subsample)
    else:
        g, p, r = guide, source, radius
    mean_g, mean_p = _box(g, r), _box(p, r)
    var_g = _box(g * g, r) - mean_g * mean_g
    cov_gp = _box(g * p, r) - mean_g * mean_p
    a = cov_gp / (var_g + eps)
    b = mean_p - a * mean_g
    mean_a, mean_b = _box(a, r), _box(b, r)
    if subsample > 1:
        mean_a = cv2.resize(mean_a, (width, height), interpolation=cv2.INTER_LINEAR)
        mean_b = cv2.resize(mean_b, (width, height), interpolation=cv2.INTER_LINEAR)
    out = mean_a * guide
    out += mean_b
    return np.clip(out, 0.0, 1.0, out=out)


def luminance(rgb: np.ndarray) -> np.ndarray:
    """HxWx3 uint8 -> HxW float32 luminance in [0, 1]."""
    return cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY).astype(np.float32) * (1.0 / 255.0)


def snap_edges(
    rgb: np.ndarray, mask: np.ndarray, network_px: float = 4.0, eps: float = 1e-3, net: int = 1024
) -> np.ndarray:
    """Concentrate the upsampled mask's soft edge on the photo's edges (guided filter).

    The filter radius is `network_px` pixels of the `net`-sized network output (at least 4
    photo pixels). Only the uncertain band changes: pixels the model is sure about (below 0.02 or above 0.98 in a
    neighbourhood) are kept."""
    height, width = mask.shape
    radius = max(4, int(round(network_px * max(height, width) / net)))
    subsample = max(1, min(height, width) // 1024)
    filtered = guided_filter(luminance(rgb), mask, radius, eps, subsample)
    size = 2 * radius + 1
    kernel = np.ones((size, size), np.uint8)
    sure_bg = cv2.dilate((mask > 0.02).astype(np.uint8), kernel) == 0
    sure_fg = cv2.erode((mask > 0.98).astype(np.uint8), kernel) == 1
    filtered[sure_bg] = 0.0
    filtered[sure_fg] = 1.0
    return filtered
