"""Issue 19 (8): the batch table's headers sort, the review column says what it is, and export
dialogs open in the last export folder, never in the photos' own folder unless chosen."""

from __future__ import annotations

from pathlib import Path

import pytest
from app_fakes import InstantBackend, make_window, write_photo
from batch_fakes import BrightnessBackend, write_shapes
from PySide6.QtCore import QPoint, Qt

from bgeraser_gui.core.matting import RefineOptions
from bgeraser_gui.core.project_store import ProjectStore
from bgeraser_gui.gui.batch_panel import BatchPanel
from bgeraser_gui.gui.batch_table import COL_NAME, COL_SCORE, COL_STATE
from bgeraser_gui.gui.export_folder import default_export_dir

pytest.importorskip("pytestqt")


@pytest.fixture
def panel(qtbot, tmp_path):
    root = tmp_path / "photos"
    write_shapes(root / "b_edge.png", [(60, 20, 120, 90)])
    write_shapes(root / "c_clean.png", [(40, 25, 80, 65)])
    write_shapes(root / "a_noisy.png", [(40, 25, 80, 65)], speckles=12, seed=3)
    panel = BatchPanel(
        store=ProjectStore(tmp_path / "project"),
        backend_factory=BrightnessBackend,
        refine_options=RefineOptions(enabled=False),
    )
    qtbot.addWidget(panel)
    panel.add_paths([root])
    qtbot.waitUntil(
        lambda: (
            not panel.service.running and all(e.state == "ready" for e in panel.entries.values())
        ),
        timeout=60_000,
    )
    return panel


def _names(panel: BatchPanel) -> list[str]:
    return [panel.entries[i].name for i in panel.ordered_ids()]


def _click_header(qtbot, panel: BatchPanel, column: int) -> None:
    header = panel.table.horizontalHeader()
    x = header.sectionViewportPosition(column) + header.sectionSize(column) // 2
    qtbot.mouseClick(header.viewport(), Qt.MouseButton.LeftButton, pos=QPoint(x, 5))


def test_every_header_sorts_and_the_review_box_follows(qtbot, panel):
    queue_order = _names(panel)
    _click_header(qtbot, panel, COL_NAME)
    assert _names(panel) == sorted(queue_order)
    _click_header(qtbot, panel, COL_NAME)
    assert _names(panel) == sorted(queue_order, reverse=True)
    _click_header(qtbot, panel, COL_STATE)  # all "ready": a stable sort, no error
    assert sorted(_names(panel)) == sorted(queue_order)
    _click_header(qtbot, panel, COL_SCORE)
    _click_header(qtbot, panel, COL_SCORE)  # second click: worst first
    scores = [panel.entries[i].score for i in panel.ordered_ids()]
    assert scores == sorted(scores, reverse=True)
    assert panel.worst_first_check.isChecked()
    panel.worst_first_check.setChecked(False)  # back to the queue order
    assert _names(panel) == queue_order
    _click_header(qtbot, panel, COL_NAME)
    assert not panel.worst_first_check.isChecked()


def test_the_review_column_is_named_for_what_it_is_and_explained(panel):
    header = panel.table.horizontalHeaderItem(COL_SCORE)
    assert header.text() == "Needs review"
    assert "0.00 = looks clean" in header.toolTip() and "1.00" in header.toolTip()
    for column in (COL_NAME, COL_STATE):
        assert "sort" in panel.table.horizontalHeaderItem(column).toolTip()


def test_export_opens_in_the_last_export_folder_never_the_photos_folder(qtbot, tmp_path):
    from bgeraser_gui.core.trimap import KEEP

    photos = tmp_path / "dataset"
    photos.mkdir()
    window = make_window(qtbot, tmp_path / "s.ini", {"fake": InstantBackend()})
    window.open_paths([write_photo(photos / "a.png", 30, 20)])
    qtbot.waitUntil(
        lambda: window.session.document is not None and window.session.document.has_mask
    )
    doc = window.session.document
    with doc.transaction("Keep") as tx:
        tx.touch("touchups")
        doc.touchups[:, :5] = KEEP
    first = Path(window.dialogs._default_out_dir())
    assert first != photos and first.is_dir()  # Pictures or home, not the data set
    window.settings.set_last_export({"format": "png"}, str(tmp_path / "cutouts"))
    (tmp_path / "cutouts").mkdir()
    assert window.dialogs._default_out_dir() == str(tmp_path / "cutouts")
    fresh = BatchPanel(store=ProjectStore(tmp_path / "p"))  # no export yet
    qtbot.addWidget(fresh)
    assert fresh._export_dir == default_export_dir() and Path(fresh._export_dir).is_dir()
