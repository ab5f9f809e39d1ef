"""The part of the selection under a negative click, where the model names no object there.

A negative click on a big unwanted region that touches the subject (the shirt under a head
whose selection should be the head only, the person beside the wanted one) often gets no
usable object from the crops: the close views see nothing salient under the click, the wide
ones see the whole selection. Removing only a patch around the click then takes one click per
patch. The selection itself tells more: split along image edges and valleys of the mask
(`core.object_split.split_component`, the objects split), the connected region under the click
falls into parts, and the part under the click is the unwanted thing, unless it holds what
earlier positive clicks asked for or most of the selection. A part can still span two things
(the rider's shirt and the horse's neck beside it, both thinner than the horse's head): what
lies beyond a strong image edge from the click and joins the rest of the selection there
stays out of it (`_click_side`).
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
SIDE_MARGIN = 4  # pixels of the selection around the part that flood it from outside
CONTINUED_EDGE = 1.5  # a border below this times the part's mean gradient joins one thing


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
        part = _click_side(rgb, current, part, x, y)
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
    part = _click_side(rgb, current, part, x, y)
    return part if _removable(part, current, decided, positives) else None


def _click_side(
    rgb: np.ndarray, current: np.ndarray, part: np.ndarray, x: int, y: int
) -> np.ndarray:
    """`part` less what lies beyond a strong image edge from the click and continues the rest
    of the selection there. A watershed over the image's gradient floods the part from the
    click and from the selection around it; the pixels the outside reaches first are dropped
    when their border with the click's side is a strong edge (`SplitSettings.colour_edge`
    times the part's mean gradient, as the objects split's colour cut) and their border with
    the rest of the selection a weak one (below CONTINUED_EDGE: one thing cut by the split or
    the opening, not a third thing); else the part stays whole."""
    from scipy import ndimage  # imported when needed, as in object_split

    ys, xs = np.nonzero(part)
    h, w = part.shape
    y0, y1 = max(0, ys.min() - SIDE_MARGIN), min(h, ys.max() + SIDE_MARGIN + 1)
    x0, x1 = max(0, xs.min() - SIDE_MARGIN), min(w, xs.max() + SIDE_MARGIN + 1)
    box = (slice(y0, y1), slice(x0, x1))
    f = min(1.0, PART_SIDE / max(y1 - y0, x1 - x0))
    size = (max(1, round((x1 - x0) * f)), max(1, round((y1 - y0) * f)))
    small_part = cv2.resize(part[box].astype(np.uint8), size, interpolation=cv2.INTER_NEAREST)
    selected = cv2.resize(current[box].astype(np.uint8), size, interpolation=cv2.INTER_NEAREST)
    small_part, selected = small_part > 0, selected > 0
    rest = selected & ~small_part
    if not rest.any():
        return part
    grad = gradient_magnitude(cv2.resize(rgb[box], size, interpolation=cv2.INTER_AREA))
    scale = float(grad[small_part].mean()) + 1e-6
    elevation = np.where(selected, np.clip(grad / (4.0 * scale), 0.0, 1.0), 1.0)
    markers = np.where(rest, 2, 0).astype(np.int32)
    sx, sy = min(size[0] - 1, int((x - x0) * f)), min(size[1] - 1, int((y - y0) * f))
    cv2.circle(markers, (sx, sy), 2, 1, -1)
    markers[~selected] = 0
    flooded = ndimage.watershed_ift((elevation * 65535).astype(np.uint16), markers)
    near, far = small_part & (flooded == 1), small_part & (flooded == 2)
    # their border inside the selection (the outline's own edge says nothing about a cut)
    kernel = np.ones((5, 5), np.uint8)
    inside = cv2.erode(selected.astype(np.uint8), kernel) > 0
    cut = far & inside & _touching(near)
    joint = far & inside & _touching(rest)
    if not cut.any() or grad[cut].mean() < SplitSettings().colour_edge * scale:
        return part
    if not joint.any() or grad[joint].mean() >= CONTINUED_EDGE * scale:
        return part
    # the outside also creeps along the part's outline: a strip that thin stays with the click
    far = cv2.morphologyEx(far.astype(np.uint8), cv2.MORPH_OPEN, kernel) > 0
    grown = cv2.resize(far.astype(np.uint8), (x1 - x0, y1 - y0), interpolation=cv2.INTER_NEAREST)
    out = part.copy()
    out[box] &= grown == 0
    return out


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


def _touching(region: np.ndarray) -> np.ndarray:
    """`region` (bool) and its 8 neighbours."""
    return cv2.dilate(region.astype(np.uint8), np.ones((3, 3), np.uint8)) > 0
