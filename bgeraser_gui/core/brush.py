"""Rasterise brush strokes into the document's touch-up layer.

Geometry: image pixel (i, j) (column i, row j) has its centre at (i + 0.5, j + 0.5). A stroke
segment from p0 to p1 with radius r covers every pixel whose centre lies within r of the segment
(a capsule; a single point is a disc). Brush size is a diameter in image pixels, radius = size/2.

Hardness h in [0, 1] (KEEP and REMOVE brushes): the inner capsule of radius
`core_radius(r, h) = r * (0.25 + 0.75 * h)` is painted with the brush's value; the soft ring
between the core and r is marked REFINE where no touch-up exists yet (the matting solver then
computes a soft edge there instead of a hard cut). h = 1 paints a hard edge with no ring.
REFINE and ERASE (value 0) brushes paint their full capsule regardless of hardness.
Smart mode (`BrushSettings.smart`, KEEP/REMOVE only) snaps to colour edges: see
`smart_footprint`.
Everything is deterministic integer/float32 math; no anti-aliasing.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import cv2
import numpy as np

from bgeraser_gui.core.document import TOUCHUPS, Document
from bgeraser_gui.core.history import HistoryEntry, Rect
from bgeraser_gui.core.trimap import KEEP, REFINE, REMOVE

ERASE = 0
MIN_SIZE = 1
MAX_SIZE = 2000
TOOL_VALUES = {"keep": KEEP, "remove": REMOVE, "refine": REFINE, "erase": ERASE}
SMART_TOLERANCE = 40.0  # RGB distance (of 441) from the colours under the brush centre
SMART_SAMPLES = 32
TOOL_LABELS = {"keep": "Keep", "remove": "Remove", "refine": "Refine edge", "erase": "Erase"}

Point = tuple[float, float]


def core_radius(radius: float, hardness: float) -> float:
    h = min(max(float(hardness), 0.0), 1.0)
    return radius * (0.25 + 0.75 * h)


def segment_rect(p0: Point, p1: Point, radius: float, width: int, height: int) -> Rect:
    """Bounding box (clipped to the image) of every pixel the capsule can cover.

    Pixel i is reachable when its centre i + 0.5 lies within [min - r, max + r]; the 1e-6
    slack only ever adds a pixel, so the box always covers the painted pixels.
    """
    eps = 1e-6
    x0 = int(np.ceil(min(p0[0], p1[0]) - radius - 0.5 - eps))
    y0 = int(np.ceil(min(p0[1], p1[1]) - radius - 0.5 - eps))
    x1 = int(np.floor(max(p0[0], p1[0]) + radius - 0.5 + eps)) + 1
    y1 = int(np.floor(max(p0[1], p1[1]) + radius - 0.5 + eps)) + 1
    return Rect(x0, y0, x1, y1).clipped(width, height)


def segment_distance_sq(rect: Rect, p0: Point, p1: Point) -> np.ndarray:
    """Squared distance from each pixel centre in `rect` to the segment p0-p1 (float64)."""
    xs = np.arange(rect.x0, rect.x1, dtype=np.float64) + 0.5
    ys = np.arange(rect.y0, rect.y1, dtype=np.float64) + 0.5
    px, py = xs[None, :] - p0[0], ys[:, None] - p0[1]
    dx, dy = p1[0] - p0[0], p1[1] - p0[1]
    length_sq = dx * dx + dy * dy
    if length_sq == 0.0:
        return px * px + py * py
    t = np.clip((px * dx + py * dy) / length_sq, 0.0, 1.0)
    ex, ey = px - t * dx, py - t * dy
    return ex * ex + ey * ey


def _centre_samples(rect: Rect, p0: Point, p1: Point) -> tuple[np.ndarray, np.ndarray]:
    """Pixel indices (rows, cols, relative to rect) along the segment, at most 32 of them."""
    length = float(np.hypot(p1[0] - p0[0], p1[1] - p0[1]))
    t = np.linspace(0.0, 1.0, int(min(SMART_SAMPLES, np.ceil(length) + 1)))
    cols = np.floor(p0[0] + t * (p1[0] - p0[0])).astype(int) - rect.x0
    rows = np.floor(p0[1] + t * (p1[1] - p0[1])).astype(int) - rect.y0
    return np.clip(rows, 0, rect.height - 1), np.clip(cols, 0, rect.width - 1)


def smart_footprint(
    rgb: np.ndarray, rect: Rect, dist_sq: np.ndarray, p0: Point, p1: Point, radius: float
) -> np.ndarray:
    """Edge-snapping footprint: the capsule's pixels whose colour is within SMART_TOLERANCE
    (RGB distance) of a colour under the brush centre line (3x3 mean, against noise) AND that
    connect (8-neighbours, through such pixels) to the centre line. A stroke run along an
    edge so stops at the edge instead of spilling over it."""
    colours = rgb[rect.slices()].astype(np.float32)
    rows, cols = _centre_samples(rect, p0, p1)
    refs = cv2.blur(colours, (3, 3))[rows, cols]
    nearest = np.full(dist_sq.shape, np.inf, np.float32)
    for ref in np.unique(refs, axis=0):
        np.minimum(nearest, ((colours - ref) ** 2).sum(axis=2), out=nearest)
    accepted = (dist_sq <= radius * radius) & (nearest <= SMART_TOLERANCE**2)
    _, labels = cv2.connectedComponents(accepted.astype(np.uint8), connectivity=8)
    seeds = labels[rows, cols]
    return np.isin(labels, seeds[seeds > 0])


def paint_segment(
    layer: np.ndarray,
    p0: Point,
    p1: Point,
    radius: float,
    hardness: float,
    value: int,
    rgb: np.ndarray | None = None,
) -> Rect:
    """Paint one capsule into `layer` (uint8 HxW) in place; return the rect that may have changed.

    With `rgb` (the photo), KEEP and REMOVE paint the edge-snapping `smart_footprint` instead
    (hardness is then ignored).
    """
    h, w = layer.shape
    rect = segment_rect(p0, p1, radius, w, h)
    if rect.is_empty():
        return rect
    dist_sq = segment_distance_sq(rect, p0, p1)
    region = layer[rect.slices()]
    if rgb is not None and value in (KEEP, REMOVE):
        region[smart_footprint(rgb, rect, dist_sq, p0, p1, radius)] = value
    elif value in (KEEP, REMOVE):
        core = core_radius(radius, hardness)
        ring = (dist_sq <= radius * radius) & (dist_sq > core * core) & (region == ERASE)
        region[ring] = REFINE
        region[dist_sq <= core * core] = value
    else:
        region[dist_sq <= radius * radius] = value
    return rect


@dataclass(frozen=True)
class BrushSettings:
    size: int = 40  # diameter in image pixels
    hardness: float = 1.0  # hard by default; softer brushes add a REFINE ring
    smart: bool = False  # keep/remove snap to colour edges (see smart_footprint)

    @property
    def radius(self) -> float:
        return self.size / 2.0

    def resized(self, step: int) -> BrushSettings:
        """One [ or ] press: about 15% per step, at least 1 px, within MIN_SIZE..MAX_SIZE."""
        size = self.size
        for _ in range(abs(step)):
            delta = max(1, round(size * 0.15))
            size = size + delta if step > 0 else size - delta
        return replace(self, size=int(min(max(size, MIN_SIZE), MAX_SIZE)))

    def hardened(self, step: int) -> BrushSettings:
        """One Shift+[ or Shift+] press: hardness +/- 0.1 within 0..1."""
        hardness = round(min(max(self.hardness + 0.1 * step, 0.0), 1.0), 2)
        return replace(self, hardness=hardness)


class BrushStroke:
    """One undoable stroke: `add_point()` per mouse position, then `finish()`.

    Every segment touches (for undo) and repaints only its own bounding rectangle; the
    document's listeners are told that rectangle, so the canvas redraws only that part.
    """

    def __init__(self, doc: Document, tool: str, settings: BrushSettings, start: Point) -> None:
        if tool not in TOOL_VALUES:
            raise ValueError(f"unknown brush tool {tool!r}")
        self.doc = doc
        self.tool = tool
        self.value = TOOL_VALUES[tool]
        self.settings = settings
        self.label = f"{TOOL_LABELS[tool]} stroke"
        self.dirty = Rect(0, 0, 0, 0)  # union of every segment's rect
        self.last_segment_rect = Rect(0, 0, 0, 0)
        self._edit = doc.transaction(self.label)
        self._last: Point = start
        self._closed = False
        self._paint(start, start)

    @property
    def last_point(self) -> Point:
        return self._last

    def add_point(self, point: Point) -> Rect:
        """Extend the stroke with a straight segment to `point`; return the repainted rect."""
        rect = self._paint(self._last, point)
        self._last = point
        return rect

    def finish(self) -> HistoryEntry | None:
        """Record the stroke as one history entry (None if it changed no pixel)."""
        self._closed = True
        return self._edit.commit()

    def cancel(self) -> None:
        """Undo everything this stroke painted, recording nothing."""
        self._closed = True
        self._edit.rollback()

    def _paint(self, p0: Point, p1: Point) -> Rect:
        if self._closed:
            raise RuntimeError("stroke already finished")
        layer = self.doc.touchups
        rect = segment_rect(p0, p1, self.settings.radius, layer.shape[1], layer.shape[0])
        self.last_segment_rect = rect
        if rect.is_empty():
            return rect
        self._edit.touch(TOUCHUPS, rect)
        s = self.settings
        rgb = self.doc.rgb if s.smart else None
        paint_segment(layer, p0, p1, s.radius, s.hardness, self.value, rgb)
        self.dirty = self.dirty.union(rect)
        self._edit.changed(TOUCHUPS, rect)
        return rect


def paint_line(
    doc: Document, tool: str, settings: BrushSettings, p0: Point, p1: Point
) -> HistoryEntry | None:
    """A Shift+click straight line from p0 to p1 as one undoable stroke."""
    stroke = BrushStroke(doc, tool, settings, p0)
    stroke.add_point(p1)
    return stroke.finish()
