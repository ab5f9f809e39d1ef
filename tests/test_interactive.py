"""The click-to-select engine on synthetic images: polarity, locality, memory, determinism."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from bgeraser_gui.core.interactive import Click, ClickSession


def _iou(mask: np.ndarray, truth: np.ndarray) -> float:
    a, b = mask >= 0.5, truth > 0
    return float((a & b).sum() / max((a | b).sum(), 1))


def _scene(seed: int = 0):
    """Green noisy ground, a red disc (the subject) touching a blue box (unwanted), and a
    yellow square far away."""
    rng = np.random.default_rng(seed)
    img = np.full((200, 300, 3), (40, 120, 40), np.uint8)
    cv2.circle(img, (100, 100), 50, (200, 40, 40), -1)
    cv2.rectangle(img, (150, 70), (230, 130), (40, 40, 200), -1)
    cv2.rectangle(img, (250, 160), (285, 190), (220, 210, 40), -1)
    img = (img + rng.normal(0, 6, img.shape)).clip(0, 255).astype(np.uint8)
    disc = np.zeros((200, 300), np.uint8)
    cv2.circle(disc, (100, 100), 50, 1, -1)
    box = np.zeros((200, 300), np.uint8)
    cv2.rectangle(box, (150, 70), (230, 130), 1, -1)
    box &= 1 - disc
    square = np.zeros((200, 300), np.uint8)
    cv2.rectangle(square, (250, 160), (285, 190), 1, -1)
    return img, disc.astype(bool), box.astype(bool), square.astype(bool)


def test_negative_click_removes_the_touching_object_and_keeps_the_subject():
    img, disc, box, _ = _scene()
    mask = (disc | box).astype(np.float32)
    out = ClickSession(img, mask).add(Click(200, 100, positive=False))
    assert _iou(out, disc) > 0.97
    assert (out[disc] >= 0.5).mean() > 0.98  # the subject is not bitten into


def test_positive_click_adds_the_object_under_it_and_only_it():
    img, disc, box, square = _scene()
    out = ClickSession(img, disc.astype(np.float32)).add(Click(267, 175, positive=True))
    assert (out[square] >= 0.5).mean() > 0.95
    assert (out[box] >= 0.5).mean() < 0.02  # the box was not clicked


def test_a_click_changes_nothing_far_from_it():
    img, disc, box, square = _scene()
    mask = (disc | box).astype(np.float32)
    out = ClickSession(img, mask).add(Click(267, 175, positive=True))
    far = np.ones_like(disc)
    far[140:, 230:] = False
    np.testing.assert_array_equal(out[far], mask[far])


def test_from_nothing_the_first_positive_click_selects_an_object():
    img, disc, _, _ = _scene()
    out = ClickSession(img, None).add(Click(100, 100, positive=True))
    assert _iou(out, disc) > 0.95


def test_undo_restores_each_step_and_replay_is_deterministic():
    img, disc, box, square = _scene()
    start = (disc | box).astype(np.float32)
    clicks = [Click(200, 100, False), Click(267, 175, True), Click(60, 100, True)]
    session = ClickSession(img, start)
    after = [session.add(c).copy() for c in clicks]
    assert session.clicks == tuple(clicks)
    again = ClickSession.replay(img, start, clicks)
    np.testing.assert_array_equal(again.mask, after[-1])
    np.testing.assert_array_equal(session.undo(), after[1])
    np.testing.assert_array_equal(session.undo(), after[0])
    np.testing.assert_array_equal(session.undo(), start)
    assert session.clicks == ()
    np.testing.assert_array_equal(session.undo(), start)  # nothing left: no-op


def test_earlier_clicks_stay_seeds():
    img, disc, box, _ = _scene()
    session = ClickSession(img, (disc | box).astype(np.float32))
    session.add(Click(200, 100, False))  # remove the box
    out = session.add(Click(145, 100, True))  # a positive click near the cut
    assert out[100, 200] < 0.5  # the negative click's pixel is still out


def test_segment_proposal_is_used_and_cached_per_crop():
    img, disc, box, square = _scene()
    calls = []

    def segment(crop: np.ndarray) -> np.ndarray:
        calls.append(crop.shape)
        # "the model": anything not green is salient
        return (np.abs(crop.astype(int) - (40, 120, 40)).sum(axis=2) > 90).astype(np.float32)

    session = ClickSession(img, disc.astype(np.float32), segment)
    out = session.add(Click(190, 100, True))
    assert (out[box] >= 0.5).mean() > 0.95
    n = len(calls)
    session.undo()
    session.add(Click(192, 101, True))  # nearby click: same crop, no model run
    assert len(calls) == n


def test_big_images_work_on_a_copy_and_write_back_only_the_change():
    img, disc, box, _ = _scene()
    big = cv2.resize(img, (3000, 2000), interpolation=cv2.INTER_NEAREST)
    mask = cv2.resize((disc | box).astype(np.float32), (3000, 2000), interpolation=cv2.INTER_LINEAR)
    mask[0:50, 0:50] = 0.3  # soft values far away stay exactly as they were
    out = ClickSession(big, mask).add(Click(2000, 1000, False))
    big_disc = cv2.resize(disc.astype(np.uint8), (3000, 2000), interpolation=cv2.INTER_NEAREST)
    assert _iou(out, big_disc) > 0.95
    assert (out[0:50, 0:50] == np.float32(0.3)).all()


def test_bad_input_is_refused():
    img, disc, _, _ = _scene()
    with pytest.raises(ValueError):
        ClickSession(img, disc[:10].astype(np.float32))
    with pytest.raises(ValueError):
        ClickSession(img, None).add(Click(300, 0, True))


@pytest.mark.slow
def test_real_photo_one_positive_click_on_the_missed_object(isnet_fp16_path, eval_dir):
    """COCO bus: the model takes the lamp post; one click on the bus brings most of it in."""
    from bgeraser_gui.backends.loader import load_backend
    from bgeraser_gui.core.eval_dataset import load_sample, scan_dataset

    dataset = scan_dataset(eval_dir / "coco_mval_sub")
    sample = next(s for s in dataset.samples if s.stem == "bus00_000000274272")
    loaded = load_sample(sample)
    truth = loaded.alpha > 127
    backend = load_backend(str(isnet_fp16_path), device="cpu")
    auto = backend.predict(loaded.rgb)
    before = _iou(auto, truth)
    session = ClickSession(loaded.rgb, auto, backend.predict)
    after = session.add(Click(332, 334, positive=True))  # inside the bus, which was missed
    assert before < 0.05
    assert _iou(after, truth) > before + 0.3
    far = np.ones_like(truth)
    far[150:, 100:] = False  # the lamp post and sky on the left/top stay as the model said
    np.testing.assert_array_equal(after[far], auto[far])


def _dotted_shirt_scene(seed: int):
    """The red disc (the subject) beside a white 'shirt' printed with dark dots; the click
    point (205, 105) is on white."""
    rng = np.random.default_rng(seed)
    img = np.full((200, 300, 3), (40, 120, 40), np.uint8)
    cv2.circle(img, (90, 100), 45, (200, 40, 40), -1)
    shirt = np.zeros((200, 300), bool)
    shirt[60:150, 150:260] = True
    img[shirt] = (230, 230, 230)
    for _ in range(90):
        x, y = int(rng.integers(152, 258)), int(rng.integers(62, 148))
        if abs(x - 205) + abs(y - 105) > 12:
            cv2.circle(img, (x, y), int(rng.integers(2, 4)), (20, 20, 90), -1)
    img = (img + rng.normal(0, 4, img.shape)).clip(0, 255).astype(np.uint8)
    disc = np.zeros((200, 300), np.uint8)
    cv2.circle(disc, (90, 100), 45, 1, -1)
    return img, disc.astype(bool), shirt


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_a_negative_click_on_a_patterned_region_leaves_no_specks(seed):
    img, disc, shirt = _dotted_shirt_scene(seed)
    out = ClickSession(img, (disc | shirt).astype(np.float32)).add(Click(205, 105, False))
    assert (out[shirt] >= 0.5).mean() < 0.01  # the dots go with the shirt
    assert (out[disc] >= 0.5).all()


def test_a_click_where_an_earlier_click_set_the_other_label_may_override_it():
    """A positive click inside what an earlier negative click removed says that click took too
    much: the crop's object is used even though it covers the earlier click (whose disc stays
    a hard seed); elsewhere such an object is still refused."""
    from bgeraser_gui.core.click_edit import _object_under_click
    from bgeraser_gui.core.interactive import CropSegmenter

    img, disc, box, _ = _scene()

    def salient(crop):
        return (np.abs(crop.astype(int) - (40, 120, 40)).sum(axis=2) > 90).astype(np.float32)

    segmenter = CropSegmenter(img, salient)
    current = disc.copy()  # the earlier negative click at (200, 100) removed the box
    earlier = [(200, 100, False)]
    decided = np.zeros(disc.shape, np.int8)
    decided[box] = -1
    click = (215, 80, True)
    found = _object_under_click(segmenter, click, 1.0, current, earlier, decided, None)
    assert found is not None and found[0][box].mean() > 0.95
    decided[:] = 0  # the click lands where nobody decided: the earlier click is respected
    assert _object_under_click(segmenter, click, 1.0, current, earlier, decided, None) is None


def test_preview_changes_nothing_and_the_same_click_then_reuses_it(monkeypatch):
    import bgeraser_gui.core.interactive as interactive

    img, disc, box, _ = _scene()
    mask = (disc | box).astype(np.float32)
    plain = ClickSession(img, mask).add(Click(200, 100, positive=False)).copy()

    runs = []
    real = interactive.apply_click
    monkeypatch.setattr(interactive, "apply_click", lambda *a: runs.append(1) or real(*a))
    session = ClickSession(img, mask)
    edit = session.preview(Click(200, 100, positive=False))
    assert np.array_equal(session.mask, mask) and session.clicks == ()  # nothing changed
    rect = edit.rect
    changed = np.zeros(mask.shape, bool)
    changed[rect.slices()] = edit.changed
    assert np.array_equal(changed, (plain >= 0.5) != (mask >= 0.5))  # exactly the click's change
    out = session.add(Click(200, 100, positive=False))
    assert len(runs) == 1  # the click reused the preview
    assert np.array_equal(out, plain)
    session.undo()  # after an edit the old preview is not reused
    session.preview(Click(120, 100, positive=True))
    session.add(Click(120, 100, positive=True))
    session.add(Click(200, 100, positive=False))
    assert len(runs) == 3


def test_a_click_on_what_an_earlier_click_decided_otherwise_reopens_that_decision():
    """An earlier positive click took in the whole box as well as the disc; a negative click
    on the box, with no object from the model, takes the box out again by its colours (the
    earlier click's own disc stays a seed), not only a patch around the click."""
    from bgeraser_gui.core.click_edit import apply_click

    img, disc, box, _ = _scene()
    mask = (disc | box).astype(np.float32)
    decided = np.zeros(disc.shape, np.int8)
    decided[box] = 1  # what the earlier positive click at (140, 100), on the disc, added
    earlier = [(140, 100, True)]
    edit = apply_click(img, mask, decided, (215, 85, False), earlier, None, 1.0)
    out = mask.copy()
    out[edit.rect.slices()][edit.changed] = edit.labels[edit.changed]
    assert (out[box] >= 0.5).mean() < 0.1
    assert (out[disc] >= 0.5).mean() > 0.999
    decided[:] = 0  # nobody decided the box: the click stays local (the earlier positive
    earlier = [(160, 100, True)]  # click on the box keeps the box's part from going whole)
    edit = apply_click(img, mask, decided, (215, 85, False), earlier, None, 1.0)
    assert edit.rect.width < 80
