"""QIcons for the editor, loaded from the resource module `bgeraser_gui.resources`.

    from bgeraser_gui.gui.icons import app_icon, icon
    action.setIcon(icon("keep"))
    app.setWindowIcon(app_icon())

Tool SVGs are drawn with one neutral ink colour (`resources.INK_COLOUR`). Under a dark palette the
ink is swapped for the palette's text colour so strokes stay visible; accent colours (green keep,
red remove, amber refine) are left as drawn. Icons are rendered at several pixel sizes (including
2x for HiDPI screens) so Qt never has to upscale; Qt derives the disabled look from them.
Needs a QGuiApplication. Nothing Qt is cached at module level, so no pixmap outlives the app.
"""

from __future__ import annotations

from functools import lru_cache

from PySide6.QtCore import QByteArray, Qt
from PySide6.QtGui import QColor, QGuiApplication, QIcon, QPainter, QPalette, QPixmap
from PySide6.QtSvg import QSvgRenderer

from bgeraser_gui import resources

RENDER_SIZES: tuple[int, ...] = (16, 20, 24, 32, 40, 48, 64, 96)


def icon(name: str, ink: QColor | str | None = None) -> QIcon:
    """The declared tool icon `name` (see `resources.ICON_NAMES`) as a QIcon.

    `ink` overrides the stroke colour; by default it follows the application palette.
    Raises KeyError for an undeclared name and ValueError when the SVG cannot be parsed.
    """
    ink_hex = _ink_for_palette() if ink is None else QColor(ink).name()
    renderer = QSvgRenderer(QByteArray(_svg_source(name, ink_hex)))
    if not renderer.isValid():
        raise ValueError(f"icon {name!r}: Qt could not parse {resources.icon_path(name)}")
    result = QIcon()
    for size in RENDER_SIZES:
        result.addPixmap(_render(renderer, size))
    return result


def app_icon() -> QIcon:
    """The application icon with every pre-rendered PNG size (for window and taskbar)."""
    result = QIcon()
    for size in resources.APP_ICON_SIZES:
        result.addFile(str(resources.app_icon_png(size)))
    return result


def _ink_for_palette() -> str:
    """The designed ink on light palettes; the palette's text colour on dark ones."""
    app = QGuiApplication.instance()
    if app is None:
        return resources.INK_COLOUR
    palette = app.palette()
    if palette.color(QPalette.ColorRole.Window).lightness() >= 128:
        return resources.INK_COLOUR
    return palette.color(QPalette.ColorRole.WindowText).name()


@lru_cache(maxsize=128)
def _svg_source(name: str, ink_hex: str) -> bytes:
    text = resources.icon_path(name).read_text(encoding="utf-8")
    if ink_hex.lower() != resources.INK_COLOUR:
        text = text.replace(resources.INK_COLOUR, ink_hex)
    return text.encode("utf-8")


def _render(renderer: QSvgRenderer, size: int) -> QPixmap:
    pixmap = QPixmap(size, size)
    pixmap.fill(Qt.GlobalColor.transparent)
    painter = QPainter(pixmap)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    renderer.render(painter)
    painter.end()
    return pixmap
