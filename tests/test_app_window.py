"""The editor window driven through its real widgets: drop, background model run, cancel,
latest-request-wins, corrupt files, folder navigation, the real ISNet model."""

from __future__ import annotations

import threading

import numpy as np
import pytest
from app_fakes import GatedBackend, InstantBackend, make_window, write_photo
from PySide6.QtCore import QMimeData, QPointF, Qt, QTimer, QUrl
from PySide6.QtGui import QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import QApplication

pytest.importorskip("pytestqt")


def drop_files(window, paths) -> None:
    """Drag file URLs onto the window: the enter event must be accepted, then the drop lands.
    (QApplication only routes a Drop during a platform drag, so the drop is handed to the
    window's event() directly, exactly where the platform drag would deliver it.)"""
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(p)) for p in paths])
    pos = QPointF(50, 50)
    action, button = Qt.DropAction.CopyAction, Qt.MouseButton.LeftButton
    enter = QDragEnterEvent(pos.toPoint(), action, mime, button, Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(window, enter)
    assert enter.isAccepted()
    drop = QDropEvent(pos, action, mime, button, Qt.KeyboardModifier.NoModifier)
    assert window.event(drop)
    assert drop.isAccepted()


def test_drop_of_file_urls_opens_the_image_and_runs_the_model(qtbot, tmp_path):
    photo = write_photo(tmp_path / "shoe.png", 40, 30)
    window = make_window(qtbot, tmp_path / "s.ini", {"fake": InstantBackend()})
    drop_files(window, [photo])
    qtbot.waitUntil(lambda: window.session.document is not None)
    doc = window.session.document
    assert doc.path.name == "shoe.png" and (doc.width, doc.height) == (40, 30)
    assert window.canvas.document() is doc
    assert "40 × 30" in window.status.size_label.text()
    qtbot.waitUntil(lambda: doc.model_mask is not None)
    assert doc.model_mask[:, :20].min() == 1.0 and doc.model_mask[:, 20:].max() == 0.0
    assert window.settings.recent_files()[0].endswith("shoe.png")


def test_inference_runs_off_the_ui_thread_while_the_event_loop_keeps_going(qtbot, tmp_path):
    backend = GatedBackend()
    window = make_window(qtbot, tmp_path / "s.ini", {"fake": backend})
    window.open_paths([write_photo(tmp_path / "a.png")])
    qtbot.waitUntil(backend.entered.is_set)
    ticks = []
    timer = QTimer()
    timer.timeout.connect(lambda: ticks.append(1))
    timer.start(5)
    # the model is still blocked inside predict(): only a free event loop can run the timer
    qtbot.waitUntil(lambda: len(ticks) >= 5)
    assert not backend.returned.is_set()
    assert window.status.progress.isVisible()
    timer.stop()
    backend.release()
    doc = window.session.document
    qtbot.waitUntil(lambda: doc.model_mask is not None)
    assert backend.threads and backend.threads[0] != threading.get_ident()
    qtbot.waitUntil(lambda: not window.status.progress.isVisible())


def test_escape_cancels_the_running_model(qtbot, tmp_path):
    backend = GatedBackend()
    window = make_window(qtbot, tmp_path / "s.ini", {"fake": backend})
    window.open_paths([write_photo(tmp_path / "a.png")])
    qtbot.waitUntil(backend.entered.is_set)
    runner = window.session.inference.runner
    with qtbot.waitSignal(runner.cancelled):
        qtbot.keyClick(window.canvas, Qt.Key.Key_Escape)
    qtbot.waitUntil(backend.returned.is_set)
    assert backend.saw_cancel.is_set()
    assert window.session.document.model_mask is None
    assert not runner.busy


def test_a_newer_request_supersedes_an_older_one(qtbot, tmp_path):
    slow = GatedBackend("slow", fill_left=True, honour_cancel=False)  # cannot be interrupted
    fast = InstantBackend("fast", fill_left=False)
    window = make_window(qtbot, tmp_path / "s.ini", {"slow": slow, "fast": fast})
    window.open_paths([write_photo(tmp_path / "a.png", 20, 10)])
    qtbot.waitUntil(slow.entered.is_set)
    doc = window.session.document
    window.session.set_model("fast")  # re-runs the model: the slow request is superseded
    qtbot.waitUntil(lambda: doc.model_mask is not None)
    assert doc.model_mask[:, 10:].min() == 1.0  # the fast model's (right half) mask
    assert slow.saw_cancel.is_set()  # the older job was told to stop
    slow.release()
    qtbot.waitUntil(slow.returned.is_set)
    window.session.inference.runner.wait(5000)
    qtbot.wait(50)  # let any (wrong) queued delivery of the old result happen
    assert doc.model_mask[:, 10:].min() == 1.0 and doc.model_mask[:, :10].max() == 0.0
    assert doc.history.labels() == ["Segment (fast)"]


def test_touch_ups_survive_a_model_switch(qtbot, tmp_path):
    from bgeraser_gui.core.document import KEEP, TOUCHUPS, Rect

    left, right = InstantBackend("left", True), InstantBackend("right", False)
    window = make_window(qtbot, tmp_path / "s.ini", {"left": left, "right": right})
    window.open_paths([write_photo(tmp_path / "a.png", 20, 10)])
    doc = window.session.document if window.session.document else None
    qtbot.waitUntil(lambda: window.session.document is not None)
    doc = window.session.document
    qtbot.waitUntil(lambda: doc.model_mask is not None)
    with doc.transaction("Keep stroke") as tx:
        tx.touch(TOUCHUPS, Rect(15, 0, 20, 10))
        doc.touchups[:, 15:] = KEEP
    window.session.set_model("right")
    qtbot.waitUntil(lambda: doc.model_name == "right")
    assert (doc.touchups[:, 15:] == KEEP).all()
    assert doc.alpha()[:, 15:].min() == 1.0


def test_a_corrupt_file_shows_a_message_and_keeps_the_open_document(qtbot, tmp_path):
    window = make_window(qtbot, tmp_path / "s.ini", {"fake": InstantBackend()})
    window.open_paths([write_photo(tmp_path / "good.png")])
    qtbot.waitUntil(lambda: window.session.document is not None)
    good = window.session.document
    bad = tmp_path / "broken.jpg"
    bad.write_bytes(b"\xff\xd8\xff\xe0 this is not really a jpeg")
    window.open_paths([bad])
    qtbot.waitUntil(lambda: window.reporter.history != [])
    assert "Cannot open" in window.reporter.history[-1]
    assert window.reporter.box.isVisible() and not window.reporter.box.isModal()
    assert window.session.document is good


def test_a_missing_model_is_reported_without_losing_edits(qtbot, tmp_path):
    from bgeraser_gui.core.document import KEEP, TOUCHUPS, Rect
    from bgeraser_gui.core.errors import ModelError

    def missing(name, device, progress=None):
        raise ModelError(f"model {name} is not installed")

    window = make_window(qtbot, tmp_path / "s.ini", {"fake": InstantBackend()})
    window.session.inference._factory = missing
    window.open_paths([write_photo(tmp_path / "a.png", 20, 10)])
    qtbot.waitUntil(lambda: window.reporter.history != [])
    assert "not installed" in window.reporter.history[-1]
    doc = window.session.document
    with doc.transaction("Keep stroke") as tx:
        tx.touch(TOUCHUPS, Rect(0, 0, 5, 5))
        doc.touchups[:5, :5] = KEEP
    window.session.segment()
    qtbot.waitUntil(lambda: len(window.reporter.history) >= 2)
    assert window.session.document is doc and (doc.touchups[:5, :5] == KEEP).all()


def test_page_down_and_up_step_through_the_folder(qtbot, tmp_path):
    for name in ("img1.png", "img2.png", "img10.png"):
        write_photo(tmp_path / name, seed=len(name))
    window = make_window(qtbot, tmp_path / "s.ini", {"fake": InstantBackend()})
    window.open_paths([tmp_path / "img2.png"])
    qtbot.waitUntil(lambda: window.session.document is not None)
    qtbot.keyClick(window.canvas, Qt.Key.Key_PageDown)
    qtbot.waitUntil(lambda: window.session.document.path.name == "img10.png")
    qtbot.keyClick(window.canvas, Qt.Key.Key_PageUp)
    qtbot.waitUntil(lambda: window.session.document.path.name == "img2.png")
    qtbot.keyClick(window.canvas, Qt.Key.Key_PageUp)
    qtbot.waitUntil(lambda: window.session.document.path.name == "img1.png")


@pytest.mark.slow
def test_real_isnet_model_segments_a_real_photo(qtbot, tmp_path, isnet_fp16_path, eval_dir):
    from PIL import Image

    from bgeraser_gui.gui.main_window import MainWindow
    from bgeraser_gui.gui.settings import AppSettings

    settings = AppSettings(tmp_path / "s.ini")
    settings.default_model = str(isnet_fp16_path)
    settings.device = "cpu"
    window = MainWindow(settings)
    qtbot.addWidget(window)
    window.show()
    photo = eval_dir / "grabcut50" / "images" / "21077.jpg"
    window.open_paths([photo])
    qtbot.waitUntil(lambda: window.session.document is not None, timeout=10_000)
    doc = window.session.document
    qtbot.waitUntil(
        lambda: doc.model_mask is not None or bool(window.reporter.history), timeout=180_000
    )
    assert window.reporter.history == []
    data = eval_dir / "grabcut50"
    truth = np.asarray(Image.open(data / "alpha" / "21077.png").convert("L")) > 127
    scored = np.asarray(Image.open(data / "ignore" / "21077.png").convert("L")) < 128
    ours = doc.model_mask > 0.5
    iou = (ours & truth & scored).sum() / max(((ours | truth) & scored).sum(), 1)
    # the car is found (an empty, full or shifted mask scores far lower)
    assert iou > 0.5, iou
    assert window.status.device_label.text() == "Device: CPU"
    window.close()


def test_a_dropped_folder_goes_to_the_batch_queue_and_edits_flow_back(qtbot, tmp_path, monkeypatch):
    import functools

    from bgeraser_gui.core.document import KEEP, TOUCHUPS, Rect
    from bgeraser_gui.core.matting import RefineOptions
    from bgeraser_gui.gui import batch_link

    # this test is about the editor <-> queue link: the queue skips matting to stay quick
    monkeypatch.setattr(
        batch_link,
        "create_batch_panel",
        functools.partial(
            batch_link.create_batch_panel, refine_options=RefineOptions(enabled=False)
        ),
    )
    from bgeraser_gui.core.project_store import EDITED, HAS_RESULT, item_id_for

    folder = tmp_path / "shoot"
    folder.mkdir()
    for i in range(3):
        write_photo(folder / f"p{i}.png", 24, 16, seed=i)
    window = make_window(qtbot, tmp_path / "s.ini", {"fake": InstantBackend()})
    panel = window.batch_panel
    if panel is None:
        pytest.skip("the batch panel is not installed")
    drop_files(window, [folder])
    qtbot.waitUntil(lambda: window.session.document is not None)
    assert window.session.document.path.name == "p0.png"
    assert len(panel.entries) == 3
    assert window.batch_dock.isVisible() and window.actions_.action("toggle_batch").isChecked()
    qtbot.waitUntil(
        lambda: all(e.state in HAS_RESULT for e in panel.entries.values()), timeout=60_000
    )
    # PgDn walks the batch's results; the item opens with its batch mask (no model re-run)
    window.step_image(+1)
    qtbot.waitUntil(lambda: window.session.document.path.name == "p1.png")
    doc = window.session.document
    qtbot.waitUntil(lambda: doc.model_mask is not None)
    with doc.transaction("Keep stroke") as tx:
        tx.touch(TOUCHUPS, Rect(0, 0, 24, 16))
        doc.touchups[...] = KEEP
    qtbot.waitUntil(lambda: panel.entries[item_id_for(folder / "p1.png")].state == EDITED)
    assert (panel.result_alpha(folder / "p1.png") == 255).all()


class _MaskBackend:
    """Returns a fixed mask (e.g. a hard-thresholded ground truth), like a model would."""

    name, device = "fixed", "cpu"

    def __init__(self, mask):
        self.mask = mask

    def predict(self, rgb, progress=None, cancel=None):
        return self.mask


@pytest.mark.slow
def test_ctrl_m_runs_real_matting_in_the_background(qtbot, tmp_path, eval_dir):
    from PIL import Image

    data = eval_dir / "alphamatting_train27"
    truth = np.asarray(Image.open(data / "alpha" / "GT01.png").convert("L")).astype(np.float32)
    truth /= 255.0
    hard = (truth > 0.5).astype(np.float32)
    window = make_window(qtbot, tmp_path / "s.ini", {"fixed": _MaskBackend(hard)})
    window.open_paths([data / "images" / "GT01.png"])
    qtbot.waitUntil(lambda: window.session.document is not None, timeout=10_000)
    doc = window.session.document
    qtbot.waitUntil(lambda: doc.model_mask is not None)
    qtbot.keyClick(window.canvas, Qt.Key.Key_M, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(
        lambda: doc.refined_alpha is not None or bool(window.reporter.history), timeout=240_000
    )
    assert window.reporter.history == []
    alpha = doc.alpha()
    soft = ((alpha > 0.02) & (alpha < 0.98)).mean()
    assert soft > 0.001  # matting produced soft edges where the mask was hard
    sad_hard, sad_refined = np.abs(hard - truth).sum(), np.abs(alpha - truth).sum()
    assert sad_refined < sad_hard, (sad_refined, sad_hard)
    assert doc.history.labels()[-1] == "Refine edges"


def _paint_keep(doc, x: int = 0) -> None:
    from bgeraser_gui.core.document import KEEP, TOUCHUPS, Rect

    with doc.transaction("Keep stroke") as tx:
        tx.touch(TOUCHUPS, Rect(x, 0, x + 4, 4))
        doc.touchups[:4, x : x + 4] = KEEP


def test_quitting_with_unexported_touch_ups_asks_first_without_blocking(qtbot, tmp_path):
    from bgeraser_gui.core.compose import ExportOptions

    window = make_window(qtbot, tmp_path / "s.ini", {"fake": InstantBackend()})
    window.open_paths([write_photo(tmp_path / "a.png", 20, 10)])
    qtbot.waitUntil(lambda: window.session.document is not None)
    doc = window.session.document
    qtbot.waitUntil(lambda: doc.model_mask is not None)
    assert window.close()  # only a model result: nothing to lose, closes at once
    window.show()
    window._discard_confirmed = False
    assert not window.isWindowModified()
    _paint_keep(doc)
    assert window.isWindowModified()  # "a.png* — bgeraser"
    assert not window.close()
    assert window.isVisible() and window.dialogs.discard_box.isVisible()
    assert "a.png" in window.dialogs.discard_box.informativeText()
    window.dialogs.discard_box.close()
    # exporting saves the touch-ups: quitting no longer asks
    out = tmp_path / "out"
    out.mkdir()
    with qtbot.waitSignal(window.session.exported):
        window.session.export(ExportOptions(), out)
    assert window.session.unsaved_documents() == []
    assert not window.isWindowModified()
    _paint_keep(doc, 10)  # a new stroke after the export: unsaved again
    assert window.session.unsaved_documents() == [doc]
    doc.undo()  # back to exactly what was exported
    assert window.session.unsaved_documents() == []
    doc.redo()
    assert window.session.unsaved_documents() == [doc]
    window.session.export(ExportOptions(), out)
    qtbot.waitUntil(lambda: window.session.unsaved_documents() == [])
    assert window.close()


def test_photos_with_unexported_touch_ups_stay_in_memory(qtbot, tmp_path):
    from bgeraser_gui.gui.session import KEEP_DOCUMENTS

    window = make_window(qtbot, tmp_path / "s.ini", {"fake": InstantBackend()})
    paths = [write_photo(tmp_path / f"p{i}.png", 12, 8, seed=i) for i in range(KEEP_DOCUMENTS + 3)]
    window.open_paths([paths[0]])
    qtbot.waitUntil(lambda: window.session.document is not None)
    edited = window.session.document
    _paint_keep(edited)
    for path in paths[1:]:
        window.open_paths([path])
        qtbot.waitUntil(lambda p=path: window.session.document.path == p)
    window.open_paths([paths[0]])
    qtbot.waitUntil(lambda: window.session.document.path == paths[0])
    assert window.session.document is edited  # same object: touch-ups and undo history kept
    assert len(window.session._documents) <= KEEP_DOCUMENTS + 1
    window._discard_confirmed = True
