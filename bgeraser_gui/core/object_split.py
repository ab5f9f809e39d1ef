"""Work-resolution steps of splitting a cutout into objects (used by `core.objects`).

Everything here runs on a copy of at most WORK_SIDE pixels and returns int32 label maps
(0 = none, 1..n = regions):
- `split_component`: one connected region of the model's mask is cut into touching subjects
  by a marker watershed. Markers are the region's thick cores (distance to the region's edge at
  least CORE_DEPTH of its deepest point); the flooding follows image edges and valleys of the
  model's confidence. Two neighbouring parts stay apart only where the image shows an edge (or
  the model a valley) along their common border; otherwise they are merged back.
- `split_by_colour`: a subject cut further along the photo's colour regions where the border
  between two of them is a strong image edge (an umbrella and the person under it, a bike and
  the one parked behind it: one thick region, so no second core for `split_component`).
The crop grid searched for left-out things is `crop_centres` (used by `core.object_crops`).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import cv2
import numpy as np

WORK_SIDE = 1024  # long side of the working copy


@dataclass(frozen=True)
class SplitSettings:
    """Thresholds of the split (chosen on one half of coco_mval_sub, see eval --objects)."""

    min_area: float = 0.002  # smallest object, as a share of the image
    min_part: float = 0.08  # smallest part a region is cut into, as a share of the region
    core_depth: float = 0.5  # a part's core: distance to the region's edge >= this share of
    # the deepest point (each core seeds one part)
    edge_ratio: float = 1.0  # border's image gradient / region's mean gradient to keep a cut
    valley: float = 0.7  # ...or the model's mean confidence along the border at most this
    hidden: int = 4  # at most this many hidden colour regions the model left out
    region_scale: float = 4500.0  # colour regions' scale (bigger: fewer, larger regions)
    colour_cut: bool = True  # cut subjects along colour regions (`split_by_colour`); off
    # where one whole main subject is wanted (`--objects largest`)
    colour_scale: float = 1000.0  # `split_by_colour`: colour regions' scale (finer than hidden)
    colour_edge: float = 2.5  # ... border's gradient / the subject's mean gradient to cut
    colour_part: float = 0.2  # ... and its smallest part, as a share of the subject
    crop_grid: int = 2  # crops per side when searching for left-out things (0 = no search)
    crop_overlap: float = 1.3  # crop side = long side / crop_grid * this


def work_scale(height: int, width: int) -> float:
    return min(1.0, WORK_SIDE / max(height, width))


def gradient_magnitude(rgb: np.ndarray) -> np.ndarray:
    """Colour gradient (float32, max over channels of the Sobel magnitude) of a uint8 image."""
    img = cv2.GaussianBlur(rgb, (3, 3), 0).astype(np.float32)
    gx = cv2.Sobel(img, cv2.CV_32F, 1, 0, ksize=3)
    gy = cv2.Sobel(img, cv2.CV_32F, 0, 1, ksize=3)
    mag = np.sqrt(gx * gx + gy * gy)
    return mag.max(axis=2) if mag.ndim == 3 else mag


def split_component(
    region: np.ndarray, soft: np.ndarray, grad: np.ndarray, settings: SplitSettings
) -> np.ndarray:
    """Labels (int32, 0 outside `region`) of the subjects inside one connected region."""
    dist = cv2.distanceTransform(region.astype(np.uint8), cv2.DIST_L2, 5)
    deepest = float(dist.max())
    cores_mask = (dist >= settings.core_depth * deepest).astype(np.uint8)
    count, cores = cv2.connectedComponents(cores_mask, 8)
    if count <= 2:
        return region.astype(np.int32)
    scale = float(np.mean(grad[region])) + 1e-6
    elevation = np.clip(grad / (4.0 * scale), 0, 1) * 0.5 + (1.0 - soft) * 0.5
    labels = _flood(region, np.where(region, cores, 0).astype(np.int32), elevation)
    return _merge_weak_borders(labels, soft, grad / scale, settings)


def _flood(region: np.ndarray, markers: np.ndarray, elevation: np.ndarray) -> np.ndarray:
    """Labels of `region` grown from `markers` (int32) over `elevation` (0..1), a watershed."""
    elevation = elevation.copy()
    elevation[~region] = 1.0  # paths through the outside cost the most: never taken first
    from scipy import ndimage  # imported when needed: ~0.4 s of every CLI start otherwise

    flooded = ndimage.watershed_ift((elevation * 65535).astype(np.uint16), markers)
    return np.where(region, flooded, 0).astype(np.int32)


def split_by_colour(
    region: np.ndarray, colours: np.ndarray, soft: np.ndarray, grad: np.ndarray,
    settings: SplitSettings,
) -> np.ndarray:  # fmt: skip
    """Labels (int32, 0 outside `region`) of one subject cut along the colour regions
    `colours` (int labels, same shape) it holds: neighbouring pieces are merged back unless
    their common border is a strong image edge (`colour_edge`, no valley needed), pieces
    below `colour_part` of the subject join a neighbour; the cuts are then moved onto the
    image's edges by a watershed from the pieces' inner parts."""
    pieces = np.zeros(region.shape, np.int32)
    for colour in np.unique(colours[region]):
        _, comps = cv2.connectedComponents((region & (colours == colour)).astype(np.uint8), 4)
        pieces[comps > 0] = comps[comps > 0] + pieces.max()
    scale = float(np.mean(grad[region])) + 1e-6
    # the outline's own edge (against what lies outside) says nothing about a cut inside
    inside = cv2.erode(region.astype(np.uint8), np.ones((5, 5), np.uint8)) > 0
    strict = replace(settings, min_part=settings.colour_part, edge_ratio=settings.colour_edge,
                     valley=0.0)  # fmt: skip
    labels = _merge_weak_borders(pieces, soft, np.where(inside, grad / scale, 0), strict)
    if labels.max() <= 1:
        return region.astype(np.int32)
    inner = cv2.erode(labels.astype(np.uint16), np.ones((5, 5), np.uint8)).astype(np.int32)
    inner[cv2.dilate(labels.astype(np.uint16), np.ones((5, 5), np.uint8)) != inner] = 0
    elevation = np.clip(grad / (4.0 * scale), 0, 1) * 0.5 + (1.0 - soft) * 0.5
    return _relabel(_flood(region, inner, elevation))


def _merge_weak_borders(
    labels: np.ndarray, soft: np.ndarray, grad: np.ndarray, settings: SplitSettings
) -> np.ndarray:
    """Merge neighbouring parts whose common border shows no edge, weakest first; parts below
    `min_part` of the region join the neighbour they share the longest border with. The
    borders are measured once; a merged part's border with a neighbour is the union of its
    two parts' borders with it (the same pixels a new measurement would find)."""
    total = int((labels > 0).sum())
    areas = np.bincount(labels.ravel())
    # per pair: border length, sum of the gradient and of the model's confidence along it
    stats = {
        pair: (len(rows), float(grad[rows, cols].sum()), float(soft[rows, cols].sum()))
        for pair, (rows, cols) in _borders(labels).items()
    }
    lut = np.arange(len(areas), dtype=np.int32)
    while True:
        weakest, merge = None, None
        for (a, b), (length, edges, confidence) in stats.items():
            small = min(areas[a], areas[b]) < settings.min_part * total
            edge, valley = edges / length, confidence / length
            strength = max(edge / settings.edge_ratio, settings.valley / max(valley, 1e-6))
            key = (not small, strength if not small else -length)
            if (small or strength < 1.0) and (weakest is None or key < weakest):
                weakest, merge = key, (a, b)
        if merge is None:
            return _relabel(lut[labels])
        keep, gone = merge  # pairs are (low, high): the lower label stays
        areas[keep] += areas[gone]
        lut[lut == gone] = keep
        merged: dict[tuple[int, int], tuple[int, float, float]] = {}
        for (a, b), values in stats.items():
            a, b = (keep if a == gone else a), (keep if b == gone else b)
            if a == b:
                continue
            pair = (min(a, b), max(a, b))
            old = merged.get(pair, (0, 0.0, 0.0))
            merged[pair] = (old[0] + values[0], old[1] + values[1], old[2] + values[2])
        stats = merged


