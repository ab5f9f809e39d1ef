"""Memory of earlier clicks: what a later click may take back of what they decided.

A click's object from the crops is coarse: a negative click's object often holds a piece of the
subject, and the positive click that follows on that piece gets an object that also holds what
the negative click rightly removed, so the IoU swings back and forth from click to click. The
clicks themselves tell which is which: a pixel an earlier click decided belongs to the click it
is closest to along the image, where crossing a strong image edge costs much more than walking
through an even region (a geodesic distance). A later click of the other label takes back only
the decided pixels closer to it, or to another click of its label, than to every click of the
earlier label; the others stay as the earlier click left them (hard seeds in the cut).
"""

from __future__ import annotations

import cv2
import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import dijkstra

MAX_NODES = 40_000  # the distances run on a copy of the window with at most this many pixels
STEP_COST = 1.0  # cost of one step through an even region
EDGE_COST = 4.0  # extra cost of a step across a colour jump of the window's mean size...
EDGE_POWER = 2.0  # ... growing with the jump's size to this power (strong edges dominate)

Point = tuple[int, int, bool]  # x, y in window pixels, positive


def held_by_earlier(
    rgb: np.ndarray, contested: np.ndarray, clicks: list[Point], positive: bool
) -> np.ndarray:
    """The pixels of `contested` (bool: decided the other way by earlier clicks) that stay as
    they are: those geodesically closer to a click of the other label than to every click of
    the clicking label (`positive`). `clicks`: every click so far in window pixels, the new
    one included; clicks outside the window enter at its nearest border pixel."""
    if not contested.any():
        return contested
    labels = np.array([pos == positive for _, _, pos in clicks])
    if labels.all():
        return np.zeros_like(contested)
    h, w = contested.shape
    f = min(1.0, float(np.sqrt(MAX_NODES / (h * w))))
    size = (max(2, round(w * f)), max(2, round(h * f)))
    small = cv2.resize(rgb, size, interpolation=cv2.INTER_AREA).astype(np.float32)
    sw, sh = size
    graph = _grid_graph(small)
    nodes = [min(sh - 1, max(0, int(y * f))) * sw + min(sw - 1, max(0, int(x * f)))
             for x, y, _ in clicks]  # fmt: skip
    unique, first = np.unique(nodes, return_index=True)
    _, _, sources = dijkstra(
        graph, directed=False, indices=unique, min_only=True, return_predecessors=True
    )
    # where two clicks share a node the first one (the earliest) speaks for it
    ours = np.zeros(sh * sw, bool)
    reached = sources >= 0
    label_of = dict(zip(unique.tolist(), labels[first].tolist(), strict=True))
    ours[reached] = [label_of[s] for s in sources[reached].tolist()]
    ours_full = cv2.resize(
        ours.reshape(sh, sw).astype(np.uint8), (w, h), interpolation=cv2.INTER_NEAREST
    ).astype(bool)
    return contested & ~ours_full


def _grid_graph(img: np.ndarray):
    """The 4-connected pixel grid of `img` (float HxWx3) with geodesic step costs."""
    h, w = img.shape[:2]
    dx = np.sqrt(np.square(img[:, 1:] - img[:, :-1]).sum(axis=2))
    dy = np.sqrt(np.square(img[1:] - img[:-1]).sum(axis=2))
    scale = max(float(np.concatenate([dx.ravel(), dy.ravel()]).mean()), 1e-3)
    idx = np.arange(h * w).reshape(h, w)
    rows = np.concatenate([idx[:, :-1].ravel(), idx[:-1].ravel()])
    cols = np.concatenate([idx[:, 1:].ravel(), idx[1:].ravel()])
    jump = np.concatenate([dx.ravel(), dy.ravel()]) / scale
    cost = STEP_COST + EDGE_COST * np.power(jump, EDGE_POWER)
    return coo_matrix((cost, (rows, cols)), shape=(h * w, h * w)).tocsr()
