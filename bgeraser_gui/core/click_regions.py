"""What the image's structure says about a positive click where the model sees nothing.

COCO-style photos often ask for an object no crop of the model calls salient: a striped
suitcase among others, the dark patches of a giraffe whose pale network the model took, a
cow's shadowed flank. There a positive click used to add only the colours connected to it, a
patch per click. The selection and the photo tell more:
- a click in a hole of the selection (unselected pixels the selection surrounds, not touching
  the photo's border: a patch of a giraffe, the inside of a scissors' handle) asks for that
  hole, and for the other holes of the same selected region that look like it (mean colour):
  a patterned animal's patches come in one click, not one click per patch;
- elsewhere the colour region under the click (`core.object_regions`, a graph-based
  segmentation of the photo), without what is selected already, is the proposal.
The click's graph cut (`core.click_edit`) then settles the labels along image edges, with the
proposal only leaning toward the subject, so a region that leaks over a faint edge does not
win on its own.
"""

from __future__ import annotations

import cv2
import numpy as np

REGION_SCALE = 1000.0  # colour regions' scale (`object_regions.colour_regions`)
REGION_MIN_SHARE = 0.002  # smallest colour region, as a share of the photo
MAX_REGION_SHARE = 0.3  # a proposal covering more of the photo is the background
MAX_HOLE_SHARE = 0.7  # holes like the clicked one: at most this share of their region
HOLE_COLOUR = 20.0  # CIELAB distance of a hole's mean colour to the clicked hole's
REGION_REACH = 3.0  # a colour region ends this many click depths from the click
MIN_REGION_DEPTH = 8.0  # ... and needs a click this deep, in pixels of the regions' copy
REGION_PUSH = 1.0  # logit toward the subject inside the proposal


def region_under_click(
    rgb: np.ndarray, current: np.ndarray, decided: np.ndarray, x: int, y: int, depth: float
) -> np.ndarray | None:
    """The region (bool, image-sized) a positive click at (x, y) on unselected pixels asks
    for, or None (the click is on the selection, or no region fits). A colour region reaches
    at most REGION_REACH times the click's `depth` (its distance to the selection) from it:
    next to the outline a click fixes the outline, it does not follow a colour across the
    photo; holes are bounded by the selection around them."""
    missed = ~current
    if not missed[y, x]:
        return None
    holes = _holes_like(rgb, current, decided, x, y)
    if holes is not None:
        return holes
    from bgeraser_gui.core.object_regions import REGION_SIDE  # numba

    if depth * min(1.0, REGION_SIDE / max(current.shape)) < MIN_REGION_DEPTH:
        return None  # the colour regions are too coarse for a click this close to the outline
    labels = _colour_regions(rgb)
    near = np.zeros(missed.shape, np.uint8)
    cv2.circle(near, (x, y), max(1, round(REGION_REACH * max(depth, 1.0))), 1, -1)
    region = (labels == labels[y, x]) & missed & (decided >= 0) & (near > 0)
    _, parts = cv2.connectedComponents(region.astype(np.uint8), connectivity=4)
    if parts[y, x] == 0:
        return None
    region = parts == parts[y, x]
    if np.count_nonzero(region) > MAX_REGION_SHARE * region.size:
        return None
    return region


_last_regions: tuple[np.ndarray, np.ndarray] | None = None  # (photo, its colour regions)


def _colour_regions(rgb: np.ndarray) -> np.ndarray:
    """The colour regions of `rgb` (the session's working copy); the last photo's are kept, so
    the photo's later clicks (and the click after its hover preview) do not find them again."""
    global _last_regions
    last = _last_regions  # one read: another thread may replace it meanwhile
    if last is not None and last[0] is rgb:
        return last[1]
    from bgeraser_gui.core.object_regions import colour_regions_at  # numba

    min_pixels = max(1, round(REGION_MIN_SHARE * rgb.shape[0] * rgb.shape[1]))
    labels = colour_regions_at(rgb, REGION_SCALE, min_pixels)
    _last_regions = (rgb, labels)
    return labels


def _holes_like(
    rgb: np.ndarray, current: np.ndarray, decided: np.ndarray, x: int, y: int
) -> np.ndarray | None:
    """The hole of the selection under (x, y) and the other holes of the selected region
    around it with a mean colour like its own (bool), or None when (x, y) is in no hole."""
    n, comps, stats, _ = cv2.connectedComponentsWithStats((~current).astype(np.uint8), 4)
    h, w = current.shape
    x0, y0 = stats[:, cv2.CC_STAT_LEFT], stats[:, cv2.CC_STAT_TOP]
    x1, y1 = x0 + stats[:, cv2.CC_STAT_WIDTH], y0 + stats[:, cv2.CC_STAT_HEIGHT]
    inner = (x0 > 0) & (y0 > 0) & (x1 < w) & (y1 < h)  # touches no side of the photo
    clicked = comps[y, x]
    if not inner[clicked]:
        return None
    # the selected region around the clicked hole
    ring = cv2.dilate((comps == clicked).astype(np.uint8), np.ones((3, 3), np.uint8)) > 0
    _, owners = cv2.connectedComponents(current.astype(np.uint8), connectivity=8)
    around = np.bincount(owners[ring & current])
    if around.size < 2:
        return None
    region = owners == int(np.argmax(around[1:]) + 1)
    rys, rxs = np.nonzero(region)
    box = (slice(rys.min(), rys.max() + 1), slice(rxs.min(), rxs.max() + 1))
    # its holes lie inside its box: each hole's mean colour there
    lab = cv2.cvtColor(np.ascontiguousarray(rgb[box]), cv2.COLOR_RGB2LAB).reshape(-1, 3)
    ids = comps[box].ravel()
    means = np.stack([np.bincount(ids, lab[:, c].astype(np.float64), n) for c in range(3)], 1)
    means /= np.maximum(stats[:, cv2.CC_STAT_AREA], 1)[:, None]
    like = inner & (np.linalg.norm(means - means[clicked], axis=1) <= HOLE_COLOUR)
    # ... inside that box, and holding no pixel an earlier click set to background
    like &= (x0 >= box[1].start) & (x1 <= box[1].stop) & (y0 >= box[0].start) & (y1 <= box[0].stop)
    like[np.unique(comps[decided < 0])] = False
    like[clicked] = inner[clicked] and not (decided[comps == clicked] < 0).any()
    if not like[clicked]:
        return None
    holes = like[comps]
    if np.count_nonzero(holes) > MAX_HOLE_SHARE * np.count_nonzero(holes | region):
        return comps == clicked  # so many: the clicked one only
    return holes
