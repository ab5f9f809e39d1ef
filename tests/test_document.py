"""Document: touch-ups over the model mask, refined matte, cached alpha, undoable edits."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from bgeraser_gui.core.brush import BrushSettings, BrushStroke
from bgeraser_gui.core.document import Document
from bgeraser_gui.core.trimap import KEEP, REFINE, REMOVE

H, W = 120, 160


def _doc(mask=None) -> Document:
    rgb = np.random.default_rng(0).integers(0, 256, (H, W, 3), dtype=np.uint8)
    return Document(SimpleNamespace(rgb=rgb, path=None), model_mask=mask)


def _soft_mask(seed=1) -> np.ndarray:
    return np.random.default_rng(seed).random((H, W), dtype=np.float32)


def _expected_alpha(doc: Document) -> np.ndarray:
    """Independent full recomputation of the documented alpha rule."""
    if doc.refined_alpha is not None:
        base = doc.refined_alpha.copy()
    elif doc.model_mask is not None:
        base = doc.model_mask.copy()
    else:
        base = np.zeros((H, W), np.float32)
    base[doc.touchups == KEEP] = 1.0
    base[doc.touchups == REMOVE] = 0.0
    return base


def _stroke(doc, tool, points, size=14, hardness=1.0):
    stroke = BrushStroke(doc, tool, BrushSettings(size, hardness), points[0])
    for p in points[1:]:
        stroke.add_point(p)
    return stroke.finish()


def test_touchups_override_the_model_mask_and_survive_a_model_change():
    doc = _doc(_soft_mask(1))
    _stroke(doc, "keep", [(20.0, 20.0), (60.0, 30.0)])
    _stroke(doc, "remove", [(100.0, 90.0), (140.0, 100.0)])
    _stroke(doc, "refine", [(80.0, 60.0)])
    np.testing.assert_array_equal(doc.alpha(), _expected_alpha(doc))
    touchups = doc.touchups.copy()
    doc.set_model_mask(_soft_mask(2), "other-model")
    np.testing.assert_array_equal(doc.touchups, touchups)
    np.testing.assert_array_equal(doc.alpha(), _expected_alpha(doc))
    assert doc.model_name == "other-model"
    assert doc.history.labels()[-1] == "Segment (other-model)"
    eff = doc.effective_mask()
    assert (eff[touchups == KEEP] == 1).all() and (eff[touchups == REMOVE] == 0).all()
    refine = touchups == REFINE
    np.testing.assert_array_equal(eff[refine], doc.model_mask[refine])


def test_cached_alpha_matches_a_full_recompute_after_many_edits_and_undos():
    doc = _doc(_soft_mask(3))
    rng = np.random.default_rng(5)
    for i in range(25):
        tool = ("keep", "remove", "refine", "erase")[i % 4]
        pts = [tuple(map(float, rng.uniform(-10, 170, 2))) for _ in range(3)]
        _stroke(doc, tool, pts, size=int(rng.integers(1, 40)), hardness=float(rng.random()))
        if i % 7 == 3:
            doc.undo()
        np.testing.assert_array_equal(doc.alpha(), _expected_alpha(doc))
    while doc.undo():
        np.testing.assert_array_equal(doc.alpha(), _expected_alpha(doc))
    assert not doc.touchups.any()


def test_refined_matte_replaces_the_base_and_strokes_stay_local():
    doc = _doc(_soft_mask(4))
    refined = np.clip(_soft_mask(6) * 1.2, 0, 1)
    fg = np.random.default_rng(7).random((H, W, 3), dtype=np.float32)
    doc.set_refined(refined, fg)
    assert not doc.refined_stale
    np.testing.assert_array_equal(doc.alpha(), refined)
    np.testing.assert_array_equal(doc.alpha_u8(), np.rint(refined * 255).astype(np.uint8))
    _stroke(doc, "remove", [(30.0, 30.0)], size=10)
    assert doc.refined_stale
    doc.undo()
    assert not doc.refined_stale  # back at the refinement
    doc.redo()
    assert doc.refined_stale
    painted = doc.touchups == REMOVE
    assert (doc.alpha()[painted] == 0).all()
    np.testing.assert_array_equal(doc.alpha()[~painted], refined[~painted])
    assert doc.foreground is fg or np.array_equal(doc.foreground, fg)
    doc.set_model_mask(_soft_mask(8), "m2")  # a new model mask drops the stale matte
    assert doc.refined_alpha is None and doc.foreground is None
    doc.undo()  # ... and undo brings it back bit-exactly
    np.testing.assert_array_equal(doc.refined_alpha, refined)
    np.testing.assert_array_equal(doc.foreground, fg)
    np.testing.assert_array_equal(doc.model_mask, _soft_mask(4))
    doc.clear_refined()
    np.testing.assert_array_equal(doc.alpha(), _expected_alpha(doc))


def test_undo_redo_of_model_runs_and_clear_is_bit_exact_and_notifies():
    doc = _doc()
    seen = []
    doc.add_listener(seen.append)
    assert not doc.has_mask
    doc.set_model_mask(_soft_mask(9), "a")
    doc.set_model_mask(_soft_mask(10), "b")
    _stroke(doc, "keep", [(50.0, 50.0), (90.0, 50.0)])
    doc.clear_touchups()
    states = []
    for _ in range(4):
        states.append(doc.alpha().copy())
        doc.undo()
    assert doc.model_mask is None and not doc.alpha().any()
    for expected in reversed(states):
        doc.redo()
        np.testing.assert_array_equal(doc.alpha(), expected)
    assert None in seen  # whole-image changes are announced as None


def test_refine_inputs_are_copies_and_shapes_are_validated():
    doc = _doc(_soft_mask(11))
    rgb, mask, touchups = doc.refine_inputs()
    mask[...] = 0
    touchups[...] = KEEP
    assert doc.model_mask.any() and not doc.touchups.any()
    with pytest.raises(ValueError):
        doc.set_model_mask(np.zeros((H + 1, W), np.float32))
    with pytest.raises(ValueError):
        doc.set_refined(np.zeros((H, W), np.float32), np.zeros((H, W), np.float32))
    bad = np.full((H, W), np.nan, np.float32)
    bad[0, 0] = 3.0
    doc.set_model_mask(bad)
    assert doc.model_mask[0, 0] == 1.0 and doc.model_mask[1, 1] == 0.0


def test_failed_edit_is_rolled_back():
    doc = _doc(_soft_mask(12))
    before = doc.touchups.copy()
    with pytest.raises(RuntimeError), doc.transaction("boom") as tx:
        tx.touch("touchups")
        doc.touchups[10:20, 10:20] = KEEP
        raise RuntimeError("worker failed")
    np.testing.assert_array_equal(doc.touchups, before)
    np.testing.assert_array_equal(doc.alpha(), _expected_alpha(doc))
    assert doc.history.labels() == []


def test_model_runs_are_kept_by_reference_read_only_and_counted_once():
    doc = _doc()
    masks = [_soft_mask(20), _soft_mask(21), _soft_mask(22)]
    for i, m in enumerate(masks):
        doc.set_model_mask(m, f"run {i}")
    assert not doc.model_mask.flags.writeable
    with pytest.raises(ValueError):
        doc.model_mask[0, 0] = 0.5  # stored states can never change behind the history's back
    stored = [doc.model_mask]
    for _ in masks:
        doc.undo()
        stored.append(doc.model_mask)
    assert stored[-1] is None
    assert doc.history.memory_bytes == 3 * H * W * 4  # three distinct arrays, none duplicated
    for i in range(3):
        doc.redo()
        assert doc.model_mask is stored[2 - i]
        np.testing.assert_array_equal(doc.model_mask, masks[i])
    masks[0][...] = 0  # the caller's array is copied, not aliased
    doc.history.goto(doc, 1)
    assert doc.model_mask.any()


def test_a_prepared_mask_is_taken_over_without_a_copy_and_undo_stays_exact():
    from bgeraser_gui.core.document import PreparedMask, prepare_mask

    doc = _doc()
    first = _soft_mask(3)
    doc.set_model_mask(first, "a")
    raw = _soft_mask(4)
    raw[0, 0], raw[1, 1], raw[2, 2] = np.nan, np.inf, -3.0
    prepared = prepare_mask(raw, (H, W))
    assert isinstance(prepared, PreparedMask) and not np.shares_memory(prepared.array, raw)
    assert prepared.array[0, 0] == 0.0 and prepared.array[1, 1] == 1.0
    assert prepared.array[2, 2] == 0.0
    doc.set_model_mask(prepared, "b")
    assert doc.model_mask is prepared.array  # no full-size copy on the caller's thread
    assert not doc.model_mask.flags.writeable  # frozen by the history like any other layer
    doc.undo()
    np.testing.assert_array_equal(doc.model_mask, first)
    doc.redo()
    assert doc.model_mask is prepared.array
    with pytest.raises(ValueError):
        doc.set_model_mask(prepare_mask(np.zeros((H + 1, W), np.float32)))
    with pytest.raises(ValueError):
        prepare_mask(np.zeros((H, W), np.float32), (H, W + 1))
