"""The brush tool's state (which brush, size, hardness) and its on-screen cursor outline."""

from __future__ import annotations

from PySide6.QtCore import QPointF, QRect, QRectF, Qt
from PySide6.QtGui import QColor, QPainter, QPen

from bgeraser_gui.core.brush import MAX_SIZE, MIN_SIZE, TOOL_VALUES, BrushSettings

TOOLS = ("keep", "remove", "refine", "erase")
TOOL_COLORS = {
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
        """Select a brush; True if it changed. Raises ValueError for an unknown name."""
        if name not in TOOL_VALUES:
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
        self.settings = BrushSettings(size, self.settings.hardness)

    def set_hardness(self, hardness: float) -> None:
        self.settings = BrushSettings(self.settings.size, float(hardness)).hardened(0)


def outline_bounds(center: QPointF, screen_radius: float) -> QRect:
    """Widget rect to repaint for the cursor outline at `center`."""
    r = max(screen_radius, 8.0) + 3.0
    return QRectF(center.x() - r, center.y() - r, 2 * r, 2 * r).toAlignedRect()


def paint_brush_cursor(painter: QPainter, center: QPointF, screen_radius: float, tool: str) -> None:
    """Brush outline at its true on-screen size (black + white for contrast) and a crosshair."""
    painter.save()
    painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
    painter.setBrush(Qt.BrushStyle.NoBrush)
    if screen_radius >= MIN_OUTLINE_PX:
        for colour, width in ((QColor(0, 0, 0, 200), 3.0), (QColor(255, 255, 255, 230), 1.0)):
            painter.setPen(QPen(colour, width))
            painter.drawEllipse(center, screen_radius, screen_radius)
    painter.setPen(QPen(TOOL_COLORS.get(tool, QColor("white")), 1.5))
    arm = 4.0
    painter.drawLine(QPointF(center.x() - arm, center.y()), QPointF(center.x() + arm, center.y()))
    painter.drawLine(QPointF(center.x(), center.y() - arm), QPointF(center.x(), center.y() + arm))
    painter.restore()
