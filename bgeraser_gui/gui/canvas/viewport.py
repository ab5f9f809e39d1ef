"""Zoom and pan state of the canvas: the mapping between widget and image coordinates."""

from __future__ import annotations

from PySide6.QtCore import QPointF, QRect, QRectF, Qt

from bgeraser_gui.core.history import Rect

MIN_ZOOM = 0.05
MAX_ZOOM = 32.0
PAN_MARGIN_PX = 64  # how far an image edge may be dragged inside the view
ARROW_STEPS = {  # arrow key -> direction the view moves over the image
    Qt.Key.Key_Left: (-1, 0),
    Qt.Key.Key_Right: (1, 0),
    Qt.Key.Key_Up: (0, -1),
    Qt.Key.Key_Down: (0, 1),
}


def clamp_zoom(zoom: float) -> float:
    return min(max(float(zoom), MIN_ZOOM), MAX_ZOOM)


class Viewport:
    """Image pixel (i, j) spans [i, i+1) x [j, j+1); widget = origin + image * scale.

    `zoom` counts physical screen pixels per image pixel (100 % = one image pixel on one
    device pixel, also on high-DPI screens); `scale = zoom / dpr` is in widget (logical) pixels.
    """

    def __init__(self) -> None:
        self.zoom = 1.0
        self.dpr = 1.0  # device pixels per widget pixel
        self.origin = QPointF(0.0, 0.0)  # widget position of the image's top-left corner
        self.fit = True  # stay fitted when the view is resized
        self.image_size = (0, 0)  # (width, height); (0, 0) = no image
        self.view_size = (1, 1)

    @property
    def scale(self) -> float:
        return self.zoom / self.dpr

    def set_dpr(self, dpr: float) -> None:
        """The window moved to a screen with another pixel ratio: keep the zoom in device
        pixels, and the image point in the middle of the view."""
        if dpr <= 0 or dpr == self.dpr:
            return
        cx, cy = self.to_image(QPointF(self.view_size[0] / 2, self.view_size[1] / 2))
        self.dpr = float(dpr)
        if self.fit:
            self.zoom_to_fit()
        else:
            self.center_on(cx, cy)

    def to_image(self, pos: QPointF) -> tuple[float, float]:
        s = self.scale
        return ((pos.x() - self.origin.x()) / s, (pos.y() - self.origin.y()) / s)

    def to_widget(self, x: float, y: float) -> QPointF:
        return QPointF(self.origin.x() + x * self.scale, self.origin.y() + y * self.scale)

    def widget_rect(self, rect: Rect) -> QRect:
        """Widget pixels covering image `rect` (1 px of slack for smooth scaling)."""
        box = QRectF(self.to_widget(rect.x0, rect.y0), self.to_widget(rect.x1, rect.y1))
        return box.toAlignedRect().adjusted(-1, -1, 1, 1)

    def image_rect(self, exposed: QRect) -> Rect:
        """Image pixels visible in widget rect `exposed` (clipped to the image)."""
        x0, y0 = self.to_image(QPointF(exposed.left(), exposed.top()))
        x1, y1 = self.to_image(QPointF(exposed.right() + 1, exposed.bottom() + 1))
        r = Rect(int(x0) - 1, int(y0) - 1, int(x1) + 2, int(y1) + 2)
        return r.clipped(*self.image_size)

    def set_zoom(self, zoom: float, anchor: QPointF) -> None:
        """Zoom keeping the image point under `anchor` (a widget position) in place."""
        ix, iy = self.to_image(anchor)
        self.zoom = clamp_zoom(zoom)
        self.origin = QPointF(anchor.x() - ix * self.scale, anchor.y() - iy * self.scale)
        self.fit = False
        self.clamp()

    def fit_zoom(self) -> float:
        w, h = self.image_size
        if w == 0 or h == 0:
            return 1.0
        return clamp_zoom(min(self.view_size[0] / w, self.view_size[1] / h) * self.dpr)

    def zoom_to_fit(self) -> None:
        self.zoom = self.fit_zoom()
        self.origin = QPointF(0.0, 0.0)
        self.fit = True
        self.clamp()

    def frame(self, rect: Rect, fill: float, max_zoom: float) -> None:
        """Zoom and centre so `rect` fills about `fill` of the view, zooming in at most max_zoom."""
        w, h = max(rect.width, 1), max(rect.height, 1)
        vw, vh = self.view_size
        self.zoom = clamp_zoom(min(vw * fill / w * self.dpr, vh * fill / h * self.dpr, max_zoom))
        self.center_on((rect.x0 + rect.x1) / 2, (rect.y0 + rect.y1) / 2)

    def center_on(self, x: float, y: float) -> None:
        vw, vh = self.view_size
        self.origin = QPointF(vw / 2 - x * self.scale, vh / 2 - y * self.scale)
        self.fit = False
        self.clamp()

    def pan_by(self, dx: float, dy: float) -> None:
        self.origin = QPointF(self.origin.x() + dx, self.origin.y() + dy)
        self.fit = False
        self.clamp()

    def resize(self, width: int, height: int) -> None:
        """The view changed size: refit, or keep the same image point in the middle."""
        old_w, old_h = self.view_size
        self.view_size = (max(1, width), max(1, height))
        if self.fit:
            self.zoom_to_fit()
            return
        dx, dy = (self.view_size[0] - old_w) / 2, (self.view_size[1] - old_h) / 2
        self.origin = QPointF(self.origin.x() + dx, self.origin.y() + dy)
        self.clamp()

    def clamp(self) -> None:
        """Centre an image smaller than the view; otherwise keep the view (nearly) covered."""
        w, h = self.image_size
        if w == 0 or h == 0:
            return
        ox = _clamp_axis(self.origin.x(), w * self.scale, self.view_size[0])
        oy = _clamp_axis(self.origin.y(), h * self.scale, self.view_size[1])
        self.origin = QPointF(ox, oy)


def _clamp_axis(origin: float, scaled: float, view: int) -> float:
    if scaled <= view:
        return (view - scaled) / 2.0
    margin = min(PAN_MARGIN_PX, view / 4.0)
    return min(max(origin, view - scaled - margin), margin)
