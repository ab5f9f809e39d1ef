"""Objects: a cutout split into the subjects it holds, each one a mask the user can switch.

    objects = split_objects(rgb, model_mask)                       # no model run
    objects = split_objects(rgb, model_mask, crops=CropSegmenter(rgb, segment))  # + left-out
    alpha = compose_alpha(objects, visible_ids, rgb.shape[:2])     # the union of the visible

What `split_objects` returns, best first within each kind:
1. The model's subjects (`source == "model"`, `suggested`): every connected region of the
   model's mask (>= 0.5) bigger than `min_area`, cut further into touching subjects where the
   image shows an edge between them (`core.object_split.split_component`), and along the
   photo's colour regions where two meet at a strong edge (`split_by_colour`: an umbrella and
   the person under it). Together they are the automatic cutout (minus specks below
   `min_area`).
2. Things the model left out that are likely wanted (not suggested), from `core.object_crops`:
   what the model calls subject when re-run on crops of the photo (`source == "crop"`; the
   click-to-select engine's `CropSegmenter`, so crops are shared with clicks; only when `crops`
   is given: crop_grid^2 model runs, cached), where a crop sees a subject of 1. in two parts
   it is cut in two, and what the model's own mask holds faintly (`source == "faint"`, free;
   cut like 1. where the image shows an edge between the things it holds).
3. Big things the model left out entirely (`source == "hidden"`, not suggested): colour regions
   of the photo (`core.object_regions`, a graph-based segmentation) away from 1. and 2., biggest
   first, without the region on all four sides of the photo (the background around everything).
   A bus or an elephant that fills the frame, which ISNet calls background, is often one.
Masks are soft (the model's own edges), kept as a uint8 crop of the object's box; the objects'
>= 0.5 regions never overlap. Names come from size and position ("main subject", "left
subject", "small object top right" ...). Qt-free; the work runs at most WORK_SIDE pixels wide
and only the boxes are scaled back, so a 24 MP photo costs little more than a small one.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import cv2
import numpy as np

from bgeraser_gui.core.click_proposals import CropSegmenter
from bgeraser_gui.core.history import Rect
from bgeraser_gui.core.object_crops import carve, crop_views, faint_regions, found_regions
from bgeraser_gui.core.object_split import (
    SplitSettings,
    gradient_magnitude,
    split_by_colour,
    split_component,
    work_scale,
)
from bgeraser_gui.core.progress import CancelToken

__all__ = ["WHOLE_SUBJECTS", "SplitSettings", "SubjectObject", "compose_alpha", "split_objects"]

SOFT_HALO = 0.02  # soft-mask pixels above this belong to the nearest object (its soft edge)
# one object per subject, no colour cut: where the objects are written, not toggled
# (`--objects largest`, a layered export's layers when no editor objects are given)
WHOLE_SUBJECTS = SplitSettings(colour_cut=False)


@dataclass(frozen=True, eq=False)
class SubjectObject:
    """One object of a cutout. `alpha` is uint8 (0..255) of the box `bbox` only."""

    id: int  # 1..n, stable within one split
    name: str
    bbox: Rect  # full-resolution pixels, [x0, x1) x [y0, y1)
    alpha: np.ndarray  # uint8 bbox.height x bbox.width, the object's soft mask
    score: float  # the model's mean confidence inside the object, 0..1
    source: str  # "model" (in the automatic cutout), "crop" (found on a crop) or "faint"

    @property
    def suggested(self) -> bool:
        """Part of the automatic cutout (visible until the user says otherwise)."""
        return self.source == "model"

    @property
    def mask(self) -> np.ndarray:
        """bool bbox-sized: the object's pixels (alpha >= 0.5)."""
        return self.alpha >= 128

    @property
    def area(self) -> int:
        return int(np.count_nonzero(self.mask))

    def full_alpha(self, shape: tuple[int, int]) -> np.ndarray:
        """float32 HxW in [0, 1]: the object's soft mask at full size."""
        out = np.zeros(shape, np.float32)
        out[self.bbox.slices()] = self.alpha.astype(np.float32) / 255.0
        return out

    def full_mask(self, shape: tuple[int, int]) -> np.ndarray:
        out = np.zeros(shape, bool)
        out[self.bbox.slices()] = self.mask
        return out


def compose_alpha(
    objects: Iterable[SubjectObject], visible: Iterable[int], shape: tuple[int, int]
) -> np.ndarray:
    """float32 HxW in [0, 1]: the union (max) of the visible objects' soft masks."""
    wanted = set(visible)
    out = np.zeros(shape, np.float32)
    for obj in objects:
        if obj.id in wanted:
            view = out[obj.bbox.slices()]
            np.maximum(view, obj.alpha.astype(np.float32) / 255.0, out=view)
    return out


