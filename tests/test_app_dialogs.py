"""Around the editor: start-up, About, Settings, recent files, model import, folder order."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest
from app_fakes import InstantBackend, make_window, write_photo
from PySide6.QtWidgets import QApplication, QDialog

pytest.importorskip("pytestqt")


def test_app_starts_with_a_window_and_without_torch(tmp_path):
    """`bgeraser PHOTO`: the window is shown before any model code is imported."""
    photo = write_photo(tmp_path / "p.png")
    code = textwrap.dedent(
        f"""
        import sys
        from PySide6.QtWidgets import QApplication
        from bgeraser_gui import app
        seen = {{}}
        def fake_exec(*_):
            windows = [w for w in QApplication.topLevelWidgets() if w.objectName() == "mainWindow"]
            seen["visible"] = bool(windows) and windows[0].isVisible()
            seen["torch"] = "torch" in sys.modules
            for w in windows:
                w.close()
            return 0
        QApplication.exec = fake_exec
        code = app.main(["bgeraser", "--settings", {str(tmp_path / "s.ini")!r}, {str(photo)!r}])
        print(code, seen["visible"], seen["torch"])
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=120,
        env={**__import__("os").environ, "QT_QPA_PLATFORM": "offscreen"},
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["0", "True", "False"]


def test_version_flag_prints_the_package_version(capsys):
    from bgeraser_gui import __version__
    from bgeraser_gui.app import main

    with pytest.raises(SystemExit) as exit_info:
        main(["bgeraser", "--version"])
    assert exit_info.value.code == 0
    assert __version__ in capsys.readouterr().out


def _open_dialog(qtbot, window, action_id, cls):
    window.actions_.action(action_id).trigger()
    found = []

    def visible() -> bool:
        found[:] = [
            w for w in QApplication.topLevelWidgets() if isinstance(w, cls) and w.isVisible()
        ]
        return bool(found)

    qtbot.waitUntil(visible)
    return found[0]


def test_about_shows_the_version_and_the_model_licence(qtbot, tmp_path):
    from bgeraser_gui import __version__
    from bgeraser_gui.gui.about_dialog import AboutDialog

    window = make_window(qtbot, tmp_path / "s.ini", {"isnet-general-use": InstantBackend()})
    dialog = _open_dialog(qtbot, window, "about", AboutDialog)
    text = dialog.plain_text()
    assert __version__ in text
    assert "Apache-2.0" in text  # ISNet general-use's licence, from the registry
    dialog.close()


def test_about_marks_an_unregistered_model_file_as_unknown_licence(qtbot, tmp_path):
    from bgeraser_gui.gui.about_dialog import AboutDialog

    model = str(tmp_path / "mystery.onnx")
    window = make_window(qtbot, tmp_path / "s.ini", {model: InstantBackend()})
    dialog = _open_dialog(qtbot, window, "about", AboutDialog)
    assert "mystery.onnx (model file): unknown" in dialog.plain_text()
    dialog.close()


def test_settings_dialog_persists_device_and_export_defaults(qtbot, tmp_path):
    from bgeraser_gui.gui.settings import AppSettings
    from bgeraser_gui.gui.settings_dialog import SettingsDialog

    window = make_window(qtbot, tmp_path / "s.ini", {"fake": InstantBackend()})
    dialog = _open_dialog(qtbot, window, "settings", SettingsDialog)
    dialog.device_combo.setCurrentText("cpu")
    dialog.format_combo.setCurrentText("webp")
    dialog.cache_edit.setText(str(tmp_path / "models"))
    dialog.done(QDialog.DialogCode.Accepted)
    again = AppSettings(tmp_path / "s.ini")
    assert again.device == "cpu"
    assert again.export_defaults()["format"] == "webp"
    assert again.model_folder == str(tmp_path / "models")
    import os

    # the folder reaches the pipelines through the settings, not the process environment
    assert os.environ.get("BGERASER_MODEL_DIR") != str(tmp_path / "models")


def test_recent_files_menu_reopens_a_photo(qtbot, tmp_path):
    window = make_window(qtbot, tmp_path / "s.ini", {"fake": InstantBackend()})
    first, second = write_photo(tmp_path / "one.png"), write_photo(tmp_path / "two.png", seed=2)
    for path in (first, second):
        window.open_paths([path])
        qtbot.waitUntil(
            lambda p=path: window.session.document is not None and window.session.document.path == p
        )
    window.recent_menu.aboutToShow.emit()
    entries = [a.text() for a in window.recent_menu.actions() if a.text()]
    assert entries[:2] == [str(second), str(first)]
    window.recent_menu.actions()[1].trigger()
    qtbot.waitUntil(lambda: window.session.document.path == first)


