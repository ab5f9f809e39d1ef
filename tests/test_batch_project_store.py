"""Project autosave: queue and edits survive a reopen; damage never loses the rest."""

from __future__ import annotations

import numpy as np
import pytest

from bgeraser_gui.core.project_store import ProjectStore, QueueEntry, item_id_for


def _alpha(value: int = 200) -> np.ndarray:
    a = np.zeros((30, 40), np.uint8)
    a[5:25, 10:30] = value
    return a


def test_queue_round_trip(tmp_path):
    store = ProjectStore(tmp_path / "p")
    entries = [
        QueueEntry("/photos/a.jpg", state="ready", score=0.3, reasons=["x"]),
        QueueEntry("/photos/b.jpg", state="failed", error="b.jpg: not an image"),
        QueueEntry("/photos/c.jpg", state="exported", output="/out/c_cutout.png"),
    ]
    for e in entries:
        if e.state != "failed":
            store.save_result(e.id, _alpha(), None)
    store.save_queue(entries)
    assert ProjectStore(tmp_path / "p").load_queue() == entries


def test_interrupted_and_maskless_items_come_back_queued(tmp_path):
    store = ProjectStore(tmp_path / "p")
    store.save_queue(
        [QueueEntry("/a.jpg", state="segmenting"), QueueEntry("/b.jpg", state="ready", score=0.1)]
    )
    assert [e.state for e in store.load_queue()] == ["queued", "queued"]


def test_damaged_queue_file_and_records(tmp_path):
    store = ProjectStore(tmp_path / "p")
    (tmp_path / "p" / "queue.json").write_text("{not json", encoding="utf-8")
    assert store.load_queue() == []
    (tmp_path / "p" / "queue.json").write_text(
        '{"version": 1, "items": [{"source": "/a.jpg"}, {"source": "/b.jpg", "state": "??"}, 7]}',
        encoding="utf-8",
    )
    assert [e.name for e in store.load_queue()] == ["a.jpg"]


def test_edit_wins_over_result_and_hides_stale_foreground(tmp_path):
    store = ProjectStore(tmp_path / "p")
    item = item_id_for("/photos/a.jpg")
    fg = np.full((30, 40, 3), 0.5, np.float32)
    store.save_result(item, _alpha(200), fg)
    assert np.array_equal(store.alpha(item), _alpha(200))
    assert store.foreground(item).shape == (30, 40, 3)
    store.save_edit(item, _alpha(255))
    assert np.array_equal(store.alpha(item), _alpha(255))
    assert store.foreground(item) is None  # colours belong to the automatic alpha
    store.discard_edit(item)
    assert np.array_equal(store.alpha(item), _alpha(200))
    store.forget(item)
    assert store.alpha(item) is None


def test_no_temporary_files_left(tmp_path):
    store = ProjectStore(tmp_path / "p")
    store.save_queue([QueueEntry("/a.jpg")])
    store.save_result("abc", _alpha(), None)
    leftovers = [p for p in (tmp_path / "p").rglob("*") if ".part" in p.name]
    assert leftovers == []


def test_unknown_state_is_rejected():
    with pytest.raises(ValueError):
        QueueEntry("/a.jpg", state="done")
