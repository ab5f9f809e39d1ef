"""What the model says about a clicked object: the segmentation model re-run on a crop centred
on the click (inside a crop the clicked object becomes the salient one).

Crop boxes are snapped to a grid of a quarter crop side, so nearby clicks share one model run,
and every result is cached per image: replaying or undoing clicks costs no model run.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass

import cv2
import numpy as np

from bgeraser_gui.core.history import Rect

# The backend's predict: RGB crop (uint8 hxwx3) -> soft mask (float32 hxw in [0, 1]).
Segment = Callable[[np.ndarray], np.ndarray]

MODEL_SIDE = 1024  # crops are shrunk to this long side before the model sees them
SNAP_FRACTION = 0.25  # crop centres snap to a grid of this fraction of the crop side


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
        self._lock = threading.Lock()

    @property
    def image_shape(self) -> tuple[int, int]:
        return int(self.rgb.shape[0]), int(self.rgb.shape[1])

    def cached(self, box: Rect) -> bool:
        with self._lock:
            return box in self._cache

    def proposal(self, x: int, y: int, side: int) -> CropProposal:
        h, w = self.image_shape
        box = crop_box(x, y, side, w, h)
        with self._lock:
            mask = self._cache.get(box)
        if mask is None:
            crop = self.rgb[box.slices()]
            scale = min(1.0, MODEL_SIDE / max(box.width, box.height))
            if scale < 1.0:
                size = (max(1, round(box.width * scale)), max(1, round(box.height * scale)))
                crop = cv2.resize(crop, size, interpolation=cv2.INTER_AREA)
            mask = np.clip(np.asarray(self.segment(np.ascontiguousarray(crop)), np.float32), 0, 1)
            if mask.shape != crop.shape[:2]:
                raise ValueError(f"segment returned {mask.shape} for a {crop.shape[:2]} crop")
            mask.setflags(write=False)
            with self._lock:
                self._cache[box] = mask
        return CropProposal(box, mask)
