"""The stops of the Tab review: uncertain regions merged and ordered by how much they matter.

`find_uncertain_regions` returns every connected fuzzy patch (41 on GT04's 0.45 MP mask, 29
of them specks of under 100 pixels). A reviewer wants a handful of stops, the ones that
change the cutout most first:

- weight: the sum over the region's uncertain pixels of 1 - |2 alpha - 1| (area x how
  undecided they are: alpha 0.5 counts 1, alpha 0.15 counts 0.3);
- regions closer than `gap` to each other are merged while the merged box still fits one
  view (at most 1.5 x the largest region side), so scattered stray hairs become one stop;
- what is still tiny after that (under MIN_SHARE of the total weight) joins the nearest stop
  within 3 gaps, or is left out of the review: it cannot change the cutout visibly.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from bgeraser_gui.core.history import Rect
from bgeraser_gui.core.uncertain_regions import (
    ANALYSIS_SIDE,
    UncertainRegion,
    default_max_extent,
    find_uncertain_regions,
)

MIN_SHARE = 0.005  # stops with less of the total weight are merged into a neighbour or dropped
MERGED_EXTENT = 1.5  # a merged stop may be this much larger than a region cell


@dataclass(frozen=True)
class ReviewStop(UncertainRegion):
    weight: float = 0.0  # sum of 1 - |2 alpha - 1| over its uncertain pixels


def _union(a: Rect, b: Rect) -> Rect:
    return Rect(min(a.x0, b.x0), min(a.y0, b.y0), max(a.x1, b.x1), max(a.y1, b.y1))


def _distance(a: Rect, b: Rect) -> int:
    """Gap between two boxes in pixels (0 when they touch or overlap)."""
    dx = max(0, max(a.x0, b.x0) - min(a.x1, b.x1))
    dy = max(0, max(a.y0, b.y0) - min(a.y1, b.y1))
    return max(dx, dy)


class _WeightTable:
    """Sums of 1 - |2 alpha - 1| over undecided pixels in any box, from a summed-area table.

    Images above ANALYSIS_SIDE are weighed on blocks (the alpha averaged per block first):
    boxes are then exact to one block, and the weight of hair-thin detail is approximate,
    which is enough to order the stops and keeps Tab instant at 24 MP."""

    def __init__(self, alpha: np.ndarray, low: float, high: float) -> None:
        h, w = alpha.shape
        self.factor = max(1, -(-max(h, w) // ANALYSIS_SIDE))
        if self.factor > 1:
            size = (-(-w // self.factor), -(-h // self.factor))
            alpha = cv2.resize(alpha, size, interpolation=cv2.INTER_AREA)
        # 1 - |2a - 1| = 2 min(a, 1 - a); zero where a <= low or a >= high
        nearest = cv2.min(alpha, 1.0 - alpha)
        _, undecided = cv2.threshold(nearest, min(low, 1.0 - high), 0.0, cv2.THRESH_TOZERO)
        undecided *= 2.0 * self.factor * self.factor
        self.table = np.zeros((undecided.shape[0] + 1, undecided.shape[1] + 1), np.float64)
        np.cumsum(np.cumsum(undecided, axis=0, dtype=np.float64), axis=1, out=self.table[1:, 1:])

    def weight(self, rect: Rect) -> float:
        f, t = self.factor, self.table
        y0, x0 = rect.y0 // f, rect.x0 // f
        y1, x1 = -(-rect.y1 // f), -(-rect.x1 // f)
        return float(t[y1, x1] - t[y0, x1] - t[y1, x0] + t[y0, x0])


def review_stops(
    alpha: np.ndarray, low: float = 0.1, high: float = 0.9, gap: int | None = None
) -> list[ReviewStop]:
    """Tab's stops for `alpha` (float HxW in [0, 1]), most important first."""
    a = np.asarray(alpha, np.float32)
    regions = find_uncertain_regions(a, low, high)
    if not regions:
        return []
    h, w = a.shape
    extent = default_max_extent(w, h) * MERGED_EXTENT
    gap = max(16, max(w, h) // 40) if gap is None else gap
    table = _WeightTable(a, low, high)
    groups = [ReviewStop(r.rect, r.uncertain_pixels, table.weight(r.rect)) for r in regions]
    groups.sort(key=lambda s: -s.weight)
    merged = _merge_close(groups, gap, extent)
    total = sum(s.weight for s in merged)
    big = [s for s in merged if s.weight >= MIN_SHARE * total]
    for small in (s for s in merged if s.weight < MIN_SHARE * total):
        near = [i for i, s in enumerate(big) if _distance(s.rect, small.rect) <= 3 * gap]
        if near:
            i = min(near, key=lambda i: _distance(big[i].rect, small.rect))
            big[i] = _joined(big[i], small)
    big.sort(key=lambda s: (-s.weight, s.rect.y0, s.rect.x0))
    return big


def _joined(a: ReviewStop, b: ReviewStop) -> ReviewStop:
    return ReviewStop(
        _union(a.rect, b.rect), a.uncertain_pixels + b.uncertain_pixels, a.weight + b.weight
    )


def _merge_close(stops: list[ReviewStop], gap: int, extent: float) -> list[ReviewStop]:
    """Merge stops closer than `gap` while the merged box fits `extent` (repeat until stable)."""
    changed = True
    while changed:
        changed = False
        out: list[ReviewStop] = []
        for stop in stops:
            for i, kept in enumerate(out):
                box = _union(kept.rect, stop.rect)
                fits = box.x1 - box.x0 <= extent and box.y1 - box.y0 <= extent
                if fits and _distance(kept.rect, stop.rect) <= gap:
                    out[i] = _joined(kept, stop)
                    changed = True
                    break
            else:
                out.append(stop)
        stops = out
    return stops
