"""A cheap guess, for the hover outline, of what a select-object click would add or remove
(`outline_polygons` also draws the exact answer once the worker has computed it).

The real click (`core.interactive`) re-runs the model and a graph cut on a worker; while the
mouse moves the editor shows only this approximation: on a small copy of the photo, the
region connected to the pointer through similar colours, on the side the click would change
(outside the selection: what it would add; inside: what it would remove), within a window
around the pointer. A few milliseconds per call at any photo size.
"""

from __future__ import annotations

import cv2
import numpy as np

PREVIEW_SIDE = 480  # long side of the small copy
TOLERANCE = 18  # per-channel colour distance to the colour under the pointer
WINDOW_FRACTION = 0.3  # the guess stays within this fraction of the long side of the pointer


class HoverPreview:
    """Built once per photo (`rgb`) and mask; `outline(x, y)` per mouse move."""

    def __init__(self, rgb: np.ndarray, mask: np.ndarray | None) -> None:
        h, w = rgb.shape[:2]
        self.scale = min(1.0, PREVIEW_SIDE / max(h, w))
        size = (max(1, round(w * self.scale)), max(1, round(h * self.scale)))
        small = cv2.resize(rgb, size, interpolation=cv2.INTER_AREA) if self.scale < 1 else rgb
        self._rgb = cv2.GaussianBlur(small, (3, 3), 0)
        self.set_mask(mask)

    def set_mask(self, mask: np.ndarray | None) -> None:
        h, w = self._rgb.shape[:2]
        if mask is None:
            self._selected = np.zeros((h, w), bool)
        else:
            self._selected = cv2.resize(mask, (w, h), interpolation=cv2.INTER_NEAREST) >= 0.5

    def region(self, x: float, y: float) -> tuple[np.ndarray, bool] | None:
        """(bool region on the small copy, True if a click there would add), or None outside
        the photo."""
        h, w = self._selected.shape
        sx, sy = int(x * self.scale), int(y * self.scale)
        if not (0 <= sx < w and 0 <= sy < h):
            return None
        adds = not self._selected[sy, sx]
        fill = np.zeros((h + 2, w + 2), np.uint8)
        fill[1:-1, 1:-1] = self._selected if adds else ~self._selected  # walls
        r = int(WINDOW_FRACTION * max(h, w))
        fill[: max(0, sy - r) + 1, :] = 1
        fill[sy + r + 1 :, :] = 1
        fill[:, : max(0, sx - r) + 1] = 1
        fill[:, sx + r + 1 :] = 1
        tol = (TOLERANCE,) * 3
        flags = 8 | cv2.FLOODFILL_FIXED_RANGE | cv2.FLOODFILL_MASK_ONLY | (2 << 8)
        cv2.floodFill(self._rgb, fill, (sx, sy), 0, tol, tol, flags)
        return fill[1:-1, 1:-1] == 2, adds

    def outline(self, x: float, y: float) -> tuple[list[np.ndarray], bool] | None:
        """(polygons in full-resolution image coordinates (float Nx2), adds), or None."""
        found = self.region(x, y)
        if found is None:
            return None
        region, adds = found
        return outline_polygons(region, self.scale), adds


def outline_polygons(
    region: np.ndarray, scale: float, origin: tuple[int, int] = (0, 0)
) -> list[np.ndarray]:
    """Outer outlines of a bool `region` of a copy scaled by `scale` whose top-left pixel is
    `origin` (x, y) of that copy, as float Nx2 polygons in full-resolution image pixels."""
    contours, _ = cv2.findContours(
        region.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE
    )
    shift = np.array(origin, np.float32) + 0.5
    return [(c.reshape(-1, 2).astype(np.float32) + shift) / scale for c in contours]