def split_objects(
    rgb: np.ndarray,
    mask: np.ndarray,
    crops: CropSegmenter | None = None,
    settings: SplitSettings | None = None,
    cancel: CancelToken | None = None,
) -> list[SubjectObject]:
    """The objects of the cutout `mask` (float32 HxW in [0, 1], the model's soft mask) of the
    uint8 RGB photo `rgb`: the model's subjects (split where they touch at an image edge),
    then, when `crops` is given, left-out things found by the model on crops."""
    settings = settings or SplitSettings()
    h, w = mask.shape
    scale = work_scale(h, w)
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    soft = cv2.resize(np.asarray(mask, np.float32), size, interpolation=cv2.INTER_AREA)
    small_rgb = cv2.resize(rgb, size, interpolation=cv2.INTER_AREA)
    grad = gradient_magnitude(small_rgb)
    from bgeraser_gui.core.object_regions import colour_regions_at, hidden_regions  # numba

    min_pixels = round(settings.min_area * soft.size)
    colours = colour_regions_at(small_rgb, settings.region_scale, min_pixels)
    pieces = (
        colour_regions_at(small_rgb, settings.colour_scale, min_pixels)
        if settings.colour_cut
        else None
    )
    labels = _model_subjects(soft, grad, pieces, settings)
    found: list[tuple[np.ndarray, float]] = []
    if crops is not None:
        views = crop_views(crops, scale, soft.shape, settings, cancel)
        labels = carve(labels, views, settings)
        found = found_regions(views, labels > 0, settings)
    model_count = int(labels.max())
    for i, (region, _) in enumerate(found, start=model_count + 1):
        labels[region] = i
    faint = faint_regions(soft, labels > 0, grad, settings)
    for i, (region, _) in enumerate(faint, start=model_count + len(found) + 1):
        labels[region] = i
    hidden = hidden_regions(colours, labels > 0, settings.hidden, min_pixels)
    hidden = [(region, float(soft[region].mean())) for region in hidden]
    for i, (region, _) in enumerate(hidden, start=model_count + len(found) + len(faint) + 1):
        labels[region] = i
    extra = found + faint + hidden
    sources = ["model"] * model_count + ["crop"] * len(found) + ["faint"] * len(faint)
    sources += ["hidden"] * len(hidden)
    scores = _mean_per_label(soft, labels, model_count) + [s for _, s in extra]
    owner = _with_soft_halo(labels, soft)
    objects = _full_resolution(mask, owner, model_count, extra, (h, w), scale, scores, sources)
    return _named(objects, (h, w))


def _model_subjects(
    soft: np.ndarray, grad: np.ndarray, colours: np.ndarray | None, settings: SplitSettings
) -> np.ndarray:
    """Labels (int32) of the model's subjects at work resolution, biggest first: connected
    regions cut where they touch (`split_component`), each part cut along its colour regions
    `colours` (None: not cut) where they meet at a strong edge (`split_by_colour`)."""
    min_pixels = settings.min_area * soft.size
    count, comps, stats, _ = cv2.connectedComponentsWithStats((soft >= 0.5).astype(np.uint8), 8)
    labels = np.zeros(soft.shape, np.int32)
    parts: list[tuple[int, tuple[slice, slice], np.ndarray]] = []
    for i in range(1, count):
        if stats[i, cv2.CC_STAT_AREA] < min_pixels:
            continue
        x, y, bw, bh = (int(v) for v in stats[i, :4])
        box = (slice(max(0, y - 2), y + bh + 2), slice(max(0, x - 2), x + bw + 2))
        region = comps[box] == i
        sub = split_component(region, soft[box], grad[box], settings)
        for k in range(1, int(sub.max()) + 1):
            cut = (sub == k).astype(np.int32)
            if colours is not None:
                cut = split_by_colour(sub == k, colours[box], soft[box], grad[box], settings)
            for j in range(1, int(cut.max()) + 1):
                part = cut == j
                if part.sum() >= min_pixels:
                    parts.append((int(part.sum()), box, part))
    for n, (_, box, part) in enumerate(sorted(parts, key=lambda p: -p[0]), start=1):
        labels[box][part] = n
    return labels


def _mean_per_label(soft: np.ndarray, labels: np.ndarray, count: int) -> list[float]:
    sums = np.bincount(labels.ravel(), weights=soft.ravel(), minlength=count + 1)
    areas = np.bincount(labels.ravel(), minlength=count + 1)
    return [float(sums[i] / max(areas[i], 1)) for i in range(1, count + 1)]


def _with_soft_halo(labels: np.ndarray, soft: np.ndarray) -> np.ndarray:
    """`labels` with the soft edge (SOFT_HALO < soft < 0.5) given to the nearest object."""
    if not labels.any():
        return labels
    _, (rows, cols) = _nearest_label_index(labels == 0)
    owner = labels[rows, cols]
    return np.where((labels == 0) & (soft <= SOFT_HALO), 0, owner).astype(np.int32)


