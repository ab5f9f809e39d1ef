"""The Objects dock in the editor: find, toggle by click and Alt+n, solo, merge, delete,
rename; every change undoable and instant (no model run)."""

from __future__ import annotations

import os

import numpy as np
from app_fakes import make_window
from PIL import Image
from PySide6.QtCore import Qt

from bgeraser_gui.core import object_layers as ol

W, H = 240, 160
GREY = (128, 128, 128)


def _photo(path):
    rgb = np.full((H, W, 3), GREY, np.uint8)
    rgb[30:120, 20:80] = (220, 40, 40)  # the model's main subject
    rgb[40:90, 100:140] = (40, 200, 60)  # a second subject it finds
    rgb[100:140, 170:220] = (40, 60, 220)  # an object it leaves out
    Image.fromarray(rgb).save(path)
    return path


class SalientBackend:
    """The whole photo: red and green; any crop: everything that is not grey."""

    name = "salient"
    device = "cpu"

    def __init__(self) -> None:
        self.runs = 0

    def predict(self, rgb, progress=None, cancel=None):
        self.runs += 1
        not_grey = np.abs(rgb.astype(int) - GREY).sum(axis=2) > 60
        if rgb.shape[:2] == (H, W):
            return (not_grey & (rgb[..., 2] < 150)).astype(np.float32)
        return not_grey.astype(np.float32)


def _items(window):
    lst = window.objects_panel.list
    return [lst.item(i) for i in range(lst.count())]


def test_objects_dock_finds_toggles_solos_merges_renames_and_undoes(qtbot, tmp_path):
    backend = SalientBackend()
    window = make_window(qtbot, tmp_path / "s.ini", {"salient": backend})
    window.open_paths([_photo(tmp_path / "a.png")])
    qtbot.waitUntil(lambda: window.session.document is not None)
    doc = window.session.document
    qtbot.waitUntil(lambda: doc.model_mask is not None)
    panel = window.objects_panel
    panel.crops.setChecked(True)
    qtbot.mouseClick(panel.find_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: len(ol.objects_of(doc)) == 3, timeout=10000)
    entries = ol.objects_of(doc)
    assert [(e.source, e.visible) for e in entries] == [
        ("model", True), ("model", True), ("crop", False)]  # fmt: skip
    items = _items(window)
    assert [i.checkState() == Qt.CheckState.Checked for i in items] == [True, True, False]
    assert all(not i.icon().isNull() for i in items)  # thumbnails
    runs = backend.runs
    alpha = doc.alpha()
    assert alpha[60, 50] == 1.0 and alpha[60, 120] == 1.0 and alpha[120, 190] == 0.0

    items[2].setCheckState(Qt.CheckState.Checked)  # a click on the check box: show it
    assert doc.alpha()[120, 190] > 0.9
    qtbot.keyClick(window, Qt.Key.Key_1, Qt.KeyboardModifier.AltModifier)  # hide object 1
    assert doc.alpha()[60, 50] == 0.0
    assert doc.history.labels()[-1] == f"Hide {entries[0].name}"
    qtbot.keyClick(window, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)  # undo
    assert doc.alpha()[60, 50] == 1.0
    assert _items(window)[0].checkState() == Qt.CheckState.Checked

    panel.list.setCurrentRow(1)
    qtbot.mouseClick(panel.buttons["Solo"], Qt.MouseButton.LeftButton)
    alpha = doc.alpha()
    assert alpha[60, 120] == 1.0 and alpha[60, 50] == 0.0 and alpha[120, 190] == 0.0

    panel.list.clearSelection()
    _items(window)[0].setSelected(True)
    _items(window)[2].setSelected(True)
    qtbot.mouseClick(panel.buttons["Merge"], Qt.MouseButton.LeftButton)
    assert len(ol.objects_of(doc)) == 2 and panel.list.count() == 2

    _items(window)[0].setText("red and blue")  # what editing the item in place does
    assert ol.objects_of(doc)[0].name == "red and blue"
    panel.list.setCurrentRow(1)
    qtbot.mouseClick(panel.buttons["Delete"], Qt.MouseButton.LeftButton)
    assert [e.name for e in ol.objects_of(doc)] == ["red and blue"]
    assert doc.alpha()[60, 120] == 0.0
    assert backend.runs == runs  # no edit ran the model
    shots = os.environ.get("BGERASER_SCREENSHOTS")
    if shots:
        for _ in range(4):
            doc.undo()  # back to the solo: the list shows all three, one checked
        window.objects_dock.raise_()
        qtbot.wait(50)
        window.grab().save(os.path.join(shots, "objects_dock.png"))
