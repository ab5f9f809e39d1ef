"""What the model says on crops of the photo, used by `core.objects` (work resolution):

- `crop_views`: the model re-run on a grid of crops (the click-to-select engine's
  `CropSegmenter`, so crops are computed once per image and shared with clicks).
- `carve`: a model subject that a crop sees whole but calls only partly subject is cut in two
  there (a person and the bag they hold: on a crop the model often takes one of them).
- `found_regions`: what any crop calls subject and the automatic mask left out (crops overlap,
  so a thing cut by one crop's border is whole in the union).
- `faint_regions`: what the model's own mask holds only faintly (not in the cutout).
Regions are bool maps at work resolution, returned with a score (mean confidence), best first.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from bgeraser_gui.core.click_proposals import CropSegmenter
from bgeraser_gui.core.object_split import SplitSettings, crop_centres, split_component
from bgeraser_gui.core.progress import CancelToken

FAINT = 0.05  # a faint region: the model's mask between this and 0.5 (chosen on coco even half)
MAX_FOUND = 8  # at most this many found (or faint) objects: the best ones
CARVE_RANGE = (0.15, 0.85)  # a crop carves a subject when it calls this share of it subject


@dataclass(frozen=True)
class CropView:
    box: tuple[int, int, int, int]  # x0, y0, x1, y1 at work resolution
    soft: np.ndarray  # float32, the crop's answer at work resolution, box-sized


def crop_views(
    crops: CropSegmenter,
    scale: float,
    shape: tuple[int, int],
    settings: SplitSettings,
    cancel: CancelToken | None = None,
) -> list[CropView]:
    h, w = crops.image_shape
    wh, ww = shape
    views = []
    for x, y, side in crop_centres(h, w, settings):
        if cancel is not None:
            cancel.check()
        proposal = crops.proposal(x, y, side, cancel)
        b = proposal.box
        x0, y0 = min(int(b.x0 * scale), ww - 1), min(int(b.y0 * scale), wh - 1)
        x1, y1 = (
            min(ww, max(x0 + 1, round(b.x1 * scale))),
            min(wh, max(y0 + 1, round(b.y1 * scale))),
        )
        soft = cv2.resize(proposal.mask, (x1 - x0, y1 - y0), interpolation=cv2.INTER_AREA)
        views.append(CropView((x0, y0, x1, y1), soft))
    return views


def carve(labels: np.ndarray, views: list[CropView], settings: SplitSettings) -> np.ndarray:
    """`labels` with each model subject that some crop holds whole (not touching the crop's
    inner borders) and calls subject only in part cut into that part and the rest."""
    out = labels.copy()
    next_id = int(labels.max()) + 1
    min_pixels = settings.min_area * labels.size
    for obj in range(1, int(labels.max()) + 1):
        ys, xs = np.nonzero(labels == obj)
        if len(ys) == 0:
            continue
        for view in views:
            x0, y0, x1, y1 = view.box
            if not _inside(xs, ys, view.box, labels.shape):
                continue
            member = labels[y0:y1, x0:x1] == obj
            said = member & (view.soft >= 0.5)
            share = said.sum() / member.sum()
            rest = member & ~said
            if not CARVE_RANGE[0] <= share <= CARVE_RANGE[1]:
                continue
            if said.sum() < min_pixels or rest.sum() < min_pixels:
                continue
            out[y0:y1, x0:x1][said] = next_id
            next_id += 1
            break
    return _by_area(out)


def _inside(xs, ys, box, shape) -> bool:
    """All pixels inside `box`, not touching a box side that lies inside the image."""
    x0, y0, x1, y1 = box
    wh, ww = shape
    return (
        (xs.min() > x0 or x0 == 0)
        and (ys.min() > y0 or y0 == 0)
        and (xs.max() < x1 - 1 or x1 == ww)
        and (ys.max() < y1 - 1 or y1 == wh)
    )


def _by_area(labels: np.ndarray) -> np.ndarray:
    """Labels renumbered 1..n, biggest first."""
    areas = np.bincount(labels.ravel())
    order = [i for i in np.argsort(-areas) if i > 0 and areas[i] > 0]
    lut = np.zeros(len(areas), np.int32)
    lut[order] = np.arange(1, len(order) + 1, dtype=np.int32)
    return lut[labels]


def found_regions(
    views: list[CropView], taken: np.ndarray, settings: SplitSettings
) -> list[tuple[np.ndarray, float]]:
    """Regions some crop calls subject, away from `taken`."""
    best = np.zeros(taken.shape, np.float32)
    for view in views:
        x0, y0, x1, y1 = view.box
        np.maximum(best[y0:y1, x0:x1], view.soft, out=best[y0:y1, x0:x1])
    return _regions(best, best >= 0.5, taken, settings)


def faint_regions(
    soft: np.ndarray, taken: np.ndarray, grad: np.ndarray, settings: SplitSettings
) -> list[tuple[np.ndarray, float]]:
    """Regions the model's mask holds faintly (FAINT..0.5), away from `taken`, each cut into
    the things it holds where the image shows an edge or the mask a valley between them (a
    faint bus and the poles in front of it), like the model's subjects."""
    return _regions(soft, soft >= FAINT, taken, settings, grad)


def _regions(score_map, wanted, taken, settings, grad=None) -> list[tuple[np.ndarray, float]]:
    """Connected regions of `wanted` away from `taken` (each cut by `split_component` when
    `grad` is given), with their mean score, best first."""
    near_taken = cv2.dilate(taken.astype(np.uint8), np.ones((5, 5), np.uint8)) > 0
    fresh = (wanted & ~near_taken).astype(np.uint8)
    # thin strips (a subject's soft edge beyond the dilation) are no objects
    fresh = cv2.morphologyEx(
        fresh, cv2.MORPH_OPEN, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (7, 7))
    )
    count, comps, stats, _ = cv2.connectedComponentsWithStats(fresh, 8)
    min_pixels = settings.min_area * taken.size
    found = []
    for i in range(1, count):
        if stats[i, cv2.CC_STAT_AREA] >= min_pixels:
            region = comps == i
            if grad is None:
                found.append((region, float(score_map[region].mean())))
                continue
            parts = split_component(region, score_map, grad, settings)
            for k in range(1, int(parts.max()) + 1):
                part = parts == k
                if part.sum() >= min_pixels:
                    found.append((part, float(score_map[part].mean())))
    found.sort(key=lambda f: -f[1] * np.sqrt(f[0].sum()))
    return found[:MAX_FOUND]
