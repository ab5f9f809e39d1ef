"""CanvasView: the zoomable, pannable photo canvas with mask view modes and touch-up brushes.

Mouse: left-drag paints with the current brush (one undo entry per stroke), Shift+click paints a
straight line from the previous stroke's last point, wheel zooms about the cursor, middle-drag
or Space+left-drag pans. Keys handled inside the widget only: Space (pan) and the peek key
(default Backslash: show the original while held). Every other shortcut is a QAction of the
main window calling the public slots below.
"""

from __future__ import annotations

from PySide6.QtCore import QPoint, QPointF, QRect, QRectF, Qt, Signal
from PySide6.QtGui import (
    QBrush,
    QColor,
    QKeyEvent,
    QMouseEvent,
    QPainter,
    QPaintEvent,
    QPixmap,
    QResizeEvent,
    QWheelEvent,
)
from PySide6.QtWidgets import QSizePolicy, QWidget

from bgeraser_gui.core.brush import BrushStroke, paint_line
from bgeraser_gui.core.document import Document, Rect
from bgeraser_gui.core.uncertain_regions import UncertainRegion, find_uncertain_regions
from bgeraser_gui.gui.canvas.overlay import VIEW_MODES, DisplayCache, ViewMode
from bgeraser_gui.gui.canvas.tools import BrushTool, outline_bounds, paint_brush_cursor

MIN_ZOOM = 0.05
MAX_ZOOM = 32.0
ZOOM_STEP = 1.25
REGION_MAX_ZOOM = 8.0  # Tab never zooms closer than this onto a tiny region
PAN_MARGIN_PX = 64  # how far an image edge may be dragged inside the view
CHECKER_PX = 10


def _checker_pixmap() -> QPixmap:
    pm = QPixmap(2 * CHECKER_PX, 2 * CHECKER_PX)
    pm.fill(QColor(204, 204, 204))
    p = QPainter(pm)
    p.fillRect(0, 0, CHECKER_PX, CHECKER_PX, QColor(153, 153, 153))
    p.fillRect(CHECKER_PX, CHECKER_PX, CHECKER_PX, CHECKER_PX, QColor(153, 153, 153))
    p.end()
    return pm


