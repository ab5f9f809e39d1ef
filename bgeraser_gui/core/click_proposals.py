"""What the model says about a clicked object: the segmentation model re-run on a crop centred
on the click (inside a crop the clicked object becomes the salient one).

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
CROP_FRACTIONS = (0.4, 0.8)  # positive click: the object left out, then a wider view
NEGATIVE_CROP_FRACTIONS = (0.2, 0.4, 0.8)  # negative click: smaller first, the unwanted thing alone
WAIT_S = 0.05  # how often a click waiting for another thread's crop checks its cancel token


def crop_fractions(positive: bool) -> tuple[float, ...]:
    return CROP_FRACTIONS if positive else NEGATIVE_CROP_FRACTIONS


def model_segment(backend) -> Segment:
    """What clicks ask the model about a crop: one network pass (`predict_once`) where the
    backend offers it (no flip averaging: the graph cut settles the edges, and a click must
    answer fast), else the backend's `predict`."""
    return getattr(backend, "predict_once", None) or backend.predict


@dataclass(frozen=True)
class CropProposal:
    box: Rect  # the crop, in full-resolution image pixels
    mask: np.ndarray  # float32, the model's soft mask of the crop (at most MODEL_SIDE long)


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

    def cached(self, box: Rect) -> bool:
        with self._lock:
            return box in self._cache

    def proposal(
        self, x: int, y: int, side: int, cancel: CancelToken | None = None
    ) -> CropProposal:
        """The model's mask of the side x side crop around (x, y) (computed once per box)."""
        h, w = self.image_shape
        box = crop_box(x, y, side, w, h)
        return CropProposal(box, self._mask_of(box, cancel))

    def prefetch(self, x: int, y: int, positive: bool, cancel: CancelToken | None = None) -> int:
        """Compute the crops a click at (x, y) would ask about; returns how many ran."""
        h, w = self.image_shape
        ran = 0
        for fraction in crop_fractions(positive):
            box = crop_box(x, y, int(fraction * max(h, w)), w, h)
            if not self.cached(box):
                self._mask_of(box, cancel)
                ran += 1
        return ran

    def _mask_of(self, box: Rect, cancel: CancelToken | None) -> np.ndarray:
        while True:
            with self._lock:
                mask = self._cache.get(box)
                if mask is not None:
                    return mask
                running = self._running.get(box)
                mine = running is None
                if mine:
                    running = self._running[box] = threading.Event()
            if not mine:  # another thread runs this crop: wait, then read (or run it if it gave up)
                while not running.wait(WAIT_S):
                    if cancel is not None:
                        cancel.check()
                continue
            try:
                mask = self._run_model(box)
                with self._lock:
                    self._cache[box] = mask
                return mask
            finally:
                with self._lock:
                    del self._running[box]
                running.set()

    def _run_model(self, box: Rect) -> np.ndarray:
        crop = self.rgb[box.slices()]
        scale = min(1.0, MODEL_SIDE / max(box.width, box.height))
        if scale < 1.0:
            size = (max(1, round(box.width * scale)), max(1, round(box.height * scale)))
            crop = cv2.resize(crop, size, interpolation=cv2.INTER_AREA)
        mask = np.clip(np.asarray(self.segment(np.ascontiguousarray(crop)), np.float32), 0, 1)
        if mask.shape != crop.shape[:2]:
            raise ValueError(f"segment returned {mask.shape} for a {crop.shape[:2]} crop")
        mask.setflags(write=False)
        return mask