def _nearest_label_index(empty: np.ndarray):
    from scipy import ndimage

    return ndimage.distance_transform_edt(empty, return_indices=True)


def _full_resolution(mask, owner, model_count, found, shape, scale, scores, sources):
    """SubjectObjects at full resolution: each object's box is scaled back, its label map
    upsampled inside the box, and the soft values taken from the model's mask (model
    subjects) or the crop's answer (found ones)."""
    h, w = shape
    objects = []
    for i in range(1, int(owner.max()) + 1):
        ys, xs = np.nonzero(owner == i)
        if len(ys) == 0:
            continue
        box = Rect(
            max(0, int(xs.min() / scale) - 1),
            max(0, int(ys.min() / scale) - 1),
            min(w, int((xs.max() + 1) / scale) + 2),
            min(h, int((ys.max() + 1) / scale) + 2),
        )
        mine = _upsampled_membership(owner == i, box, scale)
        if i <= model_count:
            soft = np.asarray(mask[box.slices()], np.float32)
        else:
            soft = _found_soft(box, found[i - model_count - 1][0], scale)
        alpha = np.where(mine, np.clip(soft * 255.0 + 0.5, 0, 255), 0).astype(np.uint8)
        if np.count_nonzero(alpha >= 128) == 0:
            continue
        box, alpha = _tight(box, alpha)
        objects.append((box, alpha, scores[i - 1], sources[i - 1]))
    return objects


def _tight(box: Rect, alpha: np.ndarray) -> tuple[Rect, np.ndarray]:
    """The box shrunk to the non-zero pixels of `alpha` (and `alpha` cropped to it)."""
    rows, cols = np.flatnonzero(alpha.any(axis=1)), np.flatnonzero(alpha.any(axis=0))
    y0, y1, x0, x1 = int(rows[0]), int(rows[-1]) + 1, int(cols[0]), int(cols[-1]) + 1
    tight = Rect(box.x0 + x0, box.y0 + y0, box.x0 + x1, box.y0 + y1)
    return tight, np.ascontiguousarray(alpha[y0:y1, x0:x1])


def _upsampled_membership(member: np.ndarray, box: Rect, scale: float) -> np.ndarray:
    """bool box-sized: which full-resolution pixels of `box` the work-resolution region owns."""
    wx0, wy0 = int(box.x0 * scale), int(box.y0 * scale)
    wx1 = min(member.shape[1], int(np.ceil(box.x1 * scale)) + 1)
    wy1 = min(member.shape[0], int(np.ceil(box.y1 * scale)) + 1)
    patch = member[wy0:wy1, wx0:wx1].astype(np.float32)
    # map full-res pixel centres of the box into the patch
    xs = (np.arange(box.x0, box.x1) + 0.5) * scale - 0.5 - wx0
    ys = (np.arange(box.y0, box.y1) + 0.5) * scale - 0.5 - wy0
    mx, my = np.meshgrid(xs.astype(np.float32), ys.astype(np.float32))
    up = cv2.remap(patch, mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    return up >= 0.5


def _found_soft(box: Rect, region: np.ndarray, scale: float) -> np.ndarray:
    """A found object's soft mask in `box`: its work-resolution region upsampled, with an
    edge as soft as one work pixel."""
    member = _upsampled_membership(region, box, scale).astype(np.float32)
    return cv2.GaussianBlur(member, (0, 0), max(0.5, 0.5 / scale))


def _named(objects: list, shape: tuple[int, int]) -> list[SubjectObject]:
    """Numbered and named objects: model subjects first (biggest first), then found ones."""
    h, w = shape
    areas = [int(np.count_nonzero(a >= 128)) for _, a, _, _ in objects]
    biggest = max(areas, default=1)
    taken: dict[str, int] = {}
    out = []
    for n, ((box, alpha, score, source), area) in enumerate(zip(objects, areas, strict=True), 1):
        name = _name(box, area, biggest, source, n == 1, (h, w))
        taken[name] = taken.get(name, 0) + 1
        if taken[name] > 1:
            name = f"{name} {taken[name]}"
        out.append(SubjectObject(n, name, box, alpha, round(float(score), 3), source))
    return out


def _name(box: Rect, area: int, biggest: int, source: str, first: bool, shape) -> str:
    h, w = shape
    cx, cy = (box.x0 + box.x1) / 2 / w, (box.y0 + box.y1) / 2 / h
    column = "left" if cx < 1 / 3 else "right" if cx > 2 / 3 else ""
    row = "top" if cy < 1 / 3 else "bottom" if cy > 2 / 3 else ""
    where = " ".join(p for p in (row, column) if p) or "centre"
    if source == "model":
        if first:
            return "main subject"
        return f"{where} subject" if area >= 0.3 * biggest else f"small object {where}"
    size = "large" if area >= 0.3 * biggest else "small"
    kind = {"crop": "found", "faint": "faint"}.get(source, "hidden")
    return f"{size} object {where} ({kind})"