class CanvasView(QWidget):
    zoomChanged = Signal(float)  # zoom factor, 1.0 = 100 %
    strokeFinished = Signal(str)  # history label of the stroke just recorded
    toolChanged = Signal(str)  # "keep" | "remove" | "refine" | "erase"
    brushChanged = Signal(int, float)  # size (image px), hardness 0..1
    viewModeChanged = Signal(str)  # ViewMode value
    cursorInfo = Signal(str)  # "x, y  alpha %" under the mouse, "" outside the image
    uncertainRegionChanged = Signal(int, int)  # 1-based index of the region shown, count

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setMouseTracking(True)
        self.setAttribute(Qt.WidgetAttribute.WA_OpaquePaintEvent, True)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setMinimumSize(200, 150)
        self._doc: Document | None = None
        self._cache: DisplayCache | None = None
        self._zoom = 1.0
        self._origin = QPointF(0.0, 0.0)  # widget position of image pixel corner (0, 0)
        self._fit = True
        self._mode = ViewMode.OVERLAY
        self._overlay_opacity = 0.5
        self._matte_color = QColor(255, 255, 255)
        self._peek = False
        self._peek_key = Qt.Key.Key_Backslash
        self._tool = BrushTool()
        self._stroke: BrushStroke | None = None
        self._last_point: tuple[float, float] | None = None  # end of the previous stroke
        self._space_held = False
        self._pan_anchor: QPointF | None = None
        self._mouse: QPointF | None = None
        self._regions: list[UncertainRegion] | None = None
        self._region_index = -1
        self._checker = QBrush(_checker_pixmap())
        self._update_cursor()

    # -- document ----------------------------------------------------------------------------
    def set_document(self, doc: Document | None) -> None:
        """Show `doc` (None = empty canvas), fitted to the view."""
        if self._stroke is not None:
            self._stroke.finish()
            self._stroke = None
        if self._doc is not None:
            self._doc.remove_listener(self._on_document_changed)
        self._doc = doc
        self._cache = None
        self._last_point = None
        self._regions = None
        self._region_index = -1
        if doc is not None:
            self._cache = DisplayCache(doc)
            self._cache.set_overlay_opacity(self._overlay_opacity)
            doc.add_listener(self._on_document_changed)
        self._update_cursor()
        self.zoom_fit()
        self.update()

    def document(self) -> Document | None:
        return self._doc

    def refresh(self, rect: Rect | None = None) -> None:
        """Re-render `rect` (None = all) after the document changed without notifying."""
        self._on_document_changed(rect)

    def display_cache(self) -> DisplayCache | None:
        return self._cache

    def _on_document_changed(self, rect: Rect | None) -> None:
        self._regions = None
        if self._cache is None:
            return
        self._cache.invalidate(rect)
        if rect is None:
            self.update()
        else:
            self.update(self._widget_rect(rect))

    # -- coordinates ---------------------------------------------------------------------------
    def zoom(self) -> float:
        return self._zoom

    def map_to_image(self, pos: QPointF) -> tuple[float, float]:
        """Widget position -> image coordinates (pixel (i, j) spans [i, i+1) x [j, j+1))."""
        return (
            (pos.x() - self._origin.x()) / self._zoom,
            (pos.y() - self._origin.y()) / self._zoom,
        )

    def map_from_image(self, x: float, y: float) -> QPointF:
        return QPointF(self._origin.x() + x * self._zoom, self._origin.y() + y * self._zoom)

    def _widget_rect(self, rect: Rect) -> QRect:
        tl = self.map_from_image(rect.x0, rect.y0)
        br = self.map_from_image(rect.x1, rect.y1)
        return QRectF(tl, br).toAlignedRect().adjusted(-1, -1, 1, 1)

    # -- zoom and pan ----------------------------------------------------------------------------
    def set_zoom(self, zoom: float, anchor: QPointF | None = None) -> None:
        """Zoom to `zoom` (clamped to 5 %..3200 %) keeping the image point under `anchor` fixed."""
        zoom = min(max(float(zoom), MIN_ZOOM), MAX_ZOOM)
        anchor = QPointF(self.width() / 2, self.height() / 2) if anchor is None else anchor
        ix, iy = self.map_to_image(anchor)
        self._zoom = zoom
        self._fit = False
        self._origin = QPointF(anchor.x() - ix * zoom, anchor.y() - iy * zoom)
        self._clamp_origin()
        self.update()
        self.zoomChanged.emit(self._zoom)

    def zoom_in(self) -> None:
        self.set_zoom(self._zoom * ZOOM_STEP)

    def zoom_out(self) -> None:
        self.set_zoom(self._zoom / ZOOM_STEP)

    def zoom_actual(self) -> None:
        """100 %: one image pixel per screen pixel (Ctrl+1)."""
        self.set_zoom(1.0)

    def zoom_fit(self) -> None:
        """Fit the whole image in the view (Ctrl+0); stays fitted while the window is resized."""
        if self._doc is None:
            self._zoom, self._origin, self._fit = 1.0, QPointF(0, 0), True
            self.zoomChanged.emit(self._zoom)
            return
        zoom = min(self.width() / self._doc.width, self.height() / self._doc.height)
        self._zoom = min(max(zoom, MIN_ZOOM), MAX_ZOOM)
        self._origin = QPointF(0, 0)
        self._clamp_origin()
        self._fit = True
        self.update()
        self.zoomChanged.emit(self._zoom)

    def center_on(self, x: float, y: float) -> None:
        """Scroll so image point (x, y) is in the middle of the view."""
        self._origin = QPointF(
            self.width() / 2 - x * self._zoom, self.height() / 2 - y * self._zoom
        )
        self._fit = False
        self._clamp_origin()
        self.update()

    def pan_by(self, dx: float, dy: float) -> None:
        self._origin = QPointF(self._origin.x() + dx, self._origin.y() + dy)
        self._fit = False
        self._clamp_origin()
        self.update()

    def _clamp_origin(self) -> None:
        if self._doc is None:
            return
        ox, oy = self._origin.x(), self._origin.y()
        ox = self._clamp_axis(ox, self._doc.width * self._zoom, self.width())
        oy = self._clamp_axis(oy, self._doc.height * self._zoom, self.height())
        self._origin = QPointF(ox, oy)

    @staticmethod
    def _clamp_axis(origin: float, scaled: float, view: int) -> float:
        if scaled <= view:
            return (view - scaled) / 2.0
        margin = min(PAN_MARGIN_PX, view / 4.0)
        return min(max(origin, view - scaled - margin), margin)

    # -- view modes -----------------------------------------------------------------------------
    def view_mode(self) -> ViewMode:
        return self._mode

    def set_view_mode(self, mode: ViewMode | str) -> None:
        mode = ViewMode(mode)
        if mode == self._mode:
            return
        self._mode = mode
        self.update()
        self.viewModeChanged.emit(mode.value)

    def cycle_view_mode(self, step: int = 1) -> ViewMode:
        index = (VIEW_MODES.index(self._mode) + step) % len(VIEW_MODES)
        self.set_view_mode(VIEW_MODES[index])
        return self._mode

    def overlay_opacity(self) -> float:
        return self._overlay_opacity

    def set_overlay_opacity(self, opacity: float) -> None:
        self._overlay_opacity = float(min(max(opacity, 0.0), 1.0))
        if self._cache is not None:
            self._cache.set_overlay_opacity(self._overlay_opacity)
        self.update()

    def matte_color(self) -> QColor:
        return QColor(self._matte_color)

    def set_matte_color(self, color: QColor) -> None:
        self._matte_color = QColor(color)
        self.update()

    def set_peek_original(self, peek: bool) -> None:
        """Show the original photo while True, whatever the view mode (hold-to-peek)."""
        if peek != self._peek:
            self._peek = peek
            self.update()

    def peek_original(self) -> bool:
        return self._peek

    def set_peek_key(self, key: Qt.Key) -> None:
        self._peek_key = key

    # -- brush tool -------------------------------------------------------------------------------
    def tool(self) -> str:
        return self._tool.name

    def set_tool(self, name: str) -> None:
        if self._tool.set_tool(name):
            self.toolChanged.emit(name)
        self._update_brush_cursor()

    def swap_keep_remove(self) -> None:
        self.toolChanged.emit(self._tool.swap_keep_remove())
        self._update_brush_cursor()

    def brush_size(self) -> int:
        return self._tool.settings.size

    def brush_hardness(self) -> float:
        return self._tool.settings.hardness

    def set_brush_size(self, size: int) -> None:
        self._tool.set_size(size)
        self._brush_changed()

    def set_brush_hardness(self, hardness: float) -> None:
        self._tool.set_hardness(hardness)
        self._brush_changed()

    def change_brush_size(self, step: int) -> None:
        """[ (step -1) and ] (step +1): about 15 % per step."""
        self._tool.change_size(step)
        self._brush_changed()

    def change_brush_hardness(self, step: int) -> None:
        """Shift+[ and Shift+]: hardness -/+ 0.1."""
        self._tool.change_hardness(step)
        self._brush_changed()

    def _brush_changed(self) -> None:
        s = self._tool.settings
        self.brushChanged.emit(s.size, s.hardness)
        self._update_brush_cursor()

    # -- uncertain regions (Tab / Shift+Tab) --------------------------------------------------------
    def uncertain_regions(self) -> list[UncertainRegion]:
        if self._doc is None:
            return []
        if self._regions is None:
            self._regions = find_uncertain_regions(self._doc.alpha())
            self._region_index = min(self._region_index, len(self._regions) - 1)
        return self._regions

    def goto_next_uncertain(self) -> UncertainRegion | None:
        return self._goto_uncertain(+1)

    def goto_prev_uncertain(self) -> UncertainRegion | None:
        return self._goto_uncertain(-1)

    def _goto_uncertain(self, step: int) -> UncertainRegion | None:
        regions = self.uncertain_regions()
        if not regions:
            self.uncertainRegionChanged.emit(0, 0)
            return None
        if self._region_index < 0:
            self._region_index = 0 if step > 0 else len(regions) - 1
        else:
            self._region_index = (self._region_index + step) % len(regions)
        region = regions[self._region_index]
        self.frame_rect(region.rect)
        self.uncertainRegionChanged.emit(self._region_index + 1, len(regions))
        return region

    def frame_rect(self, rect: Rect, fill: float = 0.6) -> None:
        """Zoom and centre so `rect` fills about `fill` of the view (never beyond 800 %)."""
        w, h = max(rect.width, 1), max(rect.height, 1)
        zoom = min(self.width() * fill / w, self.height() * fill / h, REGION_MAX_ZOOM)
        self.set_zoom(zoom)
        self.center_on((rect.x0 + rect.x1) / 2, (rect.y0 + rect.y1) / 2)

    # -- painting ----------------------------------------------------------------------------------
    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        exposed = event.rect()
        painter.fillRect(exposed, self.palette().window().color().darker(115))
        if self._doc is not None and self._cache is not None:
            self._paint_image(painter, exposed)
        if self._mouse is not None and self._brush_cursor_visible():
            paint_brush_cursor(painter, self._mouse, self._screen_radius(), self._tool.name)
        painter.end()

    def _paint_image(self, painter: QPainter, exposed: QRect) -> None:
        doc, cache = self._doc, self._cache
        assert doc is not None and cache is not None
        x0, y0 = self.map_to_image(QPointF(exposed.left(), exposed.top()))
        x1, y1 = self.map_to_image(QPointF(exposed.right() + 1, exposed.bottom() + 1))
        src = Rect(int(x0) - 1, int(y0) - 1, int(x1) + 2, int(y1) + 2).clipped(
            doc.width, doc.height
        )
        if src.is_empty():
            return
        target = QRectF(self.map_from_image(src.x0, src.y0), self.map_from_image(src.x1, src.y1))
        mode = ViewMode.ORIGINAL if self._peek else self._mode
        painter.save()
        painter.setClipRect(exposed)
        if mode == ViewMode.CHECKER:
            painter.setBrushOrigin(self._origin.toPoint())
            painter.fillRect(target, self._checker)
        elif mode == ViewMode.COLOR:
            painter.fillRect(target, self._matte_color)
        smooth = self._zoom < 1.0
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, smooth)
        source = QRectF(src.x0, src.y0, src.width, src.height)
        painter.drawImage(target, cache.image(mode), source)
        painter.restore()

    def _screen_radius(self) -> float:
        return self._tool.settings.radius * self._zoom

    def _brush_cursor_visible(self) -> bool:
        return self._doc is not None and self._pan_anchor is None and not self._space_held

    def _update_brush_cursor(self) -> None:
        if self._mouse is not None:
            self.update()

    def _update_cursor(self) -> None:
        if self._pan_anchor is not None:
            self.setCursor(Qt.CursorShape.ClosedHandCursor)
        elif self._space_held:
            self.setCursor(Qt.CursorShape.OpenHandCursor)
        elif self._doc is not None:
            self.setCursor(Qt.CursorShape.BlankCursor)  # the painted brush outline is the cursor
        else:
            self.setCursor(Qt.CursorShape.ArrowCursor)

    # -- mouse and keys ---------------------------------------------------------------------------
    def mousePressEvent(self, event: QMouseEvent) -> None:
        pos = event.position()
        button = event.button()
        if button == Qt.MouseButton.MiddleButton or (
            button == Qt.MouseButton.LeftButton and self._space_held
        ):
            self._pan_anchor = pos
            self._update_cursor()
            self.update()
            return
        if button != Qt.MouseButton.LeftButton or self._doc is None or self._stroke is not None:
            super().mousePressEvent(event)
            return
        point = self.map_to_image(pos)
        shift = bool(event.modifiers() & Qt.KeyboardModifier.ShiftModifier)
        if shift and self._last_point is not None:
            entry = paint_line(
                self._doc, self._tool.name, self._tool.settings, self._last_point, point
            )
            self._last_point = point
            if entry is not None:
                self.strokeFinished.emit(entry.label)
            return
        self._stroke = BrushStroke(self._doc, self._tool.name, self._tool.settings, point)

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        pos = event.position()
        old_mouse, self._mouse = self._mouse, pos
        if self._pan_anchor is not None:
            delta = pos - self._pan_anchor
            self._pan_anchor = pos
            self.pan_by(delta.x(), delta.y())
            return
        if self._stroke is not None:
            self._stroke.add_point(self.map_to_image(pos))
        self._repaint_cursor(old_mouse, pos)
        self._emit_cursor_info(pos)

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        if self._pan_anchor is not None and event.button() in (
            Qt.MouseButton.MiddleButton,
            Qt.MouseButton.LeftButton,
        ):
            self._pan_anchor = None
            self._update_cursor()
            self.update()
            return
        if event.button() == Qt.MouseButton.LeftButton and self._stroke is not None:
            stroke, self._stroke = self._stroke, None
            self._last_point = stroke.last_point
            entry = stroke.finish()
            if entry is not None:
                self.strokeFinished.emit(entry.label)
            return
        super().mouseReleaseEvent(event)

    def wheelEvent(self, event: QWheelEvent) -> None:
        delta = event.angleDelta().y()
        if delta == 0 or self._doc is None:
            event.ignore()
            return
        self.set_zoom(self._zoom * ZOOM_STEP ** (delta / 120.0), event.position())
        event.accept()

    def leaveEvent(self, event) -> None:
        if self._mouse is not None:
            old, self._mouse = self._mouse, None
            self.update(outline_bounds(old, self._screen_radius()))
        self.cursorInfo.emit("")
        super().leaveEvent(event)

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if event.key() == Qt.Key.Key_Space and not event.isAutoRepeat():
            self._space_held = True
            self._update_cursor()
            self.update()
        elif event.key() == self._peek_key and not event.isAutoRepeat():
            self.set_peek_original(True)
        elif event.key() not in (Qt.Key.Key_Space, self._peek_key):
            super().keyPressEvent(event)

    def keyReleaseEvent(self, event: QKeyEvent) -> None:
        if event.key() == Qt.Key.Key_Space and not event.isAutoRepeat():
            self._space_held = False
            self._update_cursor()
            self.update()
        elif event.key() == self._peek_key and not event.isAutoRepeat():
            self.set_peek_original(False)
        elif event.key() not in (Qt.Key.Key_Space, self._peek_key):
            super().keyReleaseEvent(event)

    def resizeEvent(self, event: QResizeEvent) -> None:
        if self._fit:
            self.zoom_fit()
        else:
            old = event.oldSize()
            if old.isValid():
                dx = (self.width() - old.width()) / 2
                dy = (self.height() - old.height()) / 2
                self._origin = QPointF(self._origin.x() + dx, self._origin.y() + dy)
            self._clamp_origin()
        super().resizeEvent(event)

    def _repaint_cursor(self, old: QPointF | None, new: QPointF) -> None:
        r = self._screen_radius()
        region = outline_bounds(new, r)
        if old is not None:
            region = region.united(outline_bounds(old, r))
        self.update(region)

    def _emit_cursor_info(self, pos: QPointF) -> None:
        if self._doc is None:
            return
        x, y = self.map_to_image(pos)
        ix, iy = int(x // 1), int(y // 1)
        if 0 <= ix < self._doc.width and 0 <= iy < self._doc.height:
            alpha = float(self._doc.alpha()[iy, ix]) * 100.0
            self.cursorInfo.emit(f"x {ix}, y {iy}   alpha {alpha:.0f} %")
        else:
            self.cursorInfo.emit("")

    def mouse_image_point(self) -> QPoint | None:
        if self._mouse is None:
            return None
        x, y = self.map_to_image(self._mouse)
        return QPoint(int(x // 1), int(y // 1))
