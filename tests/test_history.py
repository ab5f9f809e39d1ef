"""Undo history: only changed tiles are stored, undo/redo are bit-exact, the budget holds."""

from __future__ import annotations

import numpy as np
import pytest

from bgeraser_gui.core.history import TILE, History, Rect


class Layers:
    """Minimal LayerTarget: named arrays, records the change notifications."""

    def __init__(self, **layers: np.ndarray | None) -> None:
        self.layers = dict(layers)
        self.changes: list[tuple[set[str], Rect | None]] = []

    def layer(self, name):
        return self.layers[name]

    def restore_layer(self, name, array):
        self.layers[name] = array

    def layers_changed(self, names, rect):
        self.changes.append((set(names), rect))


def _snapshot(target: Layers) -> dict[str, np.ndarray | None]:
    return {k: None if v is None else v.copy() for k, v in target.layers.items()}


def _assert_same(target: Layers, snap: dict[str, np.ndarray | None]) -> None:
    for name, expected in snap.items():
        actual = target.layers[name]
        if expected is None:
            assert actual is None, name
        else:
            assert actual is not None and actual.dtype == expected.dtype
            np.testing.assert_array_equal(actual, expected, err_msg=name)


def test_only_changed_tiles_are_stored_and_undo_redo_is_bit_exact():
    rng = np.random.default_rng(1)
    target = Layers(mask=rng.random((700, 900), dtype=np.float32))
    history = History()
    before = _snapshot(target)
    tx = history.begin(target, "edit")
    rect = Rect(300, 260, 330, 270)  # inside tile (row 1, column 1)
    tx.touch("mask", Rect(0, 0, 900, 700))  # touched everything, but changes one tile only
    target.layers["mask"][rect.slices()] += 0.25
    entry = tx.commit()
    after = _snapshot(target)
    assert entry is not None and entry.label == "edit"
    (delta,) = entry.deltas
    assert list(delta.before) == [(1, 1)]
    assert entry.bbox() == Rect(TILE, TILE, 2 * TILE, 2 * TILE)
    assert history.undo(target)
    _assert_same(target, before)
    assert target.changes[-1] == ({"mask"}, Rect(TILE, TILE, 2 * TILE, 2 * TILE))
    assert history.redo(target)
    _assert_same(target, after)
    assert not history.redo(target)


def test_unchanged_edit_records_nothing():
    target = Layers(mask=np.zeros((50, 50), np.uint8))
    history = History()
    tx = history.begin(target, "noop")
    tx.touch("mask", Rect(0, 0, 10, 10))
    target.layers["mask"][0:10, 0:10] = 0
    assert tx.commit() is None
    assert history.labels() == [] and not history.can_undo()


def test_swapped_layers_and_3d_tile_edits_round_trip():
    rng = np.random.default_rng(2)
    target = Layers(alpha=None, fg=rng.random((300, 280, 3), dtype=np.float32))
    history = History()
    states = [_snapshot(target)]
    tx = history.begin(target, "edit fg in place")  # a 3-channel layer, tile by tile
    tx.touch("fg", Rect(250, 10, 280, 300))
    target.layers["fg"][10:300, 250:280] = 0.25
    entry = tx.commit()
    assert sorted(entry.deltas[0].before) == [(0, 0), (0, 1), (1, 0), (1, 1)]
    states.append(_snapshot(target))
    tx = history.begin(target, "refine")
    tx.replace("alpha", rng.random((300, 280), dtype=np.float32))
    tx.replace("fg", None)
    tx.commit()
    states.append(_snapshot(target))
    tx = history.begin(target, "fg back")
    tx.replace("fg", rng.random((300, 280, 3), dtype=np.float32))
    tx.commit()
    states.append(_snapshot(target))
    assert not target.layers["alpha"].flags.writeable  # swapped arrays are frozen
    for index in (2, 1, 0):
        history.undo(target)
        _assert_same(target, states[index])
    for index in (1, 2, 3):
        history.redo(target)
        _assert_same(target, states[index])
    history.goto(target, 0)
    _assert_same(target, states[0])
    assert history.index == 0
    tx = history.begin(target, "swap behind touch")
    tx.touch("fg")
    target.layers["fg"] = np.zeros((10, 10, 3), np.float32)
    with pytest.raises(RuntimeError):
        tx.commit()


