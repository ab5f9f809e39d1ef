"""Colour regions of a photo: a graph-based segmentation (Felzenszwalb & Huttenlocher, "Efficient
graph-based image segmentation", IJCV 2004), used by `core.objects` for things the model left
out entirely (a bus or an elephant that fills the frame, which ISNet calls background).

Pixels are joined along their 8 neighbour edges in order of colour difference (CIELAB of a lightly
smoothed copy); two regions merge when the edge between them is no stronger than the weakest
link inside either, plus `scale / size` (so small regions merge easily and big ones only across
faint edges); regions below `min_pixels` then join their most similar neighbour. Run on the
work copy (a few hundred pixels wide): a few milliseconds after the kernel is compiled (numba,
cached on disk like the matting kernels).
"""

from __future__ import annotations

import cv2
import numpy as np

from bgeraser_gui.core.kernel_cache import cached_kernel

REGION_SIDE = 320  # long side of the copy the colour regions are found on
HIDDEN_MIN_AREA = 0.04  # a hidden region: at least this share of the photo (coco tuning
# half: from 0 to 0.04 the same oracle IoU with 7.4 -> 5.4 objects per photo)
HIDDEN_FREE = 0.7  # a hidden region: at least this share of it away from the objects


def colour_regions(rgb: np.ndarray, scale: float, min_pixels: int) -> np.ndarray:
    """int32 labels 1..n of the uint8 RGB image `rgb` (every pixel in one region)."""
    h, w = rgb.shape[:2]
    lab = cv2.cvtColor(cv2.GaussianBlur(rgb, (0, 0), 0.8), cv2.COLOR_RGB2LAB).astype(np.float32)
    index = np.arange(h * w, dtype=np.int64).reshape(h, w)
    sources, targets = [], []
    for a, b in (
        (index[:, :-1], index[:, 1:]),
        (index[:-1, :], index[1:, :]),
        (index[:-1, :-1], index[1:, 1:]),
        (index[:-1, 1:], index[1:, :-1]),
    ):
        sources.append(a.ravel())
        targets.append(b.ravel())
    src, dst = np.concatenate(sources), np.concatenate(targets)
    flat = lab.reshape(-1, 3)
    weight = np.sqrt(((flat[src] - flat[dst]) ** 2).sum(axis=1))
    order = np.argsort(weight, kind="stable")
    roots = _segment(src[order], dst[order], weight[order], h * w, float(scale), int(min_pixels))
    _, labels = np.unique(roots, return_inverse=True)
    return (labels.reshape(h, w) + 1).astype(np.int32)


@cached_kernel
def _segment(src, dst, weight, count, scale, min_pixels):  # pragma: no cover - numba
    parent = np.arange(count)
    size = np.ones(count, np.int64)
    inner = np.zeros(count, np.float64)  # the strongest edge inside each region (its MST)
    for e in range(src.shape[0]):
        a, b = _find(parent, src[e]), _find(parent, dst[e])
        if a == b:
            continue
        w = weight[e]
        if w <= inner[a] + scale / size[a] and w <= inner[b] + scale / size[b]:
            root = _union(parent, size, a, b)
            inner[root] = w
    for e in range(src.shape[0]):
        a, b = _find(parent, src[e]), _find(parent, dst[e])
        if a != b and (size[a] < min_pixels or size[b] < min_pixels):
            _union(parent, size, a, b)
    roots = np.empty(count, np.int64)
    for i in range(count):
        roots[i] = _find(parent, i)
    return roots


@cached_kernel
def _find(parent, i):  # pragma: no cover - numba
    root = i
    while parent[root] != root:
        root = parent[root]
    while parent[i] != root:
        parent[i], i = root, parent[i]
    return root


@cached_kernel
def _union(parent, size, a, b):  # pragma: no cover - numba
    if size[a] < size[b]:
        a, b = b, a
    parent[b] = a
    size[a] += size[b]
    return a


def colour_regions_at(rgb: np.ndarray, scale: float, min_pixels: int) -> np.ndarray:
    """`colour_regions` of `rgb` found on a copy at most REGION_SIDE pixels wide, at the size
    of `rgb` (`min_pixels` in pixels of `rgb`)."""
    h, w = rgb.shape[:2]
    shrink = min(1.0, REGION_SIDE / max(h, w))
    small = cv2.resize(rgb, (max(1, round(w * shrink)), max(1, round(h * shrink))),
                       interpolation=cv2.INTER_AREA)  # fmt: skip
    labels = colour_regions(small, scale, max(1, round(min_pixels * shrink * shrink)))
    return cv2.resize(labels, (w, h), interpolation=cv2.INTER_NEAREST)


def hidden_regions(
    labels: np.ndarray, taken: np.ndarray, count: int, min_pixels: int
) -> list[np.ndarray]:
    """Big colour regions (`labels`, `colour_regions_at` of the photo at work resolution)
    mostly away from `taken` (bool: pixels that are objects already), as bool regions without
    `taken`, biggest first, at most `count`."""
    if count <= 0:
        return []
    near = cv2.dilate(taken.astype(np.uint8), np.ones((5, 5), np.uint8)) > 0
    areas = np.bincount(labels.ravel())
    free = np.bincount(labels.ravel(), weights=(~near).ravel().astype(np.float64))
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (7, 7))
    frame = _on_all_sides(labels)
    out = []
    least = max(min_pixels, HIDDEN_MIN_AREA * taken.size)
    for i in np.argsort(-free):
        if i == 0 or free[i] < least or free[i] < HIDDEN_FREE * areas[i] or i in frame:
            continue
        region = cv2.morphologyEx(
            ((labels == i) & ~near).astype(np.uint8), cv2.MORPH_OPEN, kernel
        ).astype(bool)
        if region.sum() >= min_pixels:
            out.append(region)
        if len(out) == count:
            break
    return out


def _on_all_sides(labels: np.ndarray) -> set[int]:
    """Labels on all four sides of the image: the background around everything else."""
    sides = [labels[0], labels[-1], labels[:, 0], labels[:, -1]]
    common = set(np.unique(sides[0]).tolist())
    for side in sides[1:]:
        common &= set(np.unique(side).tolist())
    return common