def test_import_model_file_adds_it_to_the_chooser_and_selects_it(
    qtbot, tmp_path, monkeypatch, isnet_quint8_path
):
    monkeypatch.setenv("BGERASER_MODEL_DIR", str(tmp_path / "cache"))
    window = make_window(qtbot, tmp_path / "s.ini", {"fake": InstantBackend()})
    window.session.inference._factory = lambda name, device, progress=None: InstantBackend(name)
    window.dialogs.import_model_file(isnet_quint8_path)
    qtbot.waitUntil(lambda: window.session.model != "fake", timeout=60_000)
    name = window.session.model
    assert window.model_chooser.currentData() == name
    assert window.reporter.history == []
    installed = list((tmp_path / "cache").rglob("*.onnx"))
    assert len(installed) == 1


def test_folder_order_is_natural_and_skips_other_files(tmp_path):
    from bgeraser_gui.gui.folder_nav import folder_images, neighbour

    for name in ("b10.jpg", "b2.png", "a.webp", "notes.txt", "B3.tif"):
        (tmp_path / name).write_bytes(b"x")
    names = [p.name for p in folder_images(tmp_path)]
    assert names == ["a.webp", "b2.png", "B3.tif", "b10.jpg"]
    assert neighbour(tmp_path / "b2.png", +1).name == "B3.tif"
    assert neighbour(tmp_path / "a.webp", -1) is None
    assert neighbour(tmp_path / "b10.jpg", +1) is None
    # the current file was deleted meanwhile: continue from where it would sort
    assert neighbour(tmp_path / "b5.png", +1).name == "b10.jpg"
    assert neighbour(tmp_path / "b5.png", -1).name == "B3.tif"


def test_dark_palette_is_dark_and_icons_are_redrawn_for_it(qtbot, tmp_path):
    from PySide6.QtGui import QPalette

    from bgeraser_gui.app import dark_palette

    app = QApplication.instance()
    window = make_window(qtbot, tmp_path / "s.ini", {"fake": InstantBackend()})
    light = app.palette()
    before = window.actions_.action("open").icon().pixmap(24, 24).toImage()
    try:
        app.setPalette(dark_palette())
        qtbot.waitUntil(
            lambda: window.actions_.action("open").icon().pixmap(24, 24).toImage() != before
        )
        window_colour = window.palette().color(QPalette.ColorRole.Window)
        text_colour = window.palette().color(QPalette.ColorRole.WindowText)
        assert window_colour.lightness() < 80 < text_colour.lightness()
    finally:
        app.setPalette(light)


def test_warm_up_loads_an_installed_model_but_never_downloads_at_start(
    qtbot, tmp_path, monkeypatch
):
    monkeypatch.setenv("BGERASER_MODEL_DIR", str(tmp_path / "empty-cache"))
    model_file = tmp_path / "mine.onnx"
    model_file.write_bytes(b"weights")
    window = make_window(qtbot, tmp_path / "s.ini", {str(model_file): InstantBackend()})
    window.session.warm_up()
    qtbot.waitUntil(lambda: window.status.device_label.text() == "Device: CPU")

    loads = []
    window.session.inference._factory = lambda name, device, progress=None: loads.append(name)
    window.session.set_model("isnet-general-use", rerun=False)  # not in the empty cache
    window.session.inference.warmup_runner.wait(2000)
    assert loads == []
    assert "fetched on first use" in window.statusBar().currentMessage()


def test_history_panel_lists_the_steps_and_jumps_back(qtbot, tmp_path):
    from PySide6.QtCore import Qt

    from bgeraser_gui.core.document import KEEP, TOUCHUPS, Rect

    window = make_window(qtbot, tmp_path / "s.ini", {"fake": InstantBackend()})
    window.open_paths([write_photo(tmp_path / "a.png", 20, 10)])
    qtbot.waitUntil(lambda: window.session.document is not None)
    doc = window.session.document
    qtbot.waitUntil(lambda: doc.model_mask is not None)
    with doc.transaction("Keep stroke") as tx:
        tx.touch(TOUCHUPS, Rect(15, 0, 20, 10))
        doc.touchups[:, 15:] = KEEP
    panel = window.history_panel
    rows = [panel.list.item(i).text() for i in range(panel.list.count())]
    assert rows == ["Opened image", "Segment (fake)", "Keep stroke"]
    assert panel.list.currentRow() == 2
    first = panel.list.visualItemRect(panel.list.item(0)).center()
    qtbot.mouseClick(panel.list.viewport(), Qt.MouseButton.LeftButton, pos=first)
    assert doc.model_mask is None and not doc.touchups.any()
    assert panel.list.currentRow() == 0
    window.actions_.action("redo").trigger()
    assert doc.model_mask is not None and panel.list.currentRow() == 1
    window._discard_confirmed = True
