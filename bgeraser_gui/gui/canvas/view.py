"""CanvasView: the zoomable, pannable photo canvas with mask view modes and touch-up brushes.

Mouse: left-drag paints with the current brush (one undo entry per stroke), Shift+click paints a
straight line from the previous stroke's last point, wheel zooms about the cursor, middle-drag
or Space+left-drag pans. Keys handled inside the widget only: Space (pan), arrows (pan) and
the peek key (default Backslash: show the original while held). Every other shortcut is a
QAction of the main window calling the public slots below.
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, QPointF, Qt, Signal
from PySide6.QtGui import (
    QColor,
    QKeyEvent,
    QMouseEvent,
    QPainter,
    QPaintEvent,
    QResizeEvent,
    QWheelEvent,
)
from PySide6.QtWidgets import QSizePolicy, QWidget

from bgeraser_gui.core.brush import BrushStroke, paint_line
from bgeraser_gui.core.document import Document, Rect
from bgeraser_gui.core.overlay_colour import AUTO, overlay_rgb
from bgeraser_gui.core.region_review import review_stops
from bgeraser_gui.core.uncertain_regions import RegionCursor
from bgeraser_gui.gui.canvas.overlay import (
    DisplayCache,
    ViewMode,
    checker_brush,
    paint_document,
)
from bgeraser_gui.gui.canvas.review_outline import RegionReviewSlots
from bgeraser_gui.gui.canvas.select_tool import SelectToolSlots
from bgeraser_gui.gui.canvas.tools import (
    BrushTool,
    BrushToolSlots,
    cursor_info_text,
    outline_bounds,
    paint_brush_cursor,
)
from bgeraser_gui.gui.canvas.view_modes import ViewModeSlots
from bgeraser_gui.gui.canvas.viewport import ARROW_STEPS, MAX_ZOOM, MIN_ZOOM, Viewport

__all__ = ["MAX_ZOOM", "MIN_ZOOM", "CanvasView", "ViewMode"]

ZOOM_STEP = 1.25
EMPTY_HINT = "Open a photo (Ctrl+O) or drop photos here"


class CanvasView(ViewModeSlots, SelectToolSlots, RegionReviewSlots, BrushToolSlots, QWidget):
    zoomChanged = Signal(float)  # zoom factor, 1.0 = 100 %
    strokeFinished = Signal(str)  # history label of the stroke just recorded
    selectClicked = Signal(int, int, bool)  # select tool: image x, y, positive (add)
    selectHoverRest = Signal(int, int, bool)  # select tool: the pointer rests; would add
    toolChanged = Signal(str)  # "keep" | "remove" | "refine" | "erase"
    brushChanged = Signal(int, float)  # size (image px), hardness 0..1
    smartBrushChanged = Signal(bool)  # edge-snapping keep/remove brush on/off
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
        self._view = Viewport()
        self._mode = ViewMode.OVERLAY
        self._overlay_opacity = 0.5
        self._overlay_choice = AUTO  # core.overlay_colour: AUTO, a colour name or "#rrggbb"
        self._matte_strokes = False  # keep / remove strokes mark their area for matting (M)
        self._matte_color = QColor(255, 255, 255)
        self._peek = False
        self._peek_key = Qt.Key.Key_Backslash
        self._tool = BrushTool()
        self._stroke: BrushStroke | None = None
        self._last_point: tuple[float, float] | None = None  # end of the previous stroke
        self._space_held = False
        self._pan_anchor: QPointF | None = None
        self._mouse: QPointF | None = None
        self._regions = RegionCursor(review_stops)
        self._shown_region = None  # (box, position, count) of the stop Tab showed last
        self._checker = checker_brush()
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
        self._regions = RegionCursor(review_stops)
        self._shown_region = None
        self._select_document_changed(new_photo=True)
        self._view.image_size = (0, 0) if doc is None else (doc.width, doc.height)
        if doc is not None:
            self._cache = DisplayCache(doc)
            self._cache.set_tint(overlay_rgb(self._overlay_choice, doc.rgb))
            doc.add_listener(self._on_document_changed)
        self._update_cursor()
        self._view.set_dpr(self.devicePixelRatioF())
        self.zoom_fit()
        self.update()

    def document(self) -> Document | None:
        return self._doc

    def refresh(self, rect: Rect | None = None) -> None:
        """Re-render `rect` (None = all) after the document changed without notifying."""
        self._on_document_changed(rect)

    def display_cache(self) -> DisplayCache | None:  # for tests and diagnostics
        return self._cache

    def _on_document_changed(self, rect: Rect | None) -> None:
        self._regions.invalidate()
        if self._cache is None:
            return
        self._emit_cursor_info()  # undo / refine changed the alpha under the mouse
        self._select_document_changed(new_photo=False)
        self._cache.invalidate(rect)
        if rect is None:
            self.update()
        else:
            self.update(self._view.widget_rect(rect))

    # -- coordinates, zoom and pan ------------------------------------------------------------
    def zoom(self) -> float:
        return self._view.zoom

    def map_to_image(self, pos: QPointF) -> tuple[float, float]:
        """Widget position -> image coordinates (pixel (i, j) spans [i, i+1) x [j, j+1))."""
        return self._view.to_image(pos)

    def map_from_image(self, x: float, y: float) -> QPointF:
        return self._view.to_widget(x, y)

    def set_zoom(self, zoom: float, anchor: QPointF | None = None) -> None:
        """Zoom to `zoom` (clamped to 5 %..3200 %) keeping the image point under `anchor` fixed."""
        anchor = QPointF(self.width() / 2, self.height() / 2) if anchor is None else anchor
        self._view.set_zoom(zoom, anchor)
        self._view_changed()

    def zoom_in(self) -> None:
        self.set_zoom(self._view.zoom * ZOOM_STEP)

    def zoom_out(self) -> None:
        self.set_zoom(self._view.zoom / ZOOM_STEP)

    def zoom_actual(self) -> None:
        """100 %: one image pixel per screen pixel (Ctrl+1)."""
        self.set_zoom(1.0)

    def zoom_fit(self) -> None:
        """Fit the whole image in the view (Ctrl+0); stays fitted while the window is resized."""
        self._view.zoom_to_fit()
        self._view_changed()

    def center_on(self, x: float, y: float) -> None:
        """Scroll so image point (x, y) is in the middle of the view."""
        self._view.center_on(x, y)
        self.update()

    def pan_by(self, dx: float, dy: float) -> None:
        self._view.pan_by(dx, dy)
        self.update()
        self._emit_cursor_info()

    def _view_changed(self) -> None:
        self.update()
        self.zoomChanged.emit(self._view.zoom)
        self._emit_cursor_info()  # Tab / zoom moved another pixel under the mouse

    def _emit_cursor_info(self) -> None:
        if self._doc is not None and self._mouse is not None:
            self.cursorInfo.emit(cursor_info_text(self._doc, *self.map_to_image(self._mouse)))

    # -- painting ----------------------------------------------------------------------------------
    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        exposed = event.rect()
        painter.fillRect(exposed, self.palette().window().color().darker(115))
        if self._cache is None:
            painter.setPen(self.palette().placeholderText().color())
            painter.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter, EMPTY_HINT)
        else:
            mode = ViewMode.ORIGINAL if self._peek else self._mode
            paint_document(
                painter,
                self._cache,
                self._view,
                mode,
                exposed,
                self._matte_color,
                self._checker,
                self._overlay_opacity,
            )
            if not self._peek:
                self._paint_region_outline(painter)
                self._paint_select_hover(painter)
        if self._mouse is not None and self._brush_cursor_visible():
            paint_brush_cursor(
                painter, self._mouse, self._screen_radius(), self._tool.name, self.smart_brush()
            )
        painter.end()

    def _screen_radius(self) -> float:
        return self._tool.settings.radius * self._view.scale

    def _brush_cursor_visible(self) -> bool:
        return self._doc is not None and self._pan_anchor is None and not self._space_held

    def _update_cursor(self) -> None:
        """Hands while panning; otherwise the painted brush outline is the cursor."""
        shape = Qt.CursorShape
        if self._pan_anchor is not None or self._space_held:
            self.setCursor(shape.ClosedHandCursor if self._pan_anchor else shape.OpenHandCursor)
        else:
            self.setCursor(shape.BlankCursor if self._doc is not None else shape.ArrowCursor)

    def set_matte_strokes(self, on: bool) -> None:
        """Keep / remove strokes paint "refine" (the matting decides inside) while on."""
        self._matte_strokes = bool(on)

    def _painting_tool(self) -> str:
        if self._matte_strokes and self._tool.name in ("keep", "remove"):
            return "refine"
        return self._tool.name

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
        if self._stroke is None and self._select_press(event):
            return
        if button != Qt.MouseButton.LeftButton or self._doc is None or self._stroke is not None:
            super().mousePressEvent(event)
            return
        point = self.map_to_image(pos)
        shift = bool(event.modifiers() & Qt.KeyboardModifier.ShiftModifier)
        if shift and self._last_point is not None:
            entry = paint_line(
                self._doc, self._painting_tool(), self._tool.settings, self._last_point, point
            )
            self._last_point = point
            if entry is not None:
                self.strokeFinished.emit(entry.label)
            return
        self._stroke = BrushStroke(self._doc, self._painting_tool(), self._tool.settings, point)

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
        self._select_hover(pos)
        self._emit_cursor_info()

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
        self.set_zoom(self._view.zoom * ZOOM_STEP ** (delta / 120.0), event.position())
        event.accept()

    def leaveEvent(self, event) -> None:
        if self._mouse is not None:
            old, self._mouse = self._mouse, None
            self.update(outline_bounds(old, self._screen_radius()))
        self.cursorInfo.emit("")
        super().leaveEvent(event)

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if not self._own_key(event, True):
            super().keyPressEvent(event)

    def keyReleaseEvent(self, event: QKeyEvent) -> None:
        if not self._own_key(event, False):
            super().keyReleaseEvent(event)

    def _own_key(self, event: QKeyEvent, pressed: bool) -> bool:
        """Space (hold to pan), the peek key (hold to see the original), arrows (pan by an
        eighth of the view; with Shift by half)."""
        key = event.key()
        if key in ARROW_STEPS:
            if pressed and self._doc is not None:
                fraction = 0.5 if event.modifiers() & Qt.KeyboardModifier.ShiftModifier else 0.125
                sx, sy = ARROW_STEPS[key]
                self.pan_by(-sx * self.width() * fraction, -sy * self.height() * fraction)
            return True
        if key not in (Qt.Key.Key_Space, self._peek_key):
            return False
        if not event.isAutoRepeat():
            if key == Qt.Key.Key_Space:
                self._space_held = pressed
                self._update_cursor()
                self.update()
            else:
                self.set_peek_original(pressed)
        return True

    def changeEvent(self, event: QEvent) -> None:
        if event.type() == QEvent.Type.DevicePixelRatioChange:  # moved to another screen
            self._view.set_dpr(self.devicePixelRatioF())
            self._view_changed()
        super().changeEvent(event)

    def resizeEvent(self, event: QResizeEvent) -> None:
        fitted = self._view.fit
        self._view.set_dpr(self.devicePixelRatioF())
        self._view.resize(self.width(), self.height())
        if fitted:
            self.zoomChanged.emit(self._view.zoom)
        super().resizeEvent(event)

    def _repaint_cursor(self, old: QPointF | None, new: QPointF) -> None:
        r = self._screen_radius()
        self.update(outline_bounds(new, r).united(outline_bounds(old or new, r)))
