"""What the model says about a clicked object: the segmentation model re-run on a crop centred
on the click (inside a crop the clicked object becomes the salient one).

A crop side above the photo's long side is the whole photo seen from further away: it is
placed in the middle of a canvas that much bigger, padded with the photo's mean colour
(`zoomed_out`). Salient-object models take what touches the frame for background, so an
object that fills the photo (a bus, an elephant, a laptop seen close up) is background in
every crop of it; with a margin around it, it becomes the salient thing again.

Crop boxes are snapped to a grid of a quarter crop side, so nearby clicks share one model run,
and every result is cached per image: replaying or undoing clicks costs no model run. The
editor asks for the crops of a click before it happens (`prefetch`, while the pointer rests
over the photo), so that the click itself costs only local work; a click that needs a crop
still being prefetched waits for that run instead of starting a second one.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass

import cv2
import numpy as np

from bgeraser_gui.core.history import Rect
from bgeraser_gui.core.progress import CancelToken

# The backend's predict: RGB crop (uint8 hxwx3) -> soft mask (float32 hxw in [0, 1]).
Segment = Callable[[np.ndarray], np.ndarray]

MODEL_SIDE = 1024  # crops are shrunk to this long side before the model sees them
SNAP_FRACTION = 0.25  # crop centres snap to a grid of this fraction of the crop side
# Crop sides a click asks about, in order, as fractions of the image's long side
# positive click: the object left out, then a wider view, then the photo from further away
CROP_FRACTIONS = (0.4, 0.8, 1.5)
NEGATIVE_CROP_FRACTIONS = (0.2, 0.4, 0.8)  # negative click: smaller first, the unwanted thing alone
WHOLE_PHOTO = 0.9  # a zoomed-out view's object covering this share of the photo is the photo
WAIT_S = 0.05  # how often a click waiting for another thread's crop checks its cancel token


def crop_fractions(positive: bool) -> tuple[float, ...]:
    return CROP_FRACTIONS if positive else NEGATIVE_CROP_FRACTIONS


def zoomed_out_view(fraction: float) -> bool:
    """True for the crop fraction that asks about the whole photo seen from further away."""
    return fraction > 1.0


def is_whole_photo(obj: np.ndarray) -> bool:
    """True when a zoomed-out view's object is the photo itself (the picture in its frame),
    not a thing in it."""
    return float(np.count_nonzero(obj)) >= WHOLE_PHOTO * obj.size


def model_segment(backend) -> Segment:
    """What clicks ask the model about a crop: one network pass (`predict_once`) where the
    backend offers it (no flip averaging: the graph cut settles the edges, and a click must
    answer fast), else the backend's `predict`."""
    return getattr(backend, "predict_once", None) or backend.predict


@dataclass(frozen=True)
class CropProposal:
    box: Rect  # the crop, in full-resolution image pixels
    mask: np.ndarray  # float32, the model's soft mask of the crop (at most MODEL_SIDE long)


# What the model is asked: a crop box, and how much bigger a canvas it sits in (1: none)
ViewKey = tuple[Rect, float]


