"""Autosave journal: a process killed with SIGKILL right after its edits were journaled is
recovered bit-exactly (mask, touch-ups, alpha) with a working undo history; compaction,
torn records, changed photos and clean closes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from PIL import Image

from bgeraser_gui.core import autosave
from bgeraser_gui.core.autosave import AutosaveWriter
from bgeraser_gui.core.brush import BrushSettings, BrushStroke
from bgeraser_gui.core.document import LAYERS, Document
from bgeraser_gui.core.image_io import load_image
from bgeraser_gui.core.journal import find_recoverable, journal_name, recover_document

# Deterministic edits, run by the killed child and (for the expected state) by the test.
EDITS = textwrap.dedent(
    """
    import numpy as np
    from bgeraser_gui.core.brush import BrushSettings, BrushStroke

    def edit(doc):
        rng = np.random.default_rng(3)
        doc.set_model_mask(rng.random((doc.height, doc.width), dtype=np.float32), "fake")
        strokes = [("keep", (10, 10), (60, 40)), ("remove", (200, 150), (300, 100)),
                   ("refine", (100, 100), (120, 180)), ("erase", (40, 20), (45, 30))]
        for tool, p0, p1 in strokes:
            stroke = BrushStroke(doc, tool, BrushSettings(30, 0.5), p0)
            stroke.add_point(p1)
            stroke.finish()
        doc.undo()
        doc.undo()
        doc.redo()
        stroke = BrushStroke(doc, "keep", BrushSettings(9, 1.0), (300, 20))
        stroke.add_point((310, 200))
        stroke.finish()
    """
)
CHILD = textwrap.dedent(
    """
    import sys, time
    from bgeraser_gui.core.autosave import AutosaveWriter
    from bgeraser_gui.core.document import Document
    from bgeraser_gui.core.image_io import load_image
    exec(sys.argv[3])
    writer = AutosaveWriter(sys.argv[2])
    doc = Document(load_image(sys.argv[1]))
    writer.track(doc)
    edit(doc)
    writer.wait_idle()
    print("journaled", flush=True)
    time.sleep(120)
    """
)


def _photo(path, w=320, h=240):
    rgb = np.random.default_rng(0).integers(0, 256, (h, w, 3), dtype=np.uint8)
    Image.fromarray(rgb).save(path)
    return path


def _expected(photo) -> Document:
    scope: dict = {}
    exec(EDITS, scope)
    doc = Document(load_image(photo))
    scope["edit"](doc)
    return doc


def assert_same_state(a: Document, b: Document) -> None:
    assert_same_state_layers(a, b)
    assert a.history.labels() == b.history.labels() and a.history.index == b.history.index


def assert_same_state_layers(a: Document, b: Document) -> None:
    for name in LAYERS:
        la, lb = a.layer(name), b.layer(name)
        assert (la is None) == (lb is None), name
        if la is not None:
            assert la.dtype == lb.dtype and np.array_equal(la, lb), name
    assert np.array_equal(a.alpha(), b.alpha())


def assert_same_history(a: Document, b: Document) -> None:
    """Every undo and redo step of `b` gives exactly `a`'s state at that step."""
    assert_same_state(a, b)
    while a.undo():
        assert b.undo()
        assert_same_state(a, b)
    assert not b.undo()
    while a.redo():
        assert b.redo()
        assert_same_state(a, b)


def test_a_process_killed_with_sigkill_is_recovered_bit_exactly_with_undo(tmp_path):
    photo, root = _photo(tmp_path / "shoe.png"), tmp_path / "recovery"
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(photo), str(root), EDITS],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout.readline().strip() == "journaled"
        os.kill(child.pid, signal.SIGKILL)
    finally:
        child.kill()
        child.wait(30)
    assert child.returncode == -signal.SIGKILL
    (journal,) = find_recoverable(root)
    assert journal.source == photo.resolve() and journal.problem is None
    assert journal.thumbnail is not None
    restored = recover_document(journal)
    expected = _expected(photo)
    assert restored.touchups.any() and restored.model_name == "fake"
    assert_same_history(expected, restored)


def test_a_running_session_s_journal_is_not_offered_and_a_clean_close_deletes_it(tmp_path):
    photo, root = _photo(tmp_path / "a.png"), tmp_path / "recovery"
    writer = AutosaveWriter(root)
    doc = Document(load_image(photo))
    writer.track(doc)
    stroke = BrushStroke(doc, "keep", BrushSettings(20), (30, 30))
    stroke.finish()
    writer.wait_idle()
    assert len(list(root.iterdir())) == 1
    assert find_recoverable(root) == []  # locked by this (running) writer
    writer.close(discard=True)
    assert list(root.iterdir()) == []


def _random_session(doc: Document, rng: np.random.Generator, steps: int) -> None:
    tools = ["keep", "remove", "refine", "erase"]
    for i in range(steps):
        roll = rng.random()
        if roll < 0.2:
            doc.undo()
        elif roll < 0.3:
            doc.redo()
        elif roll < 0.35:
            doc.set_model_mask(rng.random((doc.height, doc.width), dtype=np.float32), f"m{i}")
        elif roll < 0.4:
            doc.history.goto(doc, int(rng.integers(0, doc.history.index + 1)))
        else:
            p0 = tuple(float(v) for v in rng.integers(0, 320, 2))
            stroke = BrushStroke(doc, tools[i % 4], BrushSettings(int(rng.integers(3, 60))), p0)
            stroke.add_point(tuple(float(v) for v in rng.integers(0, 320, 2)))
            stroke.finish()


