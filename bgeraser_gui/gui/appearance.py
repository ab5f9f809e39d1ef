"""Look of the app: light / dark / system theme (a Fusion palette) and the overlay colour choices
offered in Settings."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QGuiApplication, QPalette
from PySide6.QtWidgets import QApplication

from bgeraser_gui.core.overlay_colour import AUTO, OVERLAY_COLOURS

THEMES = {"system": "Follow the system", "light": "Light", "dark": "Dark"}
OVERLAY_CHOICES = {AUTO: "Automatic (stands out from the photo)"} | {
    name: name.capitalize() for name in OVERLAY_COLOURS
}


def dark_palette() -> QPalette:
    p = QPalette()
    base, window, text = QColor(30, 31, 34), QColor(43, 45, 48), QColor(223, 225, 229)
    accent = QColor(74, 144, 226)
    roles = {
        QPalette.ColorRole.Window: window,
        QPalette.ColorRole.WindowText: text,
        QPalette.ColorRole.Base: base,
        QPalette.ColorRole.AlternateBase: window,
        QPalette.ColorRole.ToolTipBase: window,
        QPalette.ColorRole.ToolTipText: text,
        QPalette.ColorRole.PlaceholderText: QColor(140, 143, 150),
        QPalette.ColorRole.Text: text,
        QPalette.ColorRole.Button: window,
        QPalette.ColorRole.ButtonText: text,
        QPalette.ColorRole.BrightText: QColor(255, 90, 90),
        QPalette.ColorRole.Highlight: accent,
        QPalette.ColorRole.HighlightedText: QColor(255, 255, 255),
        QPalette.ColorRole.Link: accent,
    }
    for role, color in roles.items():
        p.setColor(role, color)
    disabled = QColor(120, 122, 128)
    for role in (
        QPalette.ColorRole.WindowText,
        QPalette.ColorRole.Text,
        QPalette.ColorRole.ButtonText,
    ):
        p.setColor(QPalette.ColorGroup.Disabled, role, disabled)
    return p


def wants_dark(theme: str) -> bool:
    if theme in ("light", "dark"):
        return theme == "dark"
    return QGuiApplication.styleHints().colorScheme() == Qt.ColorScheme.Dark


def apply_theme(app: QApplication, theme: str) -> None:
    """Light, dark, or whichever the system uses ("system"; call again when it switches)."""
    app.setPalette(dark_palette() if wants_dark(theme) else app.style().standardPalette())


def apply_appearance(window, settings) -> None:
    """After Settings were changed: the theme to the app, the overlay colour to the canvas."""
    app = QApplication.instance()
    if app is not None:
        apply_theme(app, settings.theme)
    window.canvas.set_overlay_colour(settings.overlay_colour)
