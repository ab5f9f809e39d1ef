"""Select-object clicks in the document: one undo step each, kept over a model change."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np

from bgeraser_gui.core.brush import BrushSettings, BrushStroke
from bgeraser_gui.core.document import Document
from bgeraser_gui.core.interactive import Click, ClickSession

H, W = 120, 160


def _scene():
    rgb = np.full((H, W, 3), (30, 90, 30), np.uint8)
    rgb[30:90, 20:70] = (220, 60, 60)  # the subject
    rgb[40:80, 100:140] = (60, 60, 220)  # another object the model left out
    model = np.zeros((H, W), np.float32)
    model[30:90, 20:70] = 1.0
    return Document(SimpleNamespace(rgb=rgb, path=None), model_mask=model), model


def _click(doc: Document, click: Click) -> np.ndarray:
    session = ClickSession.replay(doc.rgb, doc.model_mask, doc.clicks)
    mask = session.add(click).copy()
    doc.set_clicks(session.clicks, mask, "Add object")
    return mask


def test_each_click_is_one_undo_step_and_shows_in_alpha():
    doc, model = _scene()
    first = _click(doc, Click(120, 60, True))
    assert doc.alpha()[60, 120] == 1.0 and doc.clicks == (Click(120, 60, True),)
    second = _click(doc, Click(45, 60, False))
    assert doc.alpha()[60, 45] == 0.0 and len(doc.clicks) == 2
    assert doc.history.labels()[-2:] == ["Add object", "Add object"]
    doc.undo()
    np.testing.assert_array_equal(doc.alpha(), first)
    assert doc.clicks == (Click(120, 60, True),)
    doc.undo()
    np.testing.assert_array_equal(doc.alpha(), model)
    assert doc.clicks == () and doc.click_mask is None
    doc.redo()
    doc.redo()
    np.testing.assert_array_equal(doc.alpha(), second)
    assert len(doc.clicks) == 2


def test_clicks_survive_a_model_change_and_feed_refinement_and_strokes():
    doc, model = _scene()
    clicked = _click(doc, Click(120, 60, True))
    _, base, _ = doc.refine_inputs()
    np.testing.assert_array_equal(base, clicked)  # refinement works on the click result
    stroke = BrushStroke(doc, "keep", BrushSettings(6, 1.0), (5.0, 5.0))
    stroke.finish()
    assert doc.alpha()[5, 5] == 1.0 and doc.alpha()[60, 120] == 1.0
    doc.set_model_mask(np.zeros((H, W), np.float32), "other model")
    assert doc.clicks == (Click(120, 60, True),)  # kept, to be replayed on the new mask
    assert doc.click_mask is None and doc.alpha()[60, 120] == 0.0
    assert doc.alpha()[5, 5] == 1.0  # strokes survive too
    doc.undo()
    np.testing.assert_array_equal(doc.click_mask, clicked)


def test_a_click_after_refinement_drops_the_matte_and_undo_brings_it_back():
    doc, model = _scene()
    doc.set_refined(model * 0.5)
    _click(doc, Click(120, 60, True))
    assert doc.refined_alpha is None and doc.alpha()[60, 120] == 1.0
    doc.undo()
    assert doc.refined_alpha is not None and doc.alpha()[60, 40] == 0.5


def test_clicks_are_journaled_and_recovered_with_their_undo_steps(tmp_path):
    from PIL import Image
    from test_autosave import assert_same_history

    from bgeraser_gui.core.autosave import AutosaveWriter
    from bgeraser_gui.core.image_io import load_image
    from bgeraser_gui.core.journal import find_recoverable, recover_document

    scene, model = _scene()
    Image.fromarray(scene.rgb).save(tmp_path / "p.png")
    doc = Document(load_image(tmp_path / "p.png"), model_mask=model)
    writer = AutosaveWriter(tmp_path / "recovery")
    writer.track(doc)
    _click(doc, Click(120, 60, True))
    _click(doc, Click(45, 60, False))
    writer.close(discard=False)  # like a crash: the files stay
    assert writer.error is None
    (journal,) = find_recoverable(tmp_path / "recovery")
    restored = recover_document(journal)
    assert restored.clicks == doc.clicks
    assert_same_history(doc, restored)


def test_a_click_reports_only_the_box_it_changed_so_the_editor_redraws_only_there():
    from bgeraser_gui.core.history import Rect
    from bgeraser_gui.services.select import changed_box

    doc, model = _scene()
    seen = []
    doc.add_listener(seen.append)
    session = ClickSession.replay(doc.rgb, doc.model_mask, doc.clicks)
    before = session.mask.copy()
    after = session.add(Click(120, 60, True)).copy()
    box = changed_box(before, after)
    assert not box.is_empty() and box.area < H * W / 4
    assert changed_box(after, after).is_empty()
    doc.set_clicks(session.clicks, after, "Add object", box)
    assert seen[-1] == box  # not None: the whole photo
    np.testing.assert_array_equal(doc.alpha(), after)  # the alpha is right everywhere
    doc.set_refined(np.full((H, W), 0.5, np.float32))  # with a matte, a click changes all
    doc.set_clicks(session.clicks, after, "Add object", Rect(0, 0, 1, 1))
    assert seen[-1] is None
