"""The brush tool's state (which brush or the select tool, size, hardness) and its on-screen
cursor outline."""

from __future__ import annotations

from dataclasses import replace

from PySide6.QtCore import QPointF, QRect, QRectF, Qt, SignalInstance
from PySide6.QtGui import QColor, QPainter, QPen

from bgeraser_gui.core.brush import MAX_SIZE, MIN_SIZE, TOOL_VALUES, BrushSettings
from bgeraser_gui.core.document import Document

SELECT_TOOL = "select"  # the select-object tool (clicks, see select_tool.py), not a brush
TOOLS = ("keep", "remove", "refine", "erase", SELECT_TOOL)
TOOL_COLORS = {
    SELECT_TOOL: QColor(0, 200, 255),
    "keep": QColor(40, 200, 80),
    "remove": QColor(230, 50, 50),
    "refine": QColor(255, 200, 0),
    "erase": QColor(200, 200, 200),
}
MIN_OUTLINE_PX = 4.0  # below this on-screen radius only the crosshair is drawn


class BrushTool:
    """Current brush: tool name ("keep" | "remove" | "refine" | "erase") and BrushSettings."""

    def __init__(self) -> None:
        self.name = "keep"
        self.settings = BrushSettings()
        self._last_keep_or_remove = "keep"

    def set_tool(self, name: str) -> bool:
        """Select a tool; True if it changed. Raises ValueError for an unknown name."""
        if name not in TOOL_VALUES and name != SELECT_TOOL:
            raise ValueError(f"unknown tool {name!r}; expected one of {TOOLS}")
        if name in ("keep", "remove"):
            self._last_keep_or_remove = name
        changed = name != self.name
        self.name = name
        return changed

    def swap_keep_remove(self) -> str:
        """X: keep <-> remove (from refine/erase, back to the last keep/remove brush's opposite)."""
        if self.name == "keep":
            target = "remove"
        elif self.name == "remove":
            target = "keep"
        else:
            target = "remove" if self._last_keep_or_remove == "keep" else "keep"
        self.set_tool(target)
        return target

    def change_size(self, step: int) -> bool:
        new = self.settings.resized(step)
        changed = new.size != self.settings.size
        self.settings = new
        return changed

    def change_hardness(self, step: int) -> bool:
        new = self.settings.hardened(step)
        changed = new.hardness != self.settings.hardness
        self.settings = new
        return changed

    def set_size(self, size: int) -> None:
        size = int(min(max(size, MIN_SIZE), MAX_SIZE))
        self.settings = replace(self.settings, size=size)

    def set_hardness(self, hardness: float) -> None:
        self.settings = replace(self.settings, hardness=float(hardness)).hardened(0)

    def set_smart(self, smart: bool) -> bool:
        changed = smart != self.settings.smart
        self.settings = replace(self.settings, smart=bool(smart))
        return changed


class BrushToolSlots:
    """The canvas's public brush API (mixed into CanvasView, which owns the signals)."""

    _tool: BrushTool
    toolChanged: SignalInstance
    brushChanged: SignalInstance
    smartBrushChanged: SignalInstance

    _mouse: QPointF | None

    def _update_brush_cursor(self) -> None:
        """Repaint so the outline shows the new brush (only while the mouse is over the canvas)."""
        if self._mouse is not None:
            self.update()  # type: ignore[attr-defined]  # QWidget.update of the canvas

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

    def smart_brush(self) -> bool:
        return self._tool.settings.smart

    def set_smart_brush(self, smart: bool) -> None:
        """Keep/remove strokes snap to colour edges (see core.brush.smart_footprint)."""
        if self._tool.set_smart(smart):
            self.smartBrushChanged.emit(bool(smart))
        self._update_brush_cursor()

    def toggle_smart_brush(self) -> None:
        self.set_smart_brush(not self._tool.settings.smart)

    def _brush_changed(self) -> None:
        s = self._tool.settings
        self.brushChanged.emit(s.size, s.hardness)
        self._update_brush_cursor()


def outline_bounds(center: QPointF, screen_radius: float) -> QRect:
    """Widget rect to repaint for the cursor outline at `center`."""
    r = max(screen_radius, 8.0) + 3.0
    return QRectF(center.x() - r, center.y() - r, 2 * r, 2 * r).toAlignedRect()


def paint_brush_cursor(
    painter: QPainter, center: QPointF, screen_radius: float, tool: str, smart: bool = False
) -> None:
    """Brush outline at its true on-screen size (black + white for contrast) and a crosshair;
    the white outline is dashed while the smart (edge-snapping) brush is on."""
    painter.save()
    painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
    painter.setBrush(Qt.BrushStyle.NoBrush)
    if screen_radius >= MIN_OUTLINE_PX and tool != SELECT_TOOL:
        painter.setPen(QPen(QColor(0, 0, 0, 200), 3.0))
        painter.drawEllipse(center, screen_radius, screen_radius)
        white = QPen(QColor(255, 255, 255, 230), 1.0)
        if smart:
            white.setStyle(Qt.PenStyle.DashLine)
        painter.setPen(white)
        painter.drawEllipse(center, screen_radius, screen_radius)
    painter.setPen(QPen(TOOL_COLORS.get(tool, QColor("white")), 1.5))
    arm = 4.0
    painter.drawLine(QPointF(center.x() - arm, center.y()), QPointF(center.x() + arm, center.y()))
    painter.drawLine(QPointF(center.x(), center.y() - arm), QPointF(center.x(), center.y() + arm))
    painter.restore()


def cursor_info_text(doc: Document, x: float, y: float) -> str:
    """Status text for image point (x, y): pixel position and alpha; "" outside the image."""
    ix, iy = int(x // 1), int(y // 1)
    if not (0 <= ix < doc.width and 0 <= iy < doc.height):
        return ""
    if not doc.has_mask:
        return f"x {ix}, y {iy}   no mask yet"  # not "alpha 0 %": nothing is cut out yet
    return f"x {ix}, y {iy}   alpha {float(doc.alpha()[iy, ix]) * 100.0:.0f} %"
