"""Find the places where a mask is neither clearly in nor out, for keyboard review (Tab).

A pixel is uncertain when low < alpha < high. The uncertain pixels are dilated a little (so
fragments of one fuzzy edge join up), split into connected regions, and regions larger than
`max_extent` (a soft edge running around the whole subject is one component) are cut into
grid cells of that size, so each stop of the review fits on screen at a useful zoom.
Regions are sorted by how many uncertain pixels they hold, largest first (ties: top-left first).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import cv2
import numpy as np

from bgeraser_gui.core.history import Rect


@dataclass(frozen=True)
class UncertainRegion:
    rect: Rect  # bounding box of the region's uncertain pixels (image coordinates)
    uncertain_pixels: int  # undilated uncertain pixels inside it


ANALYSIS_SIDE = 2048  # larger images are analysed in blocks, to keep Tab instant at 24 MP+


def default_max_extent(width: int, height: int) -> int:
    """Largest region side: a quarter of the long image side, at least 64 px."""
    return max(64, max(width, height) // 4)


def _block_counts(uncertain: np.ndarray, factor: int) -> np.ndarray:
    """Number of uncertain pixels in each factor x factor block (int32)."""
    if factor == 1:
        return uncertain.astype(np.int32)
    h, w = uncertain.shape
    hp, wp = -(-h // factor) * factor, -(-w // factor) * factor
    padded = np.zeros((hp, wp), np.uint8)
    padded[:h, :w] = uncertain
    blocks = padded.reshape(hp // factor, factor, wp // factor, factor)
    return blocks.sum(axis=(1, 3), dtype=np.int32)


def find_uncertain_regions(
    alpha: np.ndarray,
    low: float = 0.1,
    high: float = 0.9,
    dilate_px: int = 2,
    min_pixels: int = 8,
    max_extent: int | None = None,
) -> list[UncertainRegion]:
    """Uncertain regions of `alpha` (float HxW in [0, 1]), largest first.

    Images with a side above ANALYSIS_SIDE are analysed in blocks of `factor` pixels (pixel
    counts stay exact; boxes are then accurate to one block).
    """
    a = np.asarray(alpha, np.float32)
    if a.ndim != 2:
        raise ValueError(f"alpha must be HxW, got {a.shape}")
    h, w = a.shape
    uncertain = (a > low) & (a < high)
    if not uncertain.any():
        return []
    factor = max(1, -(-max(h, w) // ANALYSIS_SIDE))
    counts = _block_counts(uncertain, factor)
    present = (counts > 0).astype(np.uint8)
    extent = max(1, (max_extent or default_max_extent(w, h)) // factor)
    joined = present
    radius = -(-dilate_px // factor) if dilate_px > 0 else 0
    if radius > 0:
        kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1,) * 2)
        joined = cv2.dilate(present, kernel)
    n_labels, labels, stats, _ = cv2.connectedComponentsWithStats(joined, connectivity=8)
    regions: list[UncertainRegion] = []
    for label in range(1, n_labels):
        x, y, bw, bh = (int(v) for v in stats[label, :4])
        cells = [
            Rect(cx, cy, min(cx + extent, x + bw), min(cy + extent, y + bh))
            for cy in range(y, y + bh, extent)
            for cx in range(x, x + bw, extent)
        ]
        for cell in cells:
            sl = cell.slices()
            inside = (labels[sl] == label) & (present[sl] > 0)
            n = int(counts[sl][inside].sum())
            if n < min_pixels:
                continue
            ys, xs = np.nonzero(inside)
            box = Rect(
                (cell.x0 + int(xs.min())) * factor,
                (cell.y0 + int(ys.min())) * factor,
                (cell.x0 + int(xs.max()) + 1) * factor,
                (cell.y0 + int(ys.max()) + 1) * factor,
            ).clipped(w, h)
            regions.append(UncertainRegion(box, n))
    regions.sort(key=lambda r: (-r.uncertain_pixels, r.rect.y0, r.rect.x0))
    return regions


class RegionCursor:
    """Steps through the regions (Tab / Shift+Tab), wrapping around; recomputed on demand."""

    def __init__(self, finder: Callable[[np.ndarray], list[UncertainRegion]] | None = None) -> None:
        self._find = finder or find_uncertain_regions  # the editor's: core.region_review
        self._regions: list[UncertainRegion] | None = None
        self.index = -1  # position of the region shown last; -1 = none yet

    def invalidate(self) -> None:
        """The mask changed: recompute next time (the position is kept, clamped)."""
        self._regions = None

    def regions(self, alpha: np.ndarray) -> list[UncertainRegion]:
        if self._regions is None:
            self._regions = self._find(alpha)
            self.index = min(self.index, len(self._regions) - 1)
        return self._regions

    def step(self, alpha: np.ndarray, step: int) -> UncertainRegion | None:
        regions = self.regions(alpha)
        if not regions:
            self.index = -1
            return None
        if self.index < 0:
            self.index = 0 if step > 0 else len(regions) - 1
        else:
            self.index = (self.index + step) % len(regions)
        return regions[self.index]
