"""The "needs review" score ranks suspicious masks above clean ones."""

from __future__ import annotations

import cv2
import numpy as np

from bgeraser_gui.core.review_score import score_mask


def _disc(h=200, w=300, soft=2.0):
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    r = np.hypot(xx - w / 2, yy - h / 2)
    return np.clip((60 - r) / soft + 0.5, 0, 1).astype(np.float32)


def test_clean_centered_subject_scores_low():
    s = score_mask(_disc())
    assert not s.empty and s.island_count == 0 and s.edge == 0
    assert s.score < 0.1
    assert s.reasons() == []


def test_empty_mask_needs_review_most():
    s = score_mask(np.zeros((100, 100), np.float32))
    assert s.empty and s.score == 1.0
    assert s.reasons() == ["no subject found"]


def test_islands_and_holes_raise_the_score():
    clean = _disc()
    messy = clean.copy()
    for x in (20, 40, 260, 280):
        cv2.circle(messy, (x, 20), 2, 1.0, -1)  # specks away from the subject
    cv2.circle(messy, (150, 100), 3, 0.0, -1)  # a hole inside it
    s = score_mask(messy)
    assert s.island_count == 5
    assert s.score > score_mask(clean).score


def test_wide_uncertain_band_raises_the_score():
    assert score_mask(_disc(soft=30.0)).uncertain > 0.5
    assert score_mask(_disc(soft=30.0)).score > score_mask(_disc(soft=1.0)).score


def test_subject_cut_by_the_frame_raises_the_score():
    mask = np.zeros((200, 300), np.float32)
    mask[50:200, 100:200] = 1.0  # runs off the bottom edge
    s = score_mask(mask)
    assert s.edge > 0.1
    assert s.score > score_mask(_disc()).score
    assert any("frame" in r for r in s.reasons())


def test_uint8_and_float_give_the_same_score():
    f = _disc()
    u8 = np.rint(f * 255).astype(np.uint8)
    assert abs(score_mask(f).score - score_mask(u8).score) < 0.02


def test_large_masks_are_scored_on_a_small_copy():
    big = cv2.resize(_disc(), (3000, 2000), interpolation=cv2.INTER_LINEAR)
    assert score_mask(big).score < 0.1
