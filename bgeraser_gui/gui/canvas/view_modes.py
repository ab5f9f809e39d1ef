"""CanvasView's view modes: overlay / checker / colour / mask / original, the overlay's
opacity and colour, the matte colour, and hold-to-peek at the original."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor

from bgeraser_gui.core.overlay_colour import overlay_rgb
from bgeraser_gui.gui.canvas.overlay import VIEW_MODES, ViewMode


class ViewModeSlots:
    """Mixin for CanvasView (uses its _mode, _cache, _doc, _peek... attributes)."""

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
        self.update()

    def overlay_colour(self) -> str:
        return self._overlay_choice

    def set_overlay_colour(self, choice: str) -> None:
        """Tint removed areas in `choice`: AUTO (contrasting with the photo), a name, "#rrggbb"."""
        self._overlay_choice = choice
        if self._cache is not None:
            self._cache.set_tint(overlay_rgb(choice, self._doc.rgb))
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
