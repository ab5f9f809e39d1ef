"""One click's edit of the working mask: proposal, window, data term, graph cut, locality.

Works on the working copy (`interactive.WORK_SIDE`); see `core.interactive` for the design.
A click on what an earlier click decided otherwise reopens that decision, colours settle it
(a negative click's only where the crops give no trusted object; a positive click's also
beside its object: an early negative click's object often took a large piece of the subject);
a negative click without a trusted object may act on the whole part of the selection under
it (`core.click_parts`: a thin piece, or its part in the objects split);
so may a negative click whose object runs out of every crop (the crops saw only a piece).
What earlier clicks of the other label decided stays where it lies closer to them along the
image than to this click (`core.click_memory`), so that clicks do not undo each other.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from bgeraser_gui.core.click_cut import cut_bounded
from bgeraser_gui.core.click_memory import held_by_earlier
from bgeraser_gui.core.click_parts import part_under_click
from bgeraser_gui.core.click_proposals import (
    CropSegmenter,
    crop_fractions,
    is_whole_photo,
    zoomed_out_view,
)
from bgeraser_gui.core.click_regions import REGION_PUSH, region_under_click
from bgeraser_gui.core.colour_evidence import MAX_LOG_RATIO, colour_bins, colour_histogram
from bgeraser_gui.core.history import Rect
from bgeraser_gui.core.progress import CancelToken

WorkClick = tuple[int, int, bool]  # x, y in working pixels, positive

SEED_RADIUS_FRACTION = 0.006  # a click's hard-seed disc, fraction of the long side
MIN_SEED_RADIUS = 2
PRIOR_CLIP = 0.02  # the current mask's logit is taken from [0.02, 0.98]: at most +-3.9
PROPOSAL_PUSH = 2.0  # extra logit the proposal gives inside the clicked object
COLOUR_GAIN = 1.0  # weight of the local colour models' log ratio
PRIOR_GAIN = 0.5  # weight of the current mask's logit: the click says it is wrong here
MIN_COLOUR_SAMPLES = 50
SUBJECT_OVERLAP = 0.5  # a negative click's object covering more of the selection is the subject
PART_PUSH = 0.5  # logit toward background in the part of the selection a negative click is on
DECIDED_PUSH = 3.0  # logit toward the label an earlier click gave a pixel
LOCAL_EPS = 1e-5  # density floor of the local colour models (few, local samples)
FLOOD_TOLERANCE = 24  # colour distance (per channel) of a click's own colours
WINDOW_MARGIN = 0.15  # around the clicked object, fraction of its size
MAX_CHANGE_PER_DEPTH2 = 100.0  # a proposal may flip at most this many depth^2 of pixels
OBJECT_MARGIN_FRACTION = 0.015  # how far outside the proposed object a click may change labels
LOCAL_RADIUS_FACTOR = 2.5  # without an object: window radius in units of the click's depth
MIN_LOCAL_RADIUS = 16
MAX_LOCAL_FRACTION = 0.35
SPECK_SHARE = 0.05  # islands left inside a click's change, up to this share of it, go too


@dataclass(frozen=True)
class ClickEdit:
    rect: Rect  # window in working pixels
    labels: np.ndarray  # bool, the cut's labels in the window (True = subject)
    changed: np.ndarray  # bool, pixels of the window the click changes


def seed_radius(shape: tuple[int, int]) -> int:
    return max(MIN_SEED_RADIUS, round(SEED_RADIUS_FRACTION * max(shape)))


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, PRIOR_CLIP, 1.0 - PRIOR_CLIP)
    return np.log(p / (1.0 - p)).astype(np.float32)


def _component_at(region: np.ndarray, x: int, y: int, radius: int) -> np.ndarray | None:
    """The connected component(s) of `region` within `radius` of (x, y), or None."""
    if not region.any():
        return None
    n, labels = cv2.connectedComponents(region.astype(np.uint8), connectivity=8)
    h, w = region.shape
    y0, y1 = max(0, y - radius), min(h, y + radius + 1)
    x0, x1 = max(0, x - radius), min(w, x + radius + 1)
    near = labels[y0:y1, x0:x1]
    ids = np.unique(near[near > 0])
    if ids.size == 0:
        return None
    if labels[y, x] > 0:
        ids = np.array([labels[y, x]])
    return np.isin(labels, ids)


def _object_under_click(
    segmenter: CropSegmenter,
    click: WorkClick,
    scale: float,
    current: np.ndarray,
    earlier: list[WorkClick],
    decided: np.ndarray,
    cancel: CancelToken | None,
) -> tuple[np.ndarray, np.ndarray, bool] | None:
    """(bool object, float soft mask, whole), the masks in working pixels, from the smallest
    crop whose object under the click is trusted (`_trusted_object`) and not cut off by the
    crop; a cut-off one (whole False) if no crop holds it whole; None if the model finds
    nothing usable."""
    x, y, positive = click
    work_shape = current.shape
    hf, wf = segmenter.image_shape
    r = seed_radius(work_shape)
    fallback = None
    # the click lands where an earlier click set the other label: it overrides that decision
    overriding = decided[y, x] == (-1 if positive else 1)
    for fraction in crop_fractions(positive):
        wide = zoomed_out_view(fraction)
        if wide and fallback is not None:
            break  # the photo from further away only where no crop sees anything under the click
        side = int(fraction * max(hf, wf))
        prop = segmenter.proposal(int(x / scale), int(y / scale), side, cancel)
        b = prop.box
        wb = Rect(int(b.x0 * scale), int(b.y0 * scale), round(b.x1 * scale), round(b.y1 * scale))
        wb = wb.clipped(work_shape[1], work_shape[0])
        soft = cv2.resize(prop.mask, (wb.width, wb.height), interpolation=cv2.INTER_LINEAR)
        full_soft = np.zeros(work_shape, np.float32)
        full_soft[wb.slices()] = soft
        found = _component_at(full_soft > 0.5, x, y, r)
        obj = _trusted_object(found, current, earlier, positive, overriding)
        if obj is None or (wide and is_whole_photo(obj)):
            continue
        # the object runs out of the crop on a side that is not the image's border
        ys, xs = np.nonzero(obj)
        cut_off = (
            (xs.min() <= wb.x0 and wb.x0 > 0)
            or (xs.max() >= wb.x1 - 1 and wb.x1 < work_shape[1])
            or (ys.min() <= wb.y0 and wb.y0 > 0)
            or (ys.max() >= wb.y1 - 1 and wb.y1 < work_shape[0])
        )
        if not cut_off:
            return obj, full_soft, True
        fallback = fallback or (obj, full_soft, False)
    return fallback


def _depth(labels: np.ndarray, x: int, y: int) -> float:
    """Distance from (x, y) to the nearest pixel labelled differently."""
    same = (labels == labels[y, x]).astype(np.uint8)
    if same.all():
        return float(max(labels.shape))
    return float(cv2.distanceTransform(same, cv2.DIST_L2, 3)[y, x])


def _window(shape, x, y, obj: np.ndarray | None, depth: float) -> Rect:
    h, w = shape
    radius = np.clip(LOCAL_RADIUS_FACTOR * depth, MIN_LOCAL_RADIUS, MAX_LOCAL_FRACTION * max(h, w))
    rect = Rect(int(x - radius), int(y - radius), int(x + radius + 1), int(y + radius + 1))
    if obj is not None:
        ys, xs = np.nonzero(obj)
        m = int(WINDOW_MARGIN * max(np.ptp(xs), np.ptp(ys))) + MIN_LOCAL_RADIUS
        rect = rect.union(Rect(xs.min() - m, ys.min() - m, xs.max() + m + 1, ys.max() + m + 1))
    return rect.clipped(w, h)


def _disc(shape, points: list[WorkClick], radius: int, positive: bool, rect: Rect) -> np.ndarray:
    seeds = np.zeros(shape, np.uint8)
    for x, y, pos in points:
        if pos == positive:
            cv2.circle(seeds, (x - rect.x0, y - rect.y0), radius, 1, -1)
    return seeds.astype(bool)


def _flood(rgb: np.ndarray, x: int, y: int) -> np.ndarray:
    """Pixels connected to (x, y) through colours close to the clicked one (bool)."""
    smooth = cv2.GaussianBlur(rgb, (5, 5), 0)
    h, w = rgb.shape[:2]
    fill = np.zeros((h + 2, w + 2), np.uint8)
    tol = (FLOOD_TOLERANCE,) * 3
    flags = 4 | cv2.FLOODFILL_FIXED_RANGE | cv2.FLOODFILL_MASK_ONLY | (1 << 8)
    cv2.floodFill(smooth, fill, (x, y), 0, tol, tol, flags)
    return fill[1:-1, 1:-1].astype(bool)


def _colour_term(rgb: np.ndarray, click_class: np.ndarray, other: np.ndarray) -> np.ndarray:
    """log p(colour | click class) / p(colour | other class) per pixel (0 if too few samples)."""
    if click_class.sum() < MIN_COLOUR_SAMPLES or other.sum() < MIN_COLOUR_SAMPLES:
        return np.zeros(rgb.shape[:2], np.float32)
    ratio = np.log(
        (colour_histogram(rgb[click_class]) + LOCAL_EPS)
        / (colour_histogram(rgb[other]) + LOCAL_EPS)
    )
    table = np.clip(ratio, -MAX_LOG_RATIO, MAX_LOG_RATIO).astype(np.float32)
    return table[colour_bins(rgb)]


def _trusted_object(
    obj: np.ndarray | None,
    current: np.ndarray,
    earlier: list[WorkClick],
    positive: bool,
    overriding: bool = False,
) -> np.ndarray | None:
    """The proposal, or None where it is not the clicked object but the subject itself: a
    negative click's object covering most of the selection or an earlier positive click, a
    positive click's object covering an earlier negative click. A click that overrides an
    earlier decision (it lands where an earlier click set the other label: that click took
    too much) may cover earlier clicks: their discs stay hard seeds in the cut."""
    if obj is None:
        return None
    if not positive and (obj & current).sum() > SUBJECT_OVERLAP * max(current.sum(), 1):
        return None
    if not overriding and any(obj[cy, cx] and pos != positive for cx, cy, pos in earlier):
        return None
    return obj


def _overridden(decided: np.ndarray, x: int, y: int, positive: bool, radius: int):
    """Where an earlier click set the other label, connected to (x, y) (bool), or None when
    the click does not land on such a decision. A click there says that earlier click was
    wrong here: what it decided is open again (its own disc stays a hard seed)."""
    other = -1 if positive else 1
    if decided[y, x] != other:
        return None
    return _component_at(decided == other, x, y, radius)


def _out_of_scale(obj: np.ndarray, current: np.ndarray, positive: bool, depth: float) -> bool:
    """True when the object would change far more than the click's depth (its distance to
    the other label) suggests: a click next to the outline fixes the outline, it does not
    add or remove a big region."""
    flipped = np.count_nonzero(obj & (current != positive))
    return flipped > MAX_CHANGE_PER_DEPTH2 * max(depth, 1.0) ** 2


def _free_region(obj: np.ndarray, x: int, y: int, depth: float, long_side: int) -> np.ndarray:
    """Where a click may change labels (bool): a disc around it, and the proposed object with
    a margin."""
    radius = int(np.clip(LOCAL_RADIUS_FACTOR * depth, MIN_LOCAL_RADIUS, long_side))
    free = np.zeros(obj.shape, np.uint8)
    cv2.circle(free, (x, y), radius, 1, -1)
    if obj.any():
        m = max(3, int(OBJECT_MARGIN_FRACTION * long_side))
        disc = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * m + 1, 2 * m + 1))
        free |= cv2.dilate(obj.astype(np.uint8), disc)
    return free.astype(bool)


def _border_seeds(rect: Rect, shape: tuple[int, int], cur: np.ndarray) -> np.ndarray:
    """The window's border where it lies inside the image (bool)."""
    border = np.zeros(cur.shape, bool)
    h, w = shape
    border[0] |= rect.y0 > 0
    border[-1] |= rect.y1 < h
    border[:, 0] |= rect.x0 > 0
    border[:, -1] |= rect.x1 < w
    return border


