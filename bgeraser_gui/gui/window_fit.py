"""Window geometry that fits the screen: the first start sizes the window to the available
screen area (at 1.5x scaling a 1600x1000 screen has only ~1066x666 logical pixels), and a saved
geometry is restored only when it still fits the screen it would open on."""

from __future__ import annotations

from PySide6.QtCore import QMargins, QRect, QSize, Qt
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QWidget

PREFERRED_SIZE = QSize(1280, 820)
SCREEN_SHARE = 0.92  # leave some of the desktop visible around a first-start window
# title bar and borders a window manager adds around a window not shown yet (Qt knows the
# real frame only once the window is on screen)
DECORATION = QMargins(4, 32, 4, 4)


def available_area(widget: QWidget) -> QRect:
    screen = widget.screen() or QGuiApplication.primaryScreen()
    return screen.availableGeometry()


def fits(frame: QRect, area: QRect) -> bool:
    return area.contains(frame)


def place_window(window: QWidget, saved_geometry: object | None) -> bool:
    """Restore `saved_geometry` if the window then fits its screen, else size and centre the
    window on the available area. True when the saved geometry was used."""
    if saved_geometry is not None and window.restoreGeometry(saved_geometry):
        if window.windowState() & (
            Qt.WindowState.WindowMaximized | Qt.WindowState.WindowFullScreen
        ):
            return True  # the window manager sizes it to the screen
        if window.isVisible():
            frame = window.frameGeometry()
        else:
            frame = window.geometry().marginsAdded(DECORATION)
        if fits(frame, available_area(window)):
            return True
    area = available_area(window)
    size = PREFERRED_SIZE.boundedTo(
        QSize(int(area.width() * SCREEN_SHARE), int(area.height() * SCREEN_SHARE))
    )
    size = size.expandedTo(window.minimumSize())
    window.resize(size)
    frame = window.frameGeometry()
    frame.moveCenter(area.center())
    window.move(max(area.left(), frame.left()), max(area.top(), frame.top()))
    return False
