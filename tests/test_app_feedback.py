"""What the editor tells the user: an unmasked photo looks untouched (with a hint), status
messages describe the right photo in plain words, Tab without uncertain edges says so."""

from __future__ import annotations

import numpy as np
import pytest
from app_fakes import GatedBackend, InstantBackend, make_window, write_photo
from PySide6.QtCore import Qt

from bgeraser_gui.core.trimap import KEEP
from bgeraser_gui.gui.canvas.overlay import ViewMode
from bgeraser_gui.gui.main_window import NO_MASK_HINT

pytest.importorskip("pytestqt")


def _pixels(qimage) -> np.ndarray:
    ptr = qimage.constBits()
    h, stride = qimage.height(), qimage.bytesPerLine()
    return np.frombuffer(ptr, np.uint8, h * stride).reshape(h, stride)


def test_a_photo_without_a_mask_is_shown_untouched_with_a_hint(qtbot, tmp_path):
    backend = GatedBackend()
    window = make_window(qtbot, tmp_path / "s.ini", {"fake": backend})
    window.open_paths([write_photo(tmp_path / "a.png", 40, 30)])
    qtbot.waitUntil(backend.entered.is_set)
    doc = window.session.document
    cache = window.canvas.display_cache()
    window.canvas.repaint()
    assert cache.rendered_pixels == 0  # the photo is drawn as it is: no full-size render
    tint = _pixels(cache.image(ViewMode.OVERLAY))[:, : 40 * 4].reshape(30, 40, 4)
    assert not tint.any()  # while the model runs: no red "everything removed" tint
    cutout = _pixels(cache.image(ViewMode.CHECKER))[:, : 40 * 4].reshape(30, 40, 4)
    np.testing.assert_array_equal(cutout[..., 3], 255)  # the whole photo, not an empty board
    np.testing.assert_array_equal(cutout[..., :3], doc.rgb)
    assert window.status.hint_label.isHidden()  # the model is already finding the subject
    with qtbot.waitSignal(window.session.inference.runner.cancelled):
        qtbot.keyClick(window.canvas, Qt.Key.Key_Escape)
    qtbot.waitUntil(lambda: not window.session.busy)
    window.statusBar().clearMessage()  # "Model run cancelled" has the hint's place until then
    assert window.status.hint_label.text() == NO_MASK_HINT
    assert not window.status.hint_label.isHidden()
    assert not _pixels(cache.image(ViewMode.OVERLAY)).any()
    # the first stroke makes a mask: now the unkept area really is removed, everywhere
    with doc.transaction("Keep") as tx:
        tx.touch("touchups")
        doc.touchups[:, :10] = KEEP
    assert window.status.hint_label.isHidden()
    tint = _pixels(cache.image(ViewMode.OVERLAY))[:, : 40 * 4].reshape(30, 40, 4)
    assert not tint[:, :10].any() and (tint[:, 10:, 0] == 255).all()
    mask = _pixels(cache.image(ViewMode.MASK))[:, :40]
    assert (mask[:, :10] == 255).all() and not mask[:, 10:].any()
    doc.undo()  # back to no mask: untouched again
    assert not _pixels(cache.image(ViewMode.OVERLAY)).any()
    assert window.status.hint_label.text() == NO_MASK_HINT
    backend.release()


def test_a_photo_opened_with_its_folder_waits_for_the_batch_result(qtbot, tmp_path, monkeypatch):
    import functools
    import threading

    from bgeraser_gui.core.matting import RefineOptions
    from bgeraser_gui.core.project_store import HAS_RESULT
    from bgeraser_gui.gui import batch_link

    monkeypatch.setattr(
        batch_link,
        "create_batch_panel",
        functools.partial(
            batch_link.create_batch_panel, refine_options=RefineOptions(enabled=False)
        ),
    )

    class CountingBackend(InstantBackend):
        def __init__(self):
            super().__init__("counting")
            self.calls, self._lock = 0, threading.Lock()

        def predict(self, rgb, progress=None, cancel=None):
            with self._lock:
                self.calls += 1
            return super().predict(rgb, progress, cancel)

    folder = tmp_path / "shoot"
    folder.mkdir()
    for i in range(3):
        write_photo(folder / f"p{i}.png", 24, 16, seed=i)
    backend = CountingBackend()
    window = make_window(qtbot, tmp_path / "s.ini", {"counting": backend})
    panel = window.batch_panel
    if panel is None:
        pytest.skip("the batch panel is not installed")
    window.open_paths([folder])
    qtbot.waitUntil(lambda: window.session.document is not None)
    doc = window.session.document
    qtbot.waitUntil(
        lambda: all(e.state in HAS_RESULT for e in panel.entries.values()), timeout=60_000
    )
    qtbot.waitUntil(lambda: doc.model_mask is not None)
    qtbot.waitUntil(lambda: not window.session.busy)
    assert backend.calls == 3  # one run per photo: the editor used the batch's mask for p0
    assert doc.history.labels() == ["Segment (batch result)"]
    np.testing.assert_array_equal(doc.alpha_u8(), panel.result_alpha(doc.path))
    assert window.status.hint_label.isHidden()