def crop_box(x: int, y: int, side: int, width: int, height: int) -> Rect:
    """A side x side box (clipped to the image) centred near (x, y), centre snapped to a grid."""
    side = max(8, min(int(side), max(width, height)))
    step = max(1, int(side * SNAP_FRACTION))
    cx = int(round(x / step)) * step
    cy = int(round(y / step)) * step
    w, h = min(side, width), min(side, height)
    x0 = min(max(0, cx - w // 2), width - w)
    y0 = min(max(0, cy - h // 2), height - h)
    return Rect(x0, y0, x0 + w, y0 + h)


def view_key(x: int, y: int, side: int, width: int, height: int) -> ViewKey:
    """The crop box for a click at (x, y) and the zoom-out of its canvas: a side above the
    photo's long side is the whole photo in a canvas of that side (the same for every click)."""
    long_side = max(width, height)
    zoom = round(side / long_side, 2) if side > long_side else 1.0
    return crop_box(x, y, side, width, height), zoom


def zoomed_out(rgb: np.ndarray, zoom: float) -> tuple[np.ndarray, Rect]:
    """`rgb` in the middle of a canvas `zoom` times its size, and where it lies there. The
    padding is the photo's mean colour: nothing in it continues what touches the frame."""
    h, w = rgb.shape[:2]
    height, width = round(h * zoom), round(w * zoom)
    top, left = (height - h) // 2, (width - w) // 2
    canvas = np.empty((height, width, 3), np.uint8)
    canvas[:] = np.round(rgb.reshape(-1, 3).mean(axis=0)).astype(np.uint8)
    canvas[top : top + h, left : left + w] = rgb
    return canvas, Rect(left, top, left + w, top + h)


class CropSegmenter:
    """The model run on crops of one image, cached by crop box. Thread-safe."""

    def __init__(self, rgb: np.ndarray, segment: Segment) -> None:
        self.rgb = rgb
        self.segment = segment
        self._cache: dict[Rect, np.ndarray] = {}
        self._running: dict[Rect, threading.Event] = {}  # crops being computed now
        self._lock = threading.Lock()

    @property
    def image_shape(self) -> tuple[int, int]:
        return int(self.rgb.shape[0]), int(self.rgb.shape[1])

    def cached(self, key: ViewKey) -> bool:
        with self._lock:
            return key in self._cache

    def proposal(
        self, x: int, y: int, side: int, cancel: CancelToken | None = None
    ) -> CropProposal:
        """The model's mask of the side x side crop around (x, y) (computed once per box;
        a side above the long side: the whole photo zoomed out, `view_key`)."""
        h, w = self.image_shape
        key = view_key(x, y, side, w, h)
        return CropProposal(key[0], self._mask_of(key, cancel))

    def prefetch(self, x: int, y: int, positive: bool, cancel: CancelToken | None = None) -> int:
        """Compute the crops a click at (x, y) would ask about; returns how many ran."""
        h, w = self.image_shape
        ran = 0
        for fraction in crop_fractions(positive):
            key = view_key(x, y, int(fraction * max(h, w)), w, h)
            if not self.cached(key):
                self._mask_of(key, cancel)
                ran += 1
        return ran

    def _mask_of(self, key: ViewKey, cancel: CancelToken | None) -> np.ndarray:
        while True:
            with self._lock:
                mask = self._cache.get(key)
                if mask is not None:
                    return mask
                running = self._running.get(key)
                mine = running is None
                if mine:
                    running = self._running[key] = threading.Event()
            if not mine:  # another thread runs this crop: wait, then read (or run it if it gave up)
                while not running.wait(WAIT_S):
                    if cancel is not None:
                        cancel.check()
                continue
            try:
                mask = self._run_model(*key)
                with self._lock:
                    self._cache[key] = mask
                return mask
            finally:
                with self._lock:
                    del self._running[key]
                running.set()

    def _run_model(self, box: Rect, zoom: float) -> np.ndarray:
        """The model's mask of the crop, at the size the model saw it (its canvas cut away)."""
        crop = self.rgb[box.slices()]
        scale = min(1.0, MODEL_SIDE / (zoom * max(box.width, box.height)))
        if scale < 1.0:
            size = (max(1, round(box.width * scale)), max(1, round(box.height * scale)))
            crop = cv2.resize(crop, size, interpolation=cv2.INTER_AREA)
        seen, inside = (crop, None) if zoom <= 1.0 else zoomed_out(crop, zoom)
        mask = np.clip(np.asarray(self.segment(np.ascontiguousarray(seen)), np.float32), 0, 1)
        if mask.shape != seen.shape[:2]:
            raise ValueError(f"segment returned {mask.shape} for a {seen.shape[:2]} crop")
        if inside is not None:
            mask = np.ascontiguousarray(mask[inside.slices()])
        mask.setflags(write=False)
        return mask
