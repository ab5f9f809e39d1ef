"""What the canvas shows in each view mode, cached as full-resolution QImages.

Each mode's pixels are computed with numpy from the document once, into a buffer that a QImage
wraps without copying; after a stroke only the dirty rectangles are recomputed (lazily, when
that mode is next painted). CHECKER and COLOR share one premultiplied RGBA cutout image: the
canvas paints the checkerboard or the matte colour behind it in screen space. OVERLAY is a tint
layer (coverage 1 - alpha; red, the user's colour, or one contrasting with the photo) painted
over the original at the overlay opacity, so changing the opacity costs one repaint.

A document with no mask yet (no model run, no strokes) is shown as the untouched photo in every
mode (no red tint, a full cutout, a white mask) rather than as "everything removed"; the
first mask or stroke re-renders the whole image.
"""

from __future__ import annotations

from enum import Enum

import cv2
import numpy as np
from PySide6.QtCore import QRect, QRectF
from PySide6.QtGui import QBrush, QColor, QImage, QPainter, QPixmap

from bgeraser_gui.core.document import REFINE, Document, Rect
from bgeraser_gui.gui.canvas.viewport import Viewport

BAND_ROWS = 256  # rows rendered per numpy pass, to bound temporary memory on huge images
MAX_PENDING_RECTS = 32
REFINE_RGBA = np.array([166, 140, 0, 166], np.uint8)  # yellow at 65 %, premultiplied
CHECKER_PX = 10  # checkerboard square, in screen pixels
RED = (255, 0, 0)


class ViewMode(str, Enum):
    OVERLAY = "overlay"  # photo with the removed area tinted (red by default)
    CHECKER = "checker"  # cutout on a checkerboard
    COLOR = "color"  # cutout on a chosen matte colour
    MASK = "mask"  # alpha in black and white
    ORIGINAL = "original"  # the untouched photo

    @property
    def title(self) -> str:
        return {
            "overlay": "Mask overlay",
            "checker": "Cutout on checkerboard",
            "color": "Cutout on colour",
            "mask": "Mask (black and white)",
            "original": "Original",
        }[self.value]


VIEW_MODES = list(ViewMode)


def _gray3(channel: np.ndarray) -> np.ndarray:
    return cv2.merge([channel, channel, channel])


def shown_alpha_u8(doc: Document, rect: Rect, masked: bool | None = None) -> np.ndarray:
    """The alpha to display inside `rect`: the document's, or fully opaque while the document
    has no mask yet (`masked` = `doc.has_mask`, passed in to scan the touch-ups only once)."""
    if masked is None:
        masked = doc.has_mask
    if masked:
        return doc.alpha_u8(rect)
    return np.full((rect.height, rect.width), 255, np.uint8)


def render_overlay(
    doc: Document, rect: Rect, masked: bool | None = None, tint: tuple[int, int, int] = RED
) -> np.ndarray:
    """Premultiplied RGBA tint of `rect`, drawn over the photo at the overlay opacity: `tint`
    with coverage 1 - alpha (removed areas), yellow over REFINE strokes."""
    sl = rect.slices()
    t = cv2.bitwise_not(shown_alpha_u8(doc, rect, masked))  # 255 - alpha
    out = cv2.merge([_scaled(t, c) for c in tint] + [t])
    refine = doc.touchups[sl] == REFINE
    if refine.any():
        out[refine] = REFINE_RGBA
    return out


def _scaled(coverage: np.ndarray, channel: int) -> np.ndarray:
    if channel == 255:
        return coverage
    if channel == 0:
        return np.zeros_like(coverage)
    return cv2.multiply(coverage, np.full_like(coverage, channel), scale=1 / 255.0)


def render_cutout(doc: Document, rect: Rect, masked: bool | None = None) -> np.ndarray:
    """Premultiplied RGBA uint8 of `rect` (decontaminated colours where a refined matte exists)."""
    sl = rect.slices()
    a8 = shown_alpha_u8(doc, rect, masked)
    fg = doc.foreground
    if fg is not None and doc.refined_alpha is not None:
        colour = np.rint(np.clip(fg[sl], 0.0, 1.0) * 255.0).astype(np.uint8)
    else:
        colour = np.ascontiguousarray(doc.rgb[sl])
    premultiplied = cv2.multiply(colour, _gray3(a8), scale=1 / 255.0)
    return cv2.merge([premultiplied, a8])


def render_mask(doc: Document, rect: Rect, masked: bool | None = None) -> np.ndarray:
    return shown_alpha_u8(doc, rect, masked)


class _ModeImage:
    """A numpy buffer, the QImage viewing it, and the rects still to recompute."""

    def __init__(self, buffer: np.ndarray, fmt: QImage.Format) -> None:
        self.buffer = buffer
        h, w = buffer.shape[:2]
        stride = buffer.strides[0]
        self.qimage = QImage(buffer.data, w, h, stride, fmt)
        self.pending: list[Rect] = []

    def add_pending(self, rect: Rect) -> None:
        self.pending.append(rect)
        if len(self.pending) > MAX_PENDING_RECTS:
            box = self.pending[0]
            for r in self.pending[1:]:
                box = box.union(r)
            self.pending = [box]


