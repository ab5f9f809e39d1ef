"""The part of the selection under a negative click, where the model names no object there.

A negative click on a big unwanted region that touches the subject (the shirt under a head
whose selection should be the head only, the person beside the wanted one) often gets no
usable object from the crops: the close views see nothing salient under the click, the wide
ones see the whole selection. Removing only a patch around the click then takes one click per
patch. The selection itself tells more: split along image edges and valleys of the mask
(`core.object_split.split_component`, the objects split), the connected region under the click
falls into parts, and the part under the click is the unwanted thing, unless it holds what
earlier positive clicks asked for or most of the selection.
"""

from __future__ import annotations

import cv2
import numpy as np

from bgeraser_gui.core.object_split import SplitSettings, gradient_magnitude, split_component

PART_SIDE = 384  # the split runs on a copy of the clicked region at most this long
MAX_PART_SHARE = 0.6  # a part holding more of the selection is taken for the subject
KEPT_SHARE = 0.02  # a part with more of its pixels decided "subject" by earlier clicks is kept
THIN_FACTOR = 3.0  # a clicked part this many times thinner than the region's thickest is thin
OPEN_RADIUS = 8  # pixels: the opening's radius on its shrunk copy


def part_under_click(
    rgb: np.ndarray,
    soft: np.ndarray,
    decided: np.ndarray,
    x: int,
    y: int,
    positives: list[tuple[int, int]],
) -> np.ndarray | None:
    """The part (bool, image-sized) of the selected region under (x, y) that the click may
    remove whole, or None (nothing selected there, or the part is the subject)."""
    current = soft >= 0.5
    if not current[y, x]:
        return None
    _, comps, stats, _ = cv2.connectedComponentsWithStats(current.astype(np.uint8), 8)
    i = comps[y, x]
    x0, y0, bw, bh = (int(v) for v in stats[i, :4])
    box = (slice(y0, y0 + bh), slice(x0, x0 + bw))
    f = min(1.0, PART_SIDE / max(bw, bh))
    size = (max(1, round(bw * f)), max(1, round(bh * f)))
    region = comps[box] == i
    piece = _thin_piece(region, x - x0, y - y0)
    if piece is not None:
        part = np.zeros(current.shape, bool)
        part[box] = piece
        return part if _removable(part, current, decided, positives) else None
    small = cv2.resize(region.astype(np.uint8), size, interpolation=cv2.INTER_NEAREST) > 0
    small_soft = cv2.resize(soft[box], size, interpolation=cv2.INTER_AREA)
    grad = gradient_magnitude(cv2.resize(rgb[box], size, interpolation=cv2.INTER_AREA))
    labels = split_component(small, small_soft, grad, SplitSettings())
    sx = min(size[0] - 1, int((x - x0) * f))
    sy = min(size[1] - 1, int((y - y0) * f))
    k = labels[sy, sx]
    if k == 0:
        return None
    part_small = labels == k
    part = np.zeros(current.shape, bool)
    grown = cv2.resize(part_small.astype(np.uint8), (bw, bh), interpolation=cv2.INTER_NEAREST)
    part[box] = (grown > 0) & region
    return part if _removable(part, current, decided, positives) else None


def _thin_piece(region: np.ndarray, x: int, y: int) -> np.ndarray | None:
    """The thin piece of `region` under (x, y) (a pole, a strap, a cable), or None where the
    click is not on a part much thinner than the region's thickest: what a morphological
    opening wider than the clicked part removes, connected to the click."""
    dist = cv2.distanceTransform(region.astype(np.uint8), cv2.DIST_L2, 3)
    depth = float(dist[y, x])
    if THIN_FACTOR * depth >= float(dist.max()):
        return None
    # the opening runs on a copy where the clicked part is OPEN_RADIUS pixels thick (fast)
    h, w = region.shape
    f = min(1.0, OPEN_RADIUS / (THIN_FACTOR * depth))
    size = (max(1, round(w * f)), max(1, round(h * f)))
    small = cv2.resize(region.astype(np.uint8), size, interpolation=cv2.INTER_AREA)
    k = 2 * int(np.ceil(THIN_FACTOR * depth * f)) + 1
    disc = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (k, k))
    opened = cv2.resize(cv2.morphologyEx(small, cv2.MORPH_OPEN, disc), (w, h))
    thin = (region & (opened == 0)).astype(np.uint8)
    if not thin[y, x]:
        return None
    _, ids = cv2.connectedComponents(thin, connectivity=8)
    return ids == ids[y, x]


def _removable(part, current, decided, positives) -> bool:
    """A part may go whole unless it holds most of the selection or what earlier positive
    clicks asked for."""
    if np.count_nonzero(part) > MAX_PART_SHARE * np.count_nonzero(current):
        return False
    if any(part[py, px] for px, py in positives):
        return False
    return np.count_nonzero(decided[part] > 0) <= KEPT_SHARE * np.count_nonzero(part)
