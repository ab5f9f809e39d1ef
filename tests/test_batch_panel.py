"""BatchPanel with a fake backend: add/drop, live states, review sort, export, restore, edits."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from batch_fakes import BrightnessBackend, write_corrupt, write_shapes
from PIL import Image
from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
from PySide6.QtGui import QDropEvent

from bgeraser_gui.core.compose import ExportOptions
from bgeraser_gui.core.matting import RefineOptions
from bgeraser_gui.core.project_store import ProjectStore
from bgeraser_gui.gui.batch_panel import BatchPanel

WAIT_MS = 60_000


@pytest.fixture
def photos(tmp_path):
    root = tmp_path / "photos"
    write_shapes(root / "clean.png", [(40, 25, 80, 65)])  # centred block
    write_shapes(root / "edge.png", [(60, 20, 120, 90)])  # runs off two borders
    write_shapes(root / "specks" / "noisy.png", [(40, 25, 80, 65)], speckles=12, seed=3)
    write_corrupt(root / "broken.jpg")
    return root


def _panel(qtbot, tmp_path, refine=False, **kwargs) -> BatchPanel:
    panel = BatchPanel(
        store=ProjectStore(tmp_path / "project"),
        backend_factory=BrightnessBackend,
        refine_options=RefineOptions(enabled=refine),
        **kwargs,
    )
    qtbot.addWidget(panel)
    return panel


def _settled(panel: BatchPanel) -> bool:
    busy = {"queued", "segmenting", "refining"}
    return not panel.service.running and not any(e.state in busy for e in panel.entries.values())


def _by_name(panel: BatchPanel) -> dict:
    return {e.name: e for e in panel.entries.values()}


def test_folder_is_processed_with_states_scores_and_failures(qtbot, tmp_path, photos):
    panel = _panel(qtbot, tmp_path)
    seen: list[tuple[str, str]] = []
    panel.service.stateChanged.connect(lambda i, s, _d: seen.append((i, s)))
    assert panel.add_paths([photos]) == 4
    qtbot.waitUntil(lambda: _settled(panel), timeout=WAIT_MS)
    items = _by_name(panel)
    assert {n: e.state for n, e in items.items()} == {
        "clean.png": "ready",
        "edge.png": "ready",
        "noisy.png": "ready",
        "broken.jpg": "failed",
    }
    assert "broken.jpg" in panel.failure_label.text()
    for name in ("clean.png", "edge.png"):
        states = [s for i, s in seen if i == items[name].id]
        assert states == ["segmenting", "ready"]
    assert panel.table.has_thumbnail(items["clean.png"].id)
    assert items["clean.png"].score < items["edge.png"].score
    assert items["clean.png"].score < items["noisy.png"].score
    assert panel.progress.value() == panel.progress.maximum()


def test_refining_state_is_shown_when_refinement_is_on(qtbot, tmp_path):
    write_shapes(tmp_path / "in" / "a.png", [(40, 25, 80, 65)], size=(96, 72))
    panel = _panel(qtbot, tmp_path, refine=True)
    seen: list[str] = []
    panel.service.stateChanged.connect(lambda _i, s, _d: seen.append(s))
    panel.add_paths([tmp_path / "in"])
    qtbot.waitUntil(lambda: _settled(panel), timeout=WAIT_MS)
    assert seen == ["segmenting", "refining", "ready"]


def test_sort_puts_the_items_that_need_review_first(qtbot, tmp_path, photos):
    panel = _panel(qtbot, tmp_path)
    panel.add_paths([photos])
    qtbot.waitUntil(lambda: _settled(panel), timeout=WAIT_MS)
    panel.worst_first_check.setChecked(True)
    names = [panel.entries[i].name for i in panel.ordered_ids()]
    scores = [
        panel.entries[i].score for i in panel.ordered_ids() if panel.entries[i].score is not None
    ]
    assert scores == sorted(scores, reverse=True)
    assert names[-1] == "broken.jpg"  # no score: last
    assert names.index("clean.png") == 2


def test_export_all_writes_every_finished_item(qtbot, tmp_path, photos):
    panel = _panel(qtbot, tmp_path)
    panel.add_paths([photos])
    qtbot.waitUntil(lambda: _settled(panel), timeout=WAIT_MS)
    out = tmp_path / "out"
    with qtbot.waitSignal(panel.service.exportFinished, timeout=WAIT_MS) as blocker:
        assert panel.export_items(None, ExportOptions(name_pattern="{stem}-cut"), out) == 3
    assert blocker.args[:3] == [3, 0, 0]
    qtbot.waitUntil(lambda: sum(e.state == "exported" for e in panel.entries.values()) == 3)
    assert sorted(p.name for p in out.glob("*.png")) == [
        "clean-cut.png",
        "edge-cut.png",
        "noisy-cut.png",
    ]
    with Image.open(out / "clean-cut.png") as im:
        alpha = np.asarray(im.getchannel("A"))
    assert alpha[45, 60] == 255 and alpha[5, 5] == 0
    assert "Exported 3" in panel.status_label.text()


def test_export_selected_only(qtbot, tmp_path, photos):
    panel = _panel(qtbot, tmp_path)
    panel.add_paths([photos / "clean.png", photos / "edge.png"])
    qtbot.waitUntil(lambda: _settled(panel), timeout=WAIT_MS)
    panel.table.selectRow(panel.table.row_of(_by_name(panel)["edge.png"].id))
    with qtbot.waitSignal(panel.service.exportFinished, timeout=WAIT_MS):
        panel.export_items(panel.selected_ids(), ExportOptions(), tmp_path / "sel")
    assert [p.name for p in (tmp_path / "sel").glob("*.png")] == ["edge_cutout.png"]


def test_drop_adds_files_and_folders(qtbot, tmp_path, photos):
    panel = _panel(qtbot, tmp_path, autostart=False)
    mime = QMimeData()
    mime.setUrls(
        [QUrl.fromLocalFile(str(photos / "specks")), QUrl.fromLocalFile(str(photos / "clean.png"))]
    )
    event = QDropEvent(
        QPointF(10, 10),
        Qt.DropAction.CopyAction,
        mime,
        Qt.MouseButton.LeftButton,
        Qt.KeyboardModifier.NoModifier,
    )
    panel.dropEvent(event)
    assert sorted(_by_name(panel)) == ["clean.png", "noisy.png"]
    assert all(e.state == "queued" for e in panel.entries.values())
    # queued photos already show a quick preview
    qtbot.waitUntil(
        lambda: all(panel.table.has_thumbnail(i) for i in panel.entries), timeout=WAIT_MS
    )
    panel.add_paths([photos / "clean.png"])  # the same photo again is not a new item
    assert len(panel.entries) == 2


def test_open_ready_item_and_move_on(qtbot, tmp_path, photos):
    panel = _panel(qtbot, tmp_path)
    panel.add_paths([photos / "clean.png", photos / "edge.png", photos / "broken.jpg"])
    qtbot.waitUntil(lambda: _settled(panel), timeout=WAIT_MS)
    first = panel.next_path()
    with qtbot.waitSignal(panel.openRequested) as blocker:
        panel.table.cellDoubleClicked.emit(0, 0)
    assert blocker.args == [first]
    second = panel.next_path(first)
    assert {Path(first).name, Path(second).name} == {"clean.png", "edge.png"}
    assert panel.next_path(second) is None  # the failed item is never opened


def test_reopen_restores_queue_and_manual_edits(qtbot, tmp_path, photos):
    panel = _panel(qtbot, tmp_path)
    panel.add_paths([photos])
    qtbot.waitUntil(lambda: _settled(panel), timeout=WAIT_MS)
    clean = _by_name(panel)["clean.png"]
    edit = np.zeros((90, 120), np.uint8)
    edit[10:20, 10:30] = 255  # the user painted something else entirely
    panel.mark_edited(clean.source, edit)
    panel.shutdown()
    states = {n: e.state for n, e in _by_name(panel).items()}
    scores = {n: e.score for n, e in _by_name(panel).items()}

    reopened = _panel(qtbot, tmp_path, autostart=False)
    assert {n: e.state for n, e in _by_name(reopened).items()} == states
    assert {n: e.score for n, e in _by_name(reopened).items()} == scores
    assert states["clean.png"] == "edited"
    assert np.array_equal(reopened.result_alpha(clean.source), edit)
    assert "broken.jpg" in reopened.failure_label.text()
    with qtbot.waitSignal(reopened.service.exportFinished, timeout=WAIT_MS):
        reopened.export_items([clean.id], ExportOptions(), tmp_path / "o")
    with Image.open(tmp_path / "o" / "clean_cutout.png") as im:
        assert np.array_equal(np.asarray(im.getchannel("A")), edit)  # the edit is exported


def test_interrupted_items_are_queued_again_on_reopen(qtbot, tmp_path, photos):
    store = ProjectStore(tmp_path / "project")
    from bgeraser_gui.core.project_store import QueueEntry

    store.save_queue([QueueEntry(str(photos / "clean.png"), state="segmenting")])
    panel = _panel(qtbot, tmp_path)
    qtbot.waitUntil(lambda: _settled(panel), timeout=WAIT_MS)
    assert [e.state for e in panel.entries.values()] == ["ready"]


def test_cancel_leaves_the_rest_queued(qtbot, tmp_path):
    for i in range(6):
        write_shapes(tmp_path / "many" / f"p{i}.png", [(40, 25, 80, 65)])
    panel = _panel(qtbot, tmp_path)

    def cancel_at_once(*_args) -> None:
        panel.cancel()

    panel.service.stateChanged.connect(cancel_at_once)
    panel.add_paths([tmp_path / "many"])
    qtbot.waitUntil(lambda: not panel.service.running, timeout=WAIT_MS)
    qtbot.wait(50)
    counts = panel.state_counts()
    assert counts.get("queued", 0) >= 5
    panel.service.stateChanged.disconnect(cancel_at_once)
    panel.start()
    qtbot.waitUntil(lambda: panel.state_counts().get("ready", 0) == 6, timeout=WAIT_MS)


def test_export_failure_is_summarised_and_keeps_the_result(qtbot, tmp_path, photos):
    panel = _panel(qtbot, tmp_path)
    panel.add_paths([photos / "clean.png", photos / "edge.png"])
    qtbot.waitUntil(lambda: _settled(panel), timeout=WAIT_MS)
    (tmp_path / "a_file").write_text("not a folder")
    with qtbot.waitSignal(panel.service.exportFinished, timeout=WAIT_MS) as blocker:
        panel.export_items(None, ExportOptions(), tmp_path / "a_file" / "out")
    written, skipped, failed, errors = blocker.args
    assert (written, failed) == (0, 2) and len(errors) == 2
    assert all("cannot create the folder" in e for e in errors)
    assert "2 failed" in panel.failure_label.text()
    assert all(e.state == "ready" for e in panel.entries.values())  # can be exported again


def test_cancel_stops_an_export(qtbot, tmp_path):
    for i in range(5):
        write_shapes(tmp_path / "many" / f"p{i}.png", [(40, 25, 80, 65)])
    panel = _panel(qtbot, tmp_path)
    panel.add_paths([tmp_path / "many"])
    qtbot.waitUntil(lambda: _settled(panel), timeout=WAIT_MS)
    # cancel from inside the export thread right after the first file
    panel.service.exportProgress.connect(
        lambda *_: panel.service.cancel(), Qt.ConnectionType.DirectConnection
    )
    with qtbot.waitSignal(panel.service.exportFinished, timeout=WAIT_MS) as blocker:
        panel.export_items(None, ExportOptions(), tmp_path / "out")
    written, _skipped, failed, errors = blocker.args
    assert written == 1 and failed == 0
    assert errors == ["export cancelled: 4 not written"]
    assert len(list((tmp_path / "out").glob("*.png"))) == 1


def test_remove_items_forgets_them_for_good(qtbot, tmp_path, photos):
    panel = _panel(qtbot, tmp_path)
    panel.add_paths([photos])
    qtbot.waitUntil(lambda: _settled(panel), timeout=WAIT_MS)
    items = _by_name(panel)
    gone = [items["clean.png"].id, items["broken.jpg"].id]
    panel.table.selectRow(panel.table.row_of(gone[0]))
    panel.table.selectRow(panel.table.row_of(gone[1]))
    assert panel.remove_items(gone) == 2
    assert sorted(_by_name(panel)) == ["edge.png", "noisy.png"]
    assert panel.table.rowCount() == 2 and "broken" not in panel.failure_label.text()
    assert panel.store.alpha(gone[0]) is None  # its saved mask is deleted too
    assert (photos / "clean.png").is_file()  # never the photo itself
    reopened = _panel(qtbot, tmp_path, autostart=False)
    assert sorted(_by_name(reopened)) == ["edge.png", "noisy.png"]
