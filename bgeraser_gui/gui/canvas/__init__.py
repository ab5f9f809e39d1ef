"""The editor canvas: photo + mask view modes, zoom/pan, touch-up brushes (see view.py)."""

from bgeraser_gui.gui.canvas.overlay import VIEW_MODES, ViewMode
from bgeraser_gui.gui.canvas.tools import TOOLS
from bgeraser_gui.gui.canvas.view import CanvasView
from bgeraser_gui.gui.canvas.viewport import MAX_ZOOM, MIN_ZOOM

__all__ = ["MAX_ZOOM", "MIN_ZOOM", "TOOLS", "VIEW_MODES", "CanvasView", "ViewMode"]
