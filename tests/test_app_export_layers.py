"""The editor's export of a 16-bit photo (issue 18.4/18.5): the dialog's PSD and PNG go through
the one export path: a 16-bit PSD with its layers, a 16-bit PNG with the photo's exact colours."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
import tifffile
from app_fakes import InstantBackend, activate, make_window
from psd_tools import PSDImage
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDialogButtonBox
from test_app_export import export_dialog

pytest.importorskip("pytestqt")


def test_editor_exports_16bit_png_and_layered_psd(qtbot, tmp_path):
    rng = np.random.default_rng(5)
    rgb16 = cv2.GaussianBlur(rng.integers(0, 65535, (30, 40, 3)).astype(np.uint16), (0, 0), 2)
    photo = tmp_path / "deep.tif"
    tifffile.imwrite(photo, rgb16, photometric="rgb")
    window = make_window(qtbot, tmp_path / "s.ini", {"fake": InstantBackend()})
    window.open_paths([photo])
    qtbot.waitUntil(lambda: window.session.document is not None)
    qtbot.waitUntil(lambda: window.session.document.model_mask is not None)
    out = tmp_path / "out"
    out.mkdir()
    written = {}
    for fmt in ("psd", "png"):
        activate(qtbot, window)
        qtbot.keyClick(window.canvas, Qt.Key.Key_E, Qt.KeyboardModifier.ControlModifier)
        dialog = export_dialog(qtbot)
        dialog.folder_edit.setText(str(out))
        dialog.format_combo.setCurrentText(fmt)
        assert not dialog.crop_check.isEnabled() if fmt == "psd" else dialog.crop_check.isEnabled()
        save = dialog.findChild(QDialogButtonBox).button(QDialogButtonBox.StandardButton.Save)
        assert save.isEnabled(), dialog.error_label.text()
        with qtbot.waitSignal(window.session.exported, timeout=10_000) as blocker:
            qtbot.mouseClick(save, Qt.MouseButton.LeftButton)
        written[fmt] = Path(blocker.args[0])
    psd = PSDImage.open(written["psd"])
    names = [layer.name for layer in psd]
    assert psd.depth == 16 and names[0] == "original" and names[-1] == "cutout"
    assert len(names) >= 3 and all(layer.has_mask() for layer in list(psd)[1:-1])
    png = cv2.imread(str(written["png"]), cv2.IMREAD_UNCHANGED)
    assert png.dtype == np.uint16
    alpha = window.session.document.alpha()
    opaque = alpha >= 1.0
    assert opaque.any()
    np.testing.assert_array_equal(png[..., 2::-1][opaque], rgb16[opaque])