def test_status_messages_name_the_right_photo_in_plain_words(qtbot, tmp_path):
    backend = GatedBackend("fake")
    window = make_window(qtbot, tmp_path / "s.ini", {"fake": backend})
    session = window.session
    messages, progress = [], []
    session.message.connect(messages.append)
    session.progress.connect(lambda _f, text: progress.append(text))
    a = write_photo(tmp_path / "a.png", 20, 10)
    b = write_photo(tmp_path / "b.png", 20, 10, seed=1)
    window.open_paths([a])
    qtbot.waitUntil(backend.entered.is_set)
    # the first run really loads the model (progress arrives queued: wait for it)
    qtbot.waitUntil(lambda: "Loading model fake…" in progress)
    assert progress[0] == "Opening a.png…"
    doc_a = session.document
    session.auto_segment = False
    window.open_paths([b])  # moving on while the model still runs for a.png
    qtbot.waitUntil(lambda: session.document is not doc_a)
    backend.release()
    qtbot.waitUntil(lambda: doc_a.model_mask is not None)
    assert messages[-1].startswith("Mask ready for a.png (fake on CPU: ")
    backend.gate.clear()
    progress.clear()
    window.session.segment()  # b.png, model already loaded
    qtbot.waitUntil(lambda: len(progress) > 0)
    assert not any("Loading" in text for text in progress)
    assert progress[0] == "Finding the subject with fake…"
    with qtbot.waitSignal(session.inference.runner.cancelled):
        qtbot.keyClick(window.canvas, Qt.Key.Key_Escape)
    assert messages[-1] == "Model run cancelled"
    backend.release()
    qtbot.waitUntil(lambda: not session.busy)
    session.segment()
    qtbot.waitUntil(lambda: session.document.model_mask is not None)
    assert messages[-1].startswith("Subject found (fake on CPU: ")


def test_tab_without_uncertain_edges_says_so(qtbot, tmp_path):
    window = make_window(qtbot, tmp_path / "s.ini", {"fake": InstantBackend()})
    window.open_paths([write_photo(tmp_path / "a.png", 20, 10)])
    qtbot.waitUntil(lambda: window.session.document is not None)
    doc = window.session.document
    qtbot.waitUntil(lambda: doc.model_mask is not None)  # a hard 0/1 mask: no soft edges
    window.canvas.goto_next_uncertain()
    assert window.statusBar().currentMessage() == "No uncertain edges"


def test_long_history_labels_are_elided_with_the_full_text_in_a_tooltip(qtbot, tmp_path):
    window = make_window(qtbot, tmp_path / "s.ini", {"fake": InstantBackend()})
    window.open_paths([write_photo(tmp_path / "a.png", 20, 10)])
    qtbot.waitUntil(lambda: window.session.document is not None)
    doc = window.session.document
    label = "ISNet general-use, fp16 (IMG.LY repack)"
    doc.set_model_mask(np.ones((10, 20), np.float32), label)
    history_list = window.history_panel.list
    item = history_list.item(history_list.count() - 1)
    assert item.text() == f"Segment ({label})" and item.toolTip() == item.text()
    assert history_list.horizontalScrollBarPolicy() == Qt.ScrollBarPolicy.ScrollBarAlwaysOff
    assert history_list.textElideMode() == Qt.TextElideMode.ElideRight


