"""Export from the window: Ctrl+E dialog, Ctrl+Shift+E repeat, the files written."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from app_fakes import InstantBackend, activate, make_window, write_photo
from PIL import Image
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QDialogButtonBox

pytest.importorskip("pytestqt")


@pytest.fixture
def window(qtbot, tmp_path):
    w = make_window(qtbot, tmp_path / "s.ini", {"fake": InstantBackend()})
    w.open_paths([write_photo(tmp_path / "photo.png", 40, 30)])
    qtbot.waitUntil(lambda: w.session.document is not None)
    qtbot.waitUntil(lambda: w.session.document.model_mask is not None)
    return w


def export_dialog(qtbot):
    from bgeraser_gui.gui.export_dialog import ExportDialog

    found = []
    qtbot.waitUntil(
        lambda: bool(
            found.extend(
                w
                for w in QApplication.topLevelWidgets()
                if isinstance(w, ExportDialog) and w.isVisible()
            )
            or found
        )
    )
    return found[0]


def test_ctrl_e_dialog_writes_the_expected_png_and_ctrl_shift_e_repeats(qtbot, window, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    qtbot.keyClick(window.canvas, Qt.Key.Key_E, Qt.KeyboardModifier.ControlModifier)
    dialog = export_dialog(qtbot)
    dialog.folder_edit.setText(str(out))
    assert dialog.preview_label.text() == "photo_cutout.png"
    save = dialog.findChild(QDialogButtonBox).button(QDialogButtonBox.StandardButton.Save)
    assert save.isEnabled()
    with qtbot.waitSignal(window.session.exported, timeout=10_000) as blocker:
        qtbot.mouseClick(save, Qt.MouseButton.LeftButton)
    written = Path(blocker.args[0])
    assert written == out / "photo_cutout.png"
    with Image.open(written) as im:
        assert im.mode == "RGBA" and im.size == (40, 30)
        alpha = np.asarray(im)[..., 3]
    doc = window.session.document
    np.testing.assert_array_equal(alpha, doc.alpha_u8())
    assert alpha[:, :20].min() == 255 and alpha[:, 20:].max() == 0

    # Ctrl+Shift+E: same settings and folder, no dialog; the existing file is kept (numbered)
    activate(qtbot, window)
    with qtbot.waitSignal(window.session.exported, timeout=10_000) as blocker:
        qtbot.keyClick(
            window.canvas,
            Qt.Key.Key_E,
            Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier,
        )
    assert Path(blocker.args[0]) == out / "photo_cutout-2.png"
    assert sorted(p.name for p in out.glob("*.png")) == ["photo_cutout-2.png", "photo_cutout.png"]


def test_export_dialog_options_become_export_options(qtbot, window, tmp_path):
    from bgeraser_gui.core.compose import ExportOptions
    from bgeraser_gui.gui.export_dialog import ExportDialog
    from bgeraser_gui.gui.settings import export_options_from_dict, export_options_to_dict

    dialog = ExportDialog(ExportOptions(), str(tmp_path), window.session.document.path, window)
    qtbot.addWidget(dialog)
    dialog.format_combo.setCurrentText("jpeg")
    assert dialog.result_options() is None  # JPEG on transparent is refused, inline
    assert "JPEG" in dialog.error_label.text()
    dialog.background_combo.setCurrentText("colour")
    dialog.crop_check.setChecked(True)
    dialog.margin_spin.setValue(7)
    dialog.resize_check.setChecked(True)
    dialog.resize_spin.setValue(900)
    dialog.watermark_edit.setText("© Shop")
    dialog.policy_combo.setCurrentIndex(dialog.policy_combo.findData("skip"))
    options = dialog.result_options()
    assert options is not None
    assert (options.format, options.background, options.existing) == (
        "jpeg",
        (255, 255, 255),
        "skip",
    )
    assert (options.crop_to_subject, options.crop_margin_px, options.resize_long_side) == (
        True,
        7,
        900,
    )
    assert options.watermark.text == "© Shop"
    assert dialog.preview_label.text() == "photo_cutout.jpg"
    # what Ctrl+Shift+E stores comes back identical
    assert export_options_from_dict(export_options_to_dict(options)) == options


def test_export_with_nothing_open_says_so_instead_of_failing(qtbot, tmp_path):
    w = make_window(qtbot, tmp_path / "s.ini", {"fake": InstantBackend()})
    qtbot.keyClick(w.canvas, Qt.Key.Key_E, Qt.KeyboardModifier.ControlModifier)
    assert "Open a photo" in w.statusBar().currentMessage()
    assert w.reporter.history == []
