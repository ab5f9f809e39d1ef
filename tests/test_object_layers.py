"""Objects in the document: toggles, solo, merge, delete, rename are undoable table edits; the
cutout is the union of the visible objects plus clicks and strokes; objects survive a new
model mask and a refinement; the journal keeps them."""

from __future__ import annotations

import numpy as np
import pytest

from bgeraser_gui.core import object_layers as ol
from bgeraser_gui.core.document import KEEP, Document
from bgeraser_gui.core.history import Rect
from bgeraser_gui.core.image_io import LoadedImage
from bgeraser_gui.core.objects import SubjectObject


def _doc() -> Document:
    rgb = np.zeros((60, 100, 3), np.uint8)
    image = LoadedImage(None, rgb, None, None, None, 8, "PNG")
    mask = np.zeros((60, 100), np.float32)
    mask[10:30, 10:30] = 1.0  # subject 1
    mask[10:30, 60:90] = 0.8  # subject 2
    return Document(image, mask)


def _objects() -> list[SubjectObject]:
    def obj(i, box, value, source="model"):
        alpha = np.full((box.height, box.width), value, np.uint8)
        return SubjectObject(i, f"object {i}", box, alpha, 0.9, source)

    return [
        obj(1, Rect(10, 10, 30, 30), 255),
        obj(2, Rect(60, 10, 90, 30), 204),
        obj(3, Rect(40, 40, 60, 55), 230, "crop"),  # left out by the model
    ]


@pytest.fixture
def doc() -> Document:
    d = _doc()
    ol.set_objects(d, ol.object_layers(_objects(), (60, 100)))
    return d


def test_suggested_objects_make_the_cutout_found_ones_wait_hidden(doc):
    a = doc.alpha()
    assert a[20, 20] == 1.0 and a[20, 70] == pytest.approx(0.8) and a[45, 50] == 0.0
    assert [(e.id, e.visible) for e in ol.objects_of(doc)] == [(1, True), (2, True), (3, False)]


def test_toggle_solo_and_undo(doc):
    ol.toggle(doc, 3)
    assert doc.alpha()[45, 50] == pytest.approx(230 / 255)
    ol.solo(doc, 2)
    a = doc.alpha()
    assert a[20, 20] == 0.0 and a[45, 50] == 0.0 and a[20, 70] == pytest.approx(0.8)
    assert doc.history.labels()[-2:] == ["Show object 3", "Solo object 2"]
    doc.undo()
    doc.undo()
    assert doc.alpha()[45, 50] == 0.0 and doc.alpha()[20, 20] == 1.0


def test_strokes_and_new_model_masks_and_refinement_keep_the_objects(doc):
    ol.toggle(doc, 1)
    with doc.transaction("Stroke") as tx:  # a KEEP stroke inside the hidden object wins
        tx.touch("touchups", Rect(12, 12, 14, 14))
        doc.touchups[12:14, 12:14] = KEEP
    a = doc.alpha()
    assert a[12, 12] == 1.0 and a[20, 20] == 0.0
    mask = np.zeros((60, 100), np.float32)
    mask[5:35, 5:95] = 1.0  # a new model's mask
    doc.set_model_mask(mask, "other")
    assert doc.alpha()[20, 20] == 0.0 and doc.alpha()[20, 70] == 1.0
    assert doc.alpha()[32, 50] == 1.0  # new pixels of no object: kept
    doc.set_refined(mask * 0.5)
    assert doc.alpha()[20, 20] == 0.0 and doc.alpha()[20, 70] == 0.5


def test_merge_delete_rename(doc):
    ol.toggle(doc, 3)
    ol.merge(doc, [1, 3])
    assert [e.id for e in ol.objects_of(doc)] == [1, 2]
    ol.toggle(doc, 1)  # hides both merged parts
    assert doc.alpha()[20, 20] == 0.0 and doc.alpha()[45, 50] == 0.0
    ol.delete(doc, 2)
    assert [e.id for e in ol.objects_of(doc)] == [1] and doc.alpha()[20, 70] == 0.0
    ol.rename(doc, 1, "  dog ")
    assert ol.objects_of(doc)[0].name == "dog"
    for _ in range(4):
        doc.undo()
    assert [e.name for e in ol.objects_of(doc)] == ["object 1", "object 2", "object 3"]


def test_the_journal_keeps_the_objects_and_their_undo_steps(tmp_path):
    from PIL import Image
    from test_autosave import assert_same_history

    from bgeraser_gui.core.autosave import AutosaveWriter
    from bgeraser_gui.core.image_io import load_image
    from bgeraser_gui.core.journal import find_recoverable, recover_document

    Image.fromarray(_doc().rgb).save(tmp_path / "p.png")
    doc = Document(load_image(tmp_path / "p.png"), _doc().model_mask)
    writer = AutosaveWriter(tmp_path / "recovery")
    writer.track(doc)
    ol.set_objects(doc, ol.object_layers(_objects(), (60, 100)))
    ol.toggle(doc, 2)
    ol.rename(doc, 1, "dog")
    writer.close(discard=False)  # like a crash: the files stay
    assert writer.error is None
    (journal,) = find_recoverable(tmp_path / "recovery")
    restored = recover_document(journal)
    assert ol.objects_of(restored) == ol.objects_of(doc)
    assert np.array_equal(restored.alpha(), doc.alpha())
    assert_same_history(doc, restored)