def test_settings_dialog_shows_plain_words_and_the_real_model_folder(qtbot, tmp_path, monkeypatch):
    from bgeraser_gui.gui.settings_dialog import SettingsDialog

    monkeypatch.setenv("BGERASER_MODEL_DIR", str(tmp_path / "my-models"))
    window = make_window(qtbot, tmp_path / "s.ini", {"fake": InstantBackend()})
    dialog = SettingsDialog(window.settings, window)
    qtbot.addWidget(dialog)
    assert dialog.policy_combo.currentText() == "Add a number"
    assert str(tmp_path / "my-models") in dialog.cache_edit.placeholderText()
    dialog.policy_combo.setCurrentIndex(dialog.policy_combo.findText("Skip"))
    dialog.apply()
    assert window.settings.export_defaults()["existing"] == "skip"


def test_an_empty_model_folder_setting_keeps_the_environment_folder(monkeypatch, tmp_path):
    from bgeraser_gui.backends.model_cache import model_dir

    monkeypatch.setenv("BGERASER_MODEL_DIR", str(tmp_path / "env-models"))
    assert model_dir("") == tmp_path / "env-models"  # no folder chosen in the settings
    assert model_dir(str(tmp_path / "chosen")) == tmp_path / "chosen"


def test_an_offline_first_run_points_to_the_import_menu_in_short_and_in_full(qtbot, tmp_path):
    from bgeraser_gui.backends.download import _failure_message
    from bgeraser_gui.backends.model_cache import resolve_spec
    from bgeraser_gui.core.errors import ModelError
    from bgeraser_gui.gui.errors import IMPORT_IN_GUI

    spec = resolve_spec("isnet-general-use")
    error = ModelError(_failure_message(spec, ["<urlopen error [Errno -3] name resolution>"]))

    class OfflineFactory(dict):
        def __missing__(self, name):
            raise error

    window = make_window(qtbot, tmp_path / "s.ini", {"isnet-general-use": None})
    window.session.inference._factory = lambda name, device, progress=None: OfflineFactory()[name]
    window.open_paths([write_photo(tmp_path / "a.png", 20, 10)])
    qtbot.waitUntil(lambda: window.reporter.history != [])
    status = window.statusBar().currentMessage()
    assert status.startswith("Model ISNet general-use failed: could not download model")
    assert len(status) < 160 and "bgeraser-cli" not in status and "http" not in status
    full = window.reporter.box.informativeText()
    assert IMPORT_IN_GUI in full and "bgeraser-cli" not in full
    assert spec.urls[0] in full  # the whole address, readable in the message window


def test_batch_export_starts_in_the_last_export_folder_and_remembers_the_new_one(qtbot, tmp_path):
    from bgeraser_gui.core.compose import ExportOptions
    from bgeraser_gui.gui.settings import AppSettings

    earlier = AppSettings(tmp_path / "s.ini")
    earlier.set_last_export({"format": "png"}, str(tmp_path / "cutouts"))
    earlier.sync()
    window = make_window(qtbot, tmp_path / "s.ini", {"fake": InstantBackend()})
    panel = window.batch_panel
    if panel is None:
        pytest.skip("the batch panel is not installed")
    assert panel._export_dir == str(tmp_path / "cutouts")  # where the export dialog opens
    panel.exportChosen.emit(ExportOptions(format="webp"), str(tmp_path / "batch-out"))
    last = window.settings.last_export()
    assert last["out_dir"] == str(tmp_path / "batch-out") and last["options"]["format"] == "webp"


def test_the_model_mask_is_prepared_on_the_worker_and_swapped_in_without_a_copy(qtbot, tmp_path):
    import threading

    from bgeraser_gui.core import document as document_module

    prepared_on = []
    original = document_module.prepare_mask

    def spy(mask, shape=None):
        prepared_on.append(threading.get_ident())
        return original(mask, shape)

    from bgeraser_gui.services import inference as inference_module

    window = make_window(qtbot, tmp_path / "s.ini", {"fake": InstantBackend()})
    inference_module.prepare_mask, saved = spy, inference_module.prepare_mask
    try:
        results = []
        window.session.inference.runner.finished.connect(lambda _id, r: results.append(r))
        window.open_paths([write_photo(tmp_path / "a.png", 20, 10)])
        qtbot.waitUntil(lambda: bool(results) and window.session.document.model_mask is not None)
    finally:
        inference_module.prepare_mask = saved
    assert prepared_on and threading.get_ident() not in prepared_on
    assert window.session.document.model_mask is results[0].mask