class DisplayCache:
    """Per-document cache of the rendered QImage of each view mode."""

    def __init__(self, doc: Document) -> None:
        self.doc = doc
        self._images: dict[ViewMode, _ModeImage] = {}
        self._original: QImage | None = None
        self._original_rgb: np.ndarray | None = None  # keeps the QImage's memory alive
        self.rendered_pixels = 0  # pixels recomputed so far (lets tests check dirty-rect work)
        self._masked: bool | None = None  # doc.has_mask when the cached pixels were rendered
        self.tint = RED  # the overlay's colour

    def set_tint(self, tint: tuple[int, int, int]) -> None:
        """Change the overlay colour (re-renders the overlay layer only, when next shown)."""
        tint = tuple(int(c) for c in tint)
        if tint != self.tint:
            self.tint = tint
            overlay = self._images.get(ViewMode.OVERLAY)
            if overlay is not None:
                overlay.add_pending(self.full_rect())

    def full_rect(self) -> Rect:
        return Rect(0, 0, self.doc.width, self.doc.height)

    def invalidate(self, rect: Rect | None = None) -> None:
        """Mark `rect` (None = everything) as outdated in every cached mode."""
        r = self.full_rect() if rect is None else rect.clipped(self.doc.width, self.doc.height)
        if r.is_empty():
            return
        for mode_image in self._images.values():
            mode_image.add_pending(r)

    def image(self, mode: ViewMode) -> QImage:
        """The up-to-date QImage for `mode`: COLOR returns the shared cutout image, OVERLAY
        the red tint layer that is drawn over the ORIGINAL image."""
        if mode == ViewMode.ORIGINAL:
            return self._original_image()
        key = ViewMode.CHECKER if mode == ViewMode.COLOR else mode
        masked = self.doc.has_mask
        if masked != self._masked:  # first mask or stroke (or undone): every pixel changes
            self._masked = masked
            self.invalidate()
        mode_image = self._images.get(key)
        if mode_image is None:
            mode_image = self._create(key)
            self._images[key] = mode_image
            mode_image.add_pending(self.full_rect())
        for rect in mode_image.pending:
            self._render(key, mode_image.buffer, rect, masked)
        mode_image.pending.clear()
        return mode_image.qimage

    def _original_image(self) -> QImage:
        if self._original is None:
            rgb = np.ascontiguousarray(self.doc.rgb)
            self._original_rgb = rgb
            h, w = rgb.shape[:2]
            self._original = QImage(rgb.data, w, h, rgb.strides[0], QImage.Format.Format_RGB888)
        return self._original

    def _create(self, mode: ViewMode) -> _ModeImage:
        h, w = self.doc.height, self.doc.width
        if mode in (ViewMode.OVERLAY, ViewMode.CHECKER):
            fmt = QImage.Format.Format_RGBA8888_Premultiplied
            return _ModeImage(np.zeros((h, w, 4), np.uint8), fmt)
        if mode == ViewMode.MASK:
            return _ModeImage(np.zeros((h, w), np.uint8), QImage.Format.Format_Grayscale8)
        raise ValueError(mode)

    def _render(self, mode: ViewMode, buffer: np.ndarray, rect: Rect, masked: bool) -> None:
        for y0 in range(rect.y0, rect.y1, BAND_ROWS):
            band = Rect(rect.x0, y0, rect.x1, min(rect.y1, y0 + BAND_ROWS))
            if mode == ViewMode.OVERLAY:
                pixels = render_overlay(self.doc, band, masked, self.tint)
            elif mode == ViewMode.CHECKER:
                pixels = render_cutout(self.doc, band, masked)
            else:
                pixels = render_mask(self.doc, band, masked)
            buffer[band.slices()] = pixels
            self.rendered_pixels += band.area


def checker_brush() -> QBrush:
    pm = QPixmap(2 * CHECKER_PX, 2 * CHECKER_PX)
    pm.fill(QColor(204, 204, 204))
    p = QPainter(pm)
    p.fillRect(0, 0, CHECKER_PX, CHECKER_PX, QColor(153, 153, 153))
    p.fillRect(CHECKER_PX, CHECKER_PX, CHECKER_PX, CHECKER_PX, QColor(153, 153, 153))
    p.end()
    return QBrush(pm)


def paint_document(
    painter: QPainter,
    cache: DisplayCache,
    view: Viewport,
    mode: ViewMode,
    exposed: QRect,
    matte: QColor,
    checker: QBrush,
    overlay_opacity: float,
) -> None:
    """Draw the part of the document visible in widget rect `exposed` in view mode `mode`."""
    src = view.image_rect(exposed)
    if src.is_empty():
        return
    target = QRectF(view.to_widget(src.x0, src.y0), view.to_widget(src.x1, src.y1))
    painter.save()
    painter.setClipRect(exposed)
    if mode == ViewMode.CHECKER:
        painter.setBrushOrigin(view.origin.toPoint())
        painter.fillRect(target, checker)
    elif mode == ViewMode.COLOR:
        painter.fillRect(target, matte)
    painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, view.zoom < 1.0)
    source = QRectF(src.x0, src.y0, src.width, src.height)
    if mode != ViewMode.MASK and not cache.doc.has_mask:
        mode = ViewMode.ORIGINAL  # nothing cut out yet: the same pixels, without rendering them
    if mode == ViewMode.OVERLAY:
        painter.drawImage(target, cache.image(ViewMode.ORIGINAL), source)
        painter.setOpacity(overlay_opacity)
    painter.drawImage(target, cache.image(mode), source)
    painter.restore()