def _borders(labels: np.ndarray) -> dict[tuple[int, int], tuple[np.ndarray, np.ndarray]]:
    """Pixels (row, col arrays) on the common border of each pair of touching labels."""
    pairs: dict[tuple[int, int], list[tuple[np.ndarray, np.ndarray]]] = {}
    for da, db in (((slice(None), slice(1, None)), (slice(None), slice(None, -1))),
                   ((slice(1, None), slice(None)), (slice(None, -1), slice(None)))):  # fmt: skip
        a, b = labels[da], labels[db]
        touching = (a > 0) & (b > 0) & (a != b)
        rows, cols = np.nonzero(touching)
        if da[0].start:  # vertical neighbours: rows of `a` are shifted by one
            rows = rows + 1
        else:
            cols = cols + 1
        lo, hi = np.minimum(a[touching], b[touching]), np.maximum(a[touching], b[touching])
        for pair in set(zip(lo.tolist(), hi.tolist(), strict=True)):
            sel = (lo == pair[0]) & (hi == pair[1])
            pairs.setdefault(pair, []).append((rows[sel], cols[sel]))
    return {
        pair: (np.concatenate([r for r, _ in parts]), np.concatenate([c for _, c in parts]))
        for pair, parts in pairs.items()
    }


def _relabel(labels: np.ndarray) -> np.ndarray:
    ids = np.unique(labels[labels > 0])
    lut = np.zeros(int(labels.max()) + 1, np.int32)
    lut[ids] = np.arange(1, len(ids) + 1, dtype=np.int32)
    return lut[labels]


def crop_centres(height: int, width: int, settings: SplitSettings) -> list[tuple[int, int, int]]:
    """(x, y, side) of the crops searched for left-out things, in full-resolution pixels."""
    n = settings.crop_grid
    if n <= 0:
        return []
    side = int(max(height, width) / n * settings.crop_overlap)
    xs = [int((i + 0.5) * width / n) for i in range(n)]
    ys = [int((j + 0.5) * height / n) for j in range(n)]
    return [(x, y, side) for y in ys for x in xs]
