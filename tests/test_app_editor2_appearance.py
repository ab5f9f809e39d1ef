"""Issue 19 (6, 7, 9): overlay colour (chosen or contrasting), theme choice, window fitted to
the screen."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
from app_fakes import InstantBackend, make_window
from PySide6.QtCore import QByteArray, QRect
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import QApplication

from bgeraser_gui.core.document import Document
from bgeraser_gui.core.overlay_colour import OVERLAY_COLOURS, contrasting_colour
from bgeraser_gui.gui.canvas import CanvasView, ViewMode
from bgeraser_gui.gui.window_fit import available_area

pytest.importorskip("pytestqt")


def _red_subject(h: int = 60, w: int = 80) -> np.ndarray:
    rgb = np.full((h, w, 3), 120, np.uint8)  # grey background
    rgb[10:50, 10:70] = (210, 30, 25)  # a red bike frame
    return rgb


def test_the_automatic_overlay_colour_avoids_the_photos_own_hues():
    assert contrasting_colour(np.full((40, 40, 3), 128, np.uint8)) == OVERLAY_COLOURS["red"]
    assert contrasting_colour(_red_subject()) != OVERLAY_COLOURS["red"]
    greenish = np.zeros((40, 40, 3), np.uint8)
    greenish[..., 1] = 200
    greenish[:20] = (220, 0, 0)  # half red, half green
    assert contrasting_colour(greenish) not in (OVERLAY_COLOURS["red"], OVERLAY_COLOURS["green"])


def _tint(view: CanvasView) -> tuple[int, int, int]:
    image = view.display_cache().image(ViewMode.OVERLAY)
    colour = image.pixelColor(2, 2)  # background: removed, fully tinted
    return colour.red(), colour.green(), colour.blue()


def test_the_canvas_tints_removed_areas_in_the_chosen_or_contrasting_colour(qtbot):
    view = CanvasView()
    qtbot.addWidget(view)
    mask = np.zeros((60, 80), np.float32)
    mask[10:50, 10:70] = 1.0
    view.set_document(Document(SimpleNamespace(rgb=_red_subject(), path=None), model_mask=mask))
    auto = _tint(view)
    assert auto != (255, 0, 0) and auto == contrasting_colour(_red_subject())
    view.set_overlay_colour("blue")
    assert _tint(view) == OVERLAY_COLOURS["blue"]
    view.set_overlay_colour("#00ff00")
    assert _tint(view) == (0, 255, 0)
    view.set_overlay_colour("red")
    assert _tint(view) == (255, 0, 0)


def test_settings_choose_the_theme_and_overlay_colour(qtbot, tmp_path):
    from bgeraser_gui.gui.appearance import apply_appearance, apply_theme
    from bgeraser_gui.gui.settings_dialog import SettingsDialog

    window = make_window(qtbot, tmp_path / "s.ini", {"fake": InstantBackend()})
    dialog = SettingsDialog(window.settings, window)
    qtbot.addWidget(dialog)
    assert dialog.theme_combo.currentData() == "system"
    assert dialog.overlay_combo.currentData() == "auto"
    dialog.theme_combo.setCurrentIndex(dialog.theme_combo.findData("dark"))
    dialog.overlay_combo.setCurrentIndex(dialog.overlay_combo.findData("magenta"))
    dialog.apply()
    assert window.settings.theme == "dark" and window.settings.overlay_colour == "magenta"
    app = QApplication.instance()
    old_palette = QPalette(app.palette())
    try:
        apply_appearance(window, window.settings)
        assert app.palette().color(QPalette.ColorRole.Window).lightness() < 80
        assert window.canvas.overlay_colour() == "magenta"
        window.settings.theme = "light"
        apply_theme(app, window.settings.theme)
        assert app.palette().color(QPalette.ColorRole.Window).lightness() > 160
    finally:
        app.setPalette(old_palette)


def test_the_window_fits_the_available_screen_and_ignores_a_saved_geometry_too_big(qtbot, tmp_path):
    window = make_window(qtbot, tmp_path / "s.ini", {"fake": InstantBackend()})
    area = available_area(window)
    assert area.contains(window.frameGeometry()), (window.frameGeometry(), area)
    # a geometry saved on a bigger screen (1919 x 1229, as at 1.5x on 1600 x 1000)
    window.setGeometry(QRect(area.left(), area.top(), 1919, 1229))
    too_big = QByteArray(window.saveGeometry())
    window.close()
    second = make_window_with_geometry(qtbot, tmp_path / "s2.ini", too_big)
    assert available_area(second).contains(second.frameGeometry())
    # a geometry that fits is restored as it was
    second.setGeometry(QRect(area.left() + 10, area.top() + 40, 400, 300))
    fitting = QByteArray(second.saveGeometry())
    second.close()
    third = make_window_with_geometry(qtbot, tmp_path / "s3.ini", fitting)
    assert third.geometry().size() == second.geometry().size()


def make_window_with_geometry(qtbot, settings_path, geometry: QByteArray):
    from bgeraser_gui.gui.settings import AppSettings

    settings = AppSettings(settings_path)
    settings.set_window_state(geometry, None)
    settings.sync()
    return make_window(qtbot, settings_path, {"fake": InstantBackend()})