def _without_specks(
    labels: np.ndarray,
    before: np.ndarray,
    positive: bool,
    other_seeds: np.ndarray,
    fixed: np.ndarray,
) -> np.ndarray:
    """`labels` with the islands of the other label that the click's change left inside
    itself (the specks a textured region leaves: a patterned shirt removed but for its dark
    dots) given the click's label too. An island goes when it touches no fixed pixel (it lies
    wholly in the part of the window the click may change), holds no seed of the other label
    (an earlier click, the window's border) and is small against the change."""
    flipped = np.count_nonzero(labels != before)
    if flipped == 0:
        return labels
    other = (labels != positive).astype(np.uint8)
    n, ids, stats, _ = cv2.connectedComponentsWithStats(other, connectivity=8)
    if n <= 1:
        return labels
    keep = np.zeros(n, bool)
    keep[0] = True  # the click's own label
    keep[np.unique(ids[fixed | other_seeds])] = True
    keep |= stats[:, cv2.CC_STAT_AREA] > SPECK_SHARE * flipped
    speck = ~keep[ids]
    if not speck.any():
        return labels
    out = labels.copy()
    out[speck] = positive
    return out


def apply_click(
    rgb: np.ndarray,
    mask: np.ndarray,
    decided: np.ndarray,
    click: WorkClick,
    earlier: list[WorkClick],
    segmenter: CropSegmenter | None,
    scale: float,
    cancel: CancelToken | None = None,
) -> ClickEdit:
    """The edit one click makes to the working `mask` (float32) given `decided` (int8: +1/-1
    where earlier clicks set the label, 0 elsewhere); neither is modified."""
    x, y, positive = click
    shape = mask.shape
    current = mask >= 0.5
    r = seed_radius(shape)
    obj = soft = None
    whole = True
    if segmenter is not None:
        found = _object_under_click(segmenter, click, scale, current, earlier, decided, cancel)
        if cancel is not None:
            cancel.check()
        if found is not None:
            obj, soft, whole = found
    reopened = part = None
    if obj is None or positive:
        # the click lands where an earlier click set the other label: what that click decided
        # is open again, settled by colours (a positive click's object too)
        reopened = _overridden(decided, x, y, positive, r)
    if reopened is None and not positive and (obj is None or not whole):
        # ... elsewhere a negative click takes the part of the selection under it (also
        # beside an object that runs out of every crop: a piece of the unwanted thing)
        positives = [(cx, cy) for cx, cy, pos in earlier if pos]
        part = part_under_click(rgb, mask, decided, x, y, positives)
    depth = _depth(current, x, y)
    if obj is not None and _out_of_scale(obj, current, positive, depth):
        obj = soft = None
    if part is not None and _out_of_scale(part, current, positive, depth):
        part = None
    if positive and obj is None and reopened is None:  # the image's structure under the click
        part = region_under_click(rgb, current, decided, x, y, depth)
    # where the click may act beyond its neighbourhood: the model's object, the reopened
    # decision and the part of the selection under it (the latter two settled by colours;
    # at most one of them is set)
    proposals = [a for a in (obj, reopened, part) if a is not None]
    reach = np.logical_or.reduce(proposals) if proposals else None
    rect = _window(shape, x, y, reach, depth)
    sl = rect.slices()
    win_rgb = np.ascontiguousarray(rgb[sl])
    win_cur = current[sl]
    everything = [*earlier, click]
    # what earlier clicks of the other label decided and lies closer to them than to this
    # click (along the image) stays as they left it
    held = held_by_earlier(
        win_rgb,
        decided[sl] == (-1 if positive else 1),
        [(cx - rect.x0, cy - rect.y0, pos) for cx, cy, pos in everything],
        positive,
    )
    unary = PRIOR_GAIN * _logit(mask[sl])
    win_reopened = np.zeros(win_cur.shape, bool) if reopened is None else reopened[sl] & ~held
    unary[win_reopened] = 0.0
    win_part = np.zeros(win_cur.shape, bool) if part is None else part[sl] & ~held
    unary[win_part] = REGION_PUSH if positive else -PART_PUSH
    sign = 1.0 if positive else -1.0
    win_obj = np.zeros(win_cur.shape, bool) if obj is None else obj[sl] & ~held
    if obj is not None:
        push = np.abs(_logit(soft[sl])) + PROPOSAL_PUSH
        unary = np.where(win_obj, sign * np.maximum(sign * unary, push), unary)
    # local colour models: the click's own colours (its disc, the colours connected to it, the
    # proposed object) against the other class away from them
    click_class = _disc(win_cur.shape, [click], max(3 * r, 5), positive, rect)
    click_class |= _flood(win_rgb, x - rect.x0, y - rect.y0) | win_obj
    around = cv2.dilate(click_class.astype(np.uint8), np.ones((7, 7), np.uint8)).astype(bool)
    other = (win_cur != positive) & ~around & ~win_reopened & ~win_part
    # the colours only speak where the click could flip a label (a negative click never
    # makes background into subject)
    evidence = _colour_term(win_rgb, click_class, other)
    unary = unary + np.where(win_cur != positive, sign * COLOUR_GAIN * evidence, 0.0)
    # what earlier clicks decided holds unless the image strongly says otherwise
    unary = unary + DECIDED_PUSH * np.where(win_reopened, 0, decided[sl])
    # hard seeds: every click so far, and the window's border where it is inside the image
    fg = _disc(win_cur.shape, everything, r, True, rect)
    bg = _disc(win_cur.shape, everything, r, False, rect)
    if positive:
        bg |= held & ~fg
    else:
        fg |= held & ~bg
    border = _border_seeds(rect, shape, win_cur)
    # labels may change only near the click and near the proposed object, whatever colours
    # elsewhere in the window say
    win_reach = win_obj | win_reopened | win_part
    fixed = border | ~_free_region(win_reach, x - rect.x0, y - rect.y0, depth, max(shape))
    fg |= fixed & win_cur & ~bg
    bg |= fixed & ~win_cur & ~fg
    if cancel is not None:
        cancel.check()
    labels = cut_bounded(unary.astype(np.float32), win_rgb, fg, bg)
    labels = _without_specks(labels, win_cur, positive, bg if positive else fg, fixed)
    changed = _component_at(labels != win_cur, x - rect.x0, y - rect.y0, r)
    if changed is None:
        changed = np.zeros(win_cur.shape, bool)
    if positive and part is not None:  # every hole the click asked for, not only its own
        changed |= (labels != win_cur) & win_part
    return ClickEdit(rect, labels, changed)