@pytest.mark.parametrize("compact_bytes", [1 << 30, 20_000, 0])
def test_random_edit_sessions_survive_compaction_and_deep_undo(
    tmp_path, monkeypatch, compact_bytes
):
    """Snapshots at every change (0), now and then (20 kB) or never: same recovered state."""
    monkeypatch.setattr(autosave, "COMPACT_BYTES", compact_bytes)
    photo, root = _photo(tmp_path / "p.png"), tmp_path / "recovery"
    writer = AutosaveWriter(root)
    doc = Document(load_image(photo))
    writer.track(doc)
    _random_session(doc, np.random.default_rng(compact_bytes % 7), 60)
    writer.close(discard=False)  # like a crash: the files stay, the locks go
    assert writer.error is None
    (journal,) = find_recoverable(root)
    folder = journal.folder
    assert len([p for p in folder.iterdir() if p.name.startswith("snapshot-")]) == 1
    assert_same_history(doc, recover_document(journal))


def test_a_torn_last_record_loses_only_that_record(tmp_path):
    photo, root = _photo(tmp_path / "p.png"), tmp_path / "recovery"
    writer = AutosaveWriter(root)
    doc = Document(load_image(photo))
    writer.track(doc)
    for x in (20, 80):
        BrushStroke(doc, "keep", BrushSettings(20), (x, 30)).finish()
        writer.wait_idle()
    expected = [doc.touchups.copy()]
    BrushStroke(doc, "remove", BrushSettings(20), (150, 30)).finish()
    writer.close(discard=False)
    (journal,) = find_recoverable(root)
    log = max(journal.folder.glob("journal-*.log"))
    data = log.read_bytes()
    log.write_bytes(data[:-7])  # the kill landed in the middle of the last append
    assert log.name == journal_name(1)
    restored = recover_document(journal)
    assert np.array_equal(restored.touchups, expected[0])
    assert restored.undo() and restored.undo() and not restored.undo()


def test_a_changed_photo_is_reported_and_not_restored(tmp_path):
    photo, root = _photo(tmp_path / "p.png"), tmp_path / "recovery"
    writer = AutosaveWriter(root)
    doc = Document(load_image(photo))
    writer.track(doc)
    BrushStroke(doc, "keep", BrushSettings(20), (20, 30)).finish()
    writer.close(discard=False)
    _photo(photo, 300, 200)
    (journal,) = find_recoverable(root)
    assert journal.problem == "the photo was changed since"
    with pytest.raises(ValueError, match="changed"):
        recover_document(journal)


def test_undo_past_what_a_snapshot_keeps_writes_a_new_snapshot(tmp_path, monkeypatch):
    """With a tiny undo budget the files hold only the newest steps; going back further
    (History panel click) must still recover the exact state, and undo what the files hold."""
    monkeypatch.setattr(autosave, "UNDO_BUDGET_BYTES", 6_000)
    photo, root = _photo(tmp_path / "p.png"), tmp_path / "recovery"
    writer = AutosaveWriter(root)
    doc = Document(load_image(photo))
    journal = writer.track(doc)
    for i in range(12):
        stroke = BrushStroke(doc, "keep" if i % 2 else "remove", BrushSettings(25), (20.0 * i, 9))
        stroke.add_point((20.0 * i + 5, 200))
        stroke.finish()
    writer.submit(journal.snapshot)  # compacted: the files now hold the newest steps only
    doc.history.goto(doc, 3)  # far below them
    writer.close(discard=False)
    (journal,) = find_recoverable(root)
    restored = recover_document(journal)
    assert np.array_equal(restored.touchups, doc.touchups)
    assert 0 < restored.history.index <= 3 and len(restored.history.entries) < 12
    while restored.undo():
        assert doc.undo()
        assert np.array_equal(restored.touchups, doc.touchups)


def test_entries_the_live_history_drops_for_its_budget_keep_the_journal_in_step(tmp_path):
    photo, root = _photo(tmp_path / "p.png"), tmp_path / "recovery"
    writer = AutosaveWriter(root)
    doc = Document(load_image(photo), history_budget_bytes=40_000)
    writer.track(doc)
    _random_session(doc, np.random.default_rng(11), 50)
    assert doc.history.dropped > 0
    writer.close(discard=False)
    (journal,) = find_recoverable(root)
    restored = recover_document(journal)
    assert_same_state_layers(doc, restored)
    while doc.undo():  # the journal may hold more steps than the live history kept
        assert restored.undo()
        assert_same_state_layers(doc, restored)


def test_a_failed_write_is_reported_and_the_next_edit_writes_everything_again(
    tmp_path, monkeypatch
):
    """A full disk during one edit loses no later state: the next change writes a snapshot."""
    photo, root = _photo(tmp_path / "p.png"), tmp_path / "recovery"
    writer = AutosaveWriter(root)
    doc = Document(load_image(photo))
    writer.track(doc)
    BrushStroke(doc, "keep", BrushSettings(20), (20, 30)).finish()
    writer.wait_idle()
    real_write, failures = autosave.atomic_write, []

    def full_disk(path, write, *args, **kwargs):
        if not failures:
            failures.append(path)
            raise OSError(28, "No space left on device")
        return real_write(path, write, *args, **kwargs)

    monkeypatch.setattr(autosave, "atomic_write", full_disk)
    doc.set_model_mask(np.random.default_rng(1).random((240, 320), dtype=np.float32), "m")
    writer.wait_idle()
    assert failures and "No space" in writer.error
    BrushStroke(doc, "remove", BrushSettings(20), (90, 30)).finish()
    writer.close(discard=False)
    (journal,) = find_recoverable(root)
    assert_same_history(doc, recover_document(journal))
