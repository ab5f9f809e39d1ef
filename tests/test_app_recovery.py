"""Crash recovery in the editor window: the recovery dialog at start, Restore / Discard all,
the open photo journaled while it is edited, and journals cleared by a clean close or export."""

from __future__ import annotations

import app_fakes
import numpy as np
import pytest
from app_fakes import InstantBackend, write_photo
from PySide6.QtCore import Qt

from bgeraser_gui.core.autosave import AutosaveWriter
from bgeraser_gui.core.brush import BrushSettings, BrushStroke
from bgeraser_gui.core.document import Document
from bgeraser_gui.core.image_io import load_image
from bgeraser_gui.core.journal import RecoverableJournal, find_recoverable, recover_document

pytest.importorskip("pytestqt")


def _stroke(doc, tool, p0, p1, size=9):
    stroke = BrushStroke(doc, tool, BrushSettings(size), p0)
    stroke.add_point(p1)
    stroke.finish()


def _crashed_session(root, photo) -> Document:
    """A session that edited `photo` and died without closing: its journal stays behind."""
    writer = AutosaveWriter(root)
    doc = Document(load_image(photo))
    writer.track(doc)
    mask = np.zeros((doc.height, doc.width), np.float32)
    mask[:, doc.width // 2 :] = 1.0  # the right half: the fake model would pick the left
    doc.set_model_mask(mask, "earlier model")
    _stroke(doc, "keep", (5, 5), (20, 30))
    _stroke(doc, "remove", (50, 10), (60, 40))
    writer.close(discard=False)  # files and all, as a kill leaves them (locks released)
    return doc


def _window_at_start(qtbot, tmp_path, monkeypatch):
    """The editor starting up; the recovery dialog, not the window, takes the focus."""
    monkeypatch.setattr(app_fakes, "activate", lambda _qtbot, _window: None)
    return app_fakes.make_window(qtbot, tmp_path / "s.ini", {"fake": InstantBackend()})


def _dialog(qtbot, window):
    qtbot.waitUntil(lambda: window.recovery.dialog is not None)
    dialog = window.recovery.dialog
    qtbot.waitUntil(dialog.isVisible)
    return dialog


def test_the_recovery_dialog_appears_at_start_and_restore_brings_the_strokes_back(
    qtbot, tmp_path, monkeypatch
):
    photo, root = write_photo(tmp_path / "shoe.png", 64, 48), tmp_path / "recovery"
    crashed = _crashed_session(root, photo)
    (old_folder,) = root.iterdir()
    window = _window_at_start(qtbot, tmp_path, monkeypatch)
    dialog = _dialog(qtbot, window)
    assert dialog.list.count() == 1
    item = dialog.list.item(0)
    assert "shoe.png" in item.text() and not item.icon().isNull()
    assert item.checkState() == Qt.CheckState.Checked
    qtbot.mouseClick(dialog.restore_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.session.document is not None)
    doc = window.session.document
    assert window.canvas.document() is doc and not dialog.isVisible()
    assert np.array_equal(doc.touchups, crashed.touchups)
    assert np.array_equal(doc.model_mask, crashed.model_mask)  # no model run over it
    assert np.array_equal(doc.alpha(), crashed.alpha())
    assert window.session.needs_saving(doc) and window.isWindowModified()
    assert doc.undo() and crashed.undo()  # the history came back too
    assert np.array_equal(doc.touchups, crashed.touchups)
    # the recovered photo is journaled anew, and the old journal is gone
    window.recovery.writer.wait_idle()
    (new_folder,) = root.iterdir()
    assert new_folder != old_folder and not old_folder.exists()
    assert find_recoverable(root) == []  # held by this running session


def test_discard_all_deletes_the_journals_and_later_keeps_them(qtbot, tmp_path, monkeypatch):
    photo, root = write_photo(tmp_path / "a.png", 64, 48), tmp_path / "recovery"
    _crashed_session(root, photo)
    window = _window_at_start(qtbot, tmp_path, monkeypatch)
    _dialog(qtbot, window).reject()  # Later
    assert len(find_recoverable(root)) == 1
    dialog = window.recovery.offer_recovery()
    qtbot.mouseClick(dialog.discard_button, Qt.MouseButton.LeftButton)
    assert find_recoverable(root) == [] and list(root.iterdir()) == []
    assert window.session.document is None


def test_edits_in_the_window_are_journaled_and_a_clean_close_clears_them(qtbot, tmp_path):
    from bgeraser_gui.core.compose import ExportOptions

    photo, root = write_photo(tmp_path / "a.png", 64, 48), tmp_path / "recovery"
    window = app_fakes.make_window(qtbot, tmp_path / "s.ini", {"fake": InstantBackend()})
    window.open_paths([photo])
    qtbot.waitUntil(lambda: window.session.document is not None)
    doc = window.session.document
    qtbot.waitUntil(lambda: doc.model_mask is not None)
    _stroke(doc, "keep", (40, 5), (60, 40))
    writer = window.recovery.writer
    writer.wait_idle()
    (folder,) = root.iterdir()
    # what a crash now would leave: read it as the next start would (without the lock)
    found = find_recoverable(root)
    assert found == []  # locked while this session runs
    journal = RecoverableJournal(folder, photo.resolve(), 0.0, None)
    assert np.array_equal(recover_document(journal).touchups, doc.touchups)
    # an export of the unchanged photo clears the journal; the next edit starts a new one
    out = tmp_path / "out"
    out.mkdir()
    with qtbot.waitSignal(window.session.exported):
        window.session.export(ExportOptions(), out)
    writer.wait_idle()
    assert list(root.iterdir()) == []
    _stroke(doc, "remove", (5, 5), (9, 9))
    writer.wait_idle()
    assert len(list(root.iterdir())) == 1
    window.quit_without_exporting()  # the user chose to drop the edits: a clean close
    assert list(root.iterdir()) == []
