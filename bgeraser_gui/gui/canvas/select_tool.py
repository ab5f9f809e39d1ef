"""The select-object tool on the canvas (W): left click adds the object under the pointer,
Alt+click or right click removes it; hovering outlines roughly what a click would change.

The canvas only reports clicks (`selectClicked(x, y, positive)` in image pixels); the main
window hands them to `services.select`, which computes them on a worker. The hover outline is
`core.click_preview`'s cheap guess, drawn dashed: green where a click would add, red where it
would remove. When the pointer rests (`REST_MS`) the canvas reports that too
(`selectHoverRest`): the service then runs the model on the crops a click there would need and
works out what the click would change; `show_click_preview` replaces the guess by that exact
answer, drawn solid and tinted (the sign that a click there now answers at once).
"""

from __future__ import annotations

from PySide6.QtCore import QPointF, Qt, QTimer, SignalInstance
from PySide6.QtGui import QColor, QMouseEvent, QPainter, QPainterPath, QPen, QPolygonF

from bgeraser_gui.core.click_preview import HoverPreview
from bgeraser_gui.core.document import Document

SELECT_TOOL = "select"
ADD_COLOR = QColor(40, 220, 90)
REMOVE_COLOR = QColor(240, 60, 60)
REST_MS = 250  # the pointer resting this long over the photo starts the crops' model runs


def click_polarity(event: QMouseEvent) -> bool | None:
    """True = add (left click), False = remove (right click, Alt+left), None = not a click."""
    button = event.button()
    if button == Qt.MouseButton.RightButton:
        return False
    if button == Qt.MouseButton.LeftButton:
        return not (event.modifiers() & Qt.KeyboardModifier.AltModifier)
    return None


class SelectToolSlots:
    """Select-tool behaviour of the canvas (mixed into CanvasView, which owns the signal)."""

    _doc: Document | None
    selectClicked: SignalInstance
    selectHoverRest: SignalInstance
    _rest_timer: QTimer | None = None
    _rest_point: tuple[int, int, bool] | None = None
    _hover_preview: HoverPreview | None = None
    _hover_stale = True  # the mask changed since the preview was built
    _hover_outline: tuple[list, bool] | None = None
    _hover_exact = False  # the outline is the worker's exact answer, not the guess

    def select_tool_active(self) -> bool:
        return self.tool() == SELECT_TOOL and self._doc is not None  # type: ignore[attr-defined]

    def hover_outline(self) -> tuple[list, bool] | None:
        """(polygons in image pixels, adds) the hover outline shows now, or None."""
        return self._hover_outline

    def hover_outline_exact(self) -> bool:
        """True while the outline shows what a click will do (not the cheap guess)."""
        return self._hover_exact and self._hover_outline is not None

    def show_click_preview(self, x: int, y: int, polygons: list, adds: bool) -> bool:
        """Show what a click at (x, y) would change, if the pointer still rests there."""
        rest = self._rest_point
        if rest is None or rest[:2] != (x, y) or not self.select_tool_active():
            return False
        self._hover_outline, self._hover_exact = (polygons, adds), True
        self.update()  # type: ignore[attr-defined]
        return True

    def _select_press(self, event: QMouseEvent) -> bool:
        """Report a select click; True when the event was the select tool's."""
        if not self.select_tool_active():
            return False
        positive = click_polarity(event)
        if positive is None:
            return False
        doc = self._doc
        assert doc is not None
        x, y = self.map_to_image(event.position())  # type: ignore[attr-defined]
        if 0 <= x < doc.width and 0 <= y < doc.height:
            self.selectClicked.emit(int(x), int(y), positive)
        self._set_hover_outline(None)
        self._rest_point = None
        return True

    def _select_hover(self, pos: QPointF) -> None:
        if not self.select_tool_active():
            self._set_hover_outline(None)
            return
        doc = self._doc
        assert doc is not None
        if self._hover_preview is None:
            self._hover_preview = HoverPreview(doc.rgb, doc.alpha())
        elif self._hover_stale:
            self._hover_preview.set_mask(doc.alpha())
        self._hover_stale = False
        x, y = self.map_to_image(pos)  # type: ignore[attr-defined]
        outline = self._hover_preview.outline(x, y)
        self._set_hover_outline(outline)
        if 0 <= x < doc.width and 0 <= y < doc.height:
            adds = outline[1] if outline is not None else doc.alpha()[int(y), int(x)] < 0.5
            self._rest_point = (int(x), int(y), bool(adds))
            self._rest_timer_started()

    def _rest_timer_started(self) -> None:
        if self._rest_timer is None:
            self._rest_timer = QTimer(self)  # type: ignore[arg-type]
            self._rest_timer.setSingleShot(True)
            self._rest_timer.setInterval(REST_MS)
            self._rest_timer.timeout.connect(self._pointer_rested)
        self._rest_timer.start()

    def _pointer_rested(self) -> None:
        if self._rest_point is not None and self.select_tool_active():
            self.selectHoverRest.emit(*self._rest_point)

    def _select_document_changed(self, new_photo: bool) -> None:
        """The mask changed (or another photo is shown): the outline is out of date."""
        if new_photo:
            self._hover_preview = None
        self._hover_stale = True
        self._set_hover_outline(None)

    def _set_hover_outline(self, outline: tuple[list, bool] | None) -> None:
        if outline is None and self._hover_outline is None:
            return
        self._hover_outline, self._hover_exact = outline, False
        self.update()  # type: ignore[attr-defined]

    def _paint_select_hover(self, painter: QPainter) -> None:
        if self._hover_outline is None or not self.select_tool_active():
            return
        polygons, adds = self._hover_outline
        painter.save()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        painter.setBrush(Qt.BrushStyle.NoBrush)
        to_widget = self.map_from_image  # type: ignore[attr-defined]
        shapes = [QPolygonF([to_widget(float(x), float(y)) for x, y in p]) for p in polygons]
        colour = ADD_COLOR if adds else REMOVE_COLOR
        if self._hover_exact:  # what the click will do: tinted, solid outline
            path = QPainterPath()
            path.setFillRule(Qt.FillRule.WindingFill)
            for shape in shapes:
                path.addPolygon(shape)
                path.closeSubpath()
            painter.fillPath(path, QColor(colour.red(), colour.green(), colour.blue(), 70))
        painter.setPen(QPen(QColor(0, 0, 0, 160), 3.0))
        for shape in shapes:
            painter.drawPolygon(shape)
        pen = QPen(colour, 2.0 if self._hover_exact else 1.5)
        if not self._hover_exact:  # the guess: dashed
            pen.setStyle(Qt.PenStyle.DashLine)
        painter.setPen(pen)
        for shape in shapes:
            painter.drawPolygon(shape)
        painter.restore()