def test_touch_and_replace_of_one_layer_in_one_edit_are_refused():
    target = Layers(mask=np.zeros((60, 60), np.float32))
    tx = History().begin(target, "bad")
    tx.touch("mask", Rect(0, 0, 10, 10))
    with pytest.raises(RuntimeError):
        tx.replace("mask", np.ones((60, 60), np.float32))
    tx = History().begin(target, "bad too")
    tx.replace("mask", np.ones((60, 60), np.float32))
    with pytest.raises(RuntimeError):
        tx.touch("mask")


def test_new_edit_after_undo_discards_the_redo_branch():
    target = Layers(mask=np.zeros((40, 40), np.uint8))
    history = History()
    for value in (1, 2, 3):
        tx = history.begin(target, f"set {value}")
        tx.touch("mask", Rect(0, 0, 5, 5))
        target.layers["mask"][:5, :5] = value
        tx.commit()
    history.undo(target)
    history.undo(target)
    assert history.redo_label() == "set 2"
    tx = history.begin(target, "set 9")
    tx.touch("mask", Rect(0, 0, 5, 5))
    target.layers["mask"][:5, :5] = 9
    tx.commit()
    assert history.labels() == ["set 1", "set 9"] and not history.can_redo()
    history.undo(target)
    assert int(target.layers["mask"][0, 0]) == 1


def test_memory_budget_drops_oldest_entries_and_keeps_the_rest_exact():
    rng = np.random.default_rng(3)
    target = Layers(mask=np.zeros((512, 512), np.float32))
    history = History(budget_bytes=1_000_000)
    snapshots = [_snapshot(target)]
    for i in range(12):  # random noise does not compress: ~2 x 256 KB per entry
        tx = history.begin(target, f"noise {i}")
        tx.touch("mask", Rect(0, 0, TILE, TILE))
        target.layers["mask"][:TILE, :TILE] = rng.random((TILE, TILE), dtype=np.float32)
        tx.commit()
        snapshots.append(_snapshot(target))
    assert history.memory_bytes <= history.budget_bytes
    kept = len(history.labels())
    assert 0 < kept < 12 and history.dropped == 12 - kept
    assert history.labels()[-1] == "noise 11" and history.labels()[0] == f"noise {12 - kept}"
    while history.can_undo():
        history.undo(target)
    _assert_same(target, snapshots[12 - kept])


def test_newest_entry_is_kept_even_when_larger_than_the_budget():
    rng = np.random.default_rng(4)
    target = Layers(mask=np.zeros((300, 300), np.float32))
    history = History(budget_bytes=10)
    tx = history.begin(target, "big")
    tx.touch("mask")
    target.layers["mask"][...] = rng.random((300, 300), dtype=np.float32)
    tx.commit()
    assert history.labels() == ["big"] and history.can_undo()


def test_listeners_and_rollback():
    target = Layers(mask=np.zeros((30, 30), np.uint8))
    history = History()
    calls = []
    history.add_listener(lambda h: calls.append((h.index, len(h.labels()))))
    tx = history.begin(target, "a")
    tx.touch("mask", Rect(0, 0, 3, 3))
    target.layers["mask"][:3, :3] = 7
    tx.commit()
    history.undo(target)
    history.redo(target)
    assert calls == [(1, 1), (0, 1), (1, 1)]
    tx = history.begin(target, "aborted")
    tx.touch("mask", Rect(10, 10, 20, 20))
    target.layers["mask"][10:20, 10:20] = 5
    tx.rollback()
    assert not target.layers["mask"][10:20, 10:20].any()
    assert history.labels() == ["a"] and len(calls) == 3
