"""A negative click with no object from the model removes the part of the selection under it
(the selection split along image edges), unless that part is what earlier clicks kept."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from bgeraser_gui.core.click_parts import part_under_click
from bgeraser_gui.core.interactive import Click, ClickSession


def _two_discs(seed: int, radius: int = 50):
    """A red disc (the subject) touching a disc of many-coloured blocks (unwanted): no single
    colour under a click covers the unwanted disc."""
    rng = np.random.default_rng(seed)
    img = np.full((200, 300, 3), (40, 120, 40), np.uint8)
    cv2.circle(img, (80, 100), 50, (200, 40, 40), -1)
    other = np.zeros((200, 300), np.uint8)
    cv2.circle(other, (128 + radius, 100), radius, 1, -1)
    blocks = rng.integers(0, 256, (20, 30, 3)).astype(np.uint8)
    texture = cv2.resize(blocks, (300, 200), interpolation=cv2.INTER_NEAREST)
    img[other > 0] = texture[other > 0]
    img = (img + rng.normal(0, 4, img.shape)).clip(0, 255).astype(np.uint8)
    disc = np.zeros((200, 300), np.uint8)
    cv2.circle(disc, (80, 100), 50, 1, -1)
    other &= 1 - disc
    return img, disc.astype(bool), other.astype(bool)


@pytest.mark.parametrize("seed", [0, 1])
def test_a_negative_click_removes_the_whole_part_under_it(seed):
    img, disc, other = _two_discs(seed)
    out = ClickSession(img, (disc | other).astype(np.float32)).add(Click(190, 100, False))
    assert (out[other] >= 0.5).mean() < 0.02  # a local patch only: 0.95 stayed
    assert (out[disc] >= 0.5).mean() > 0.99


def test_a_part_holding_an_earlier_positive_click_is_not_offered():
    img, disc, other = _two_discs(0)
    soft = (disc | other).astype(np.float32)
    decided = np.zeros(disc.shape, np.int8)
    part = part_under_click(img, soft, decided, 190, 100, [])
    assert part is not None and (part & other).sum() > 0.95 * other.sum()
    assert not (part & disc).any() or (part & disc).sum() < 0.02 * disc.sum()
    assert part_under_click(img, soft, decided, 190, 100, [(200, 80)]) is None
    decided[other] = 1  # an earlier positive click added it
    assert part_under_click(img, soft, decided, 190, 100, []) is None


def test_a_click_on_the_bigger_part_is_refused():
    """A part holding most of the selection is taken for the subject."""
    img, disc, other = _two_discs(0, radius=36)
    soft = (disc | other).astype(np.float32)
    decided = np.zeros(disc.shape, np.int8)
    small = part_under_click(img, soft, decided, 165, 100, [])
    assert small is not None and (small & other).sum() > 0.95 * other.sum()
    assert part_under_click(img, soft, decided, 80, 100, []) is None  # the red disc


def test_a_negative_click_on_a_thin_pole_removes_the_pole_not_the_subject():
    """A grey pole (8 px wide) runs from the top of the photo into the subject: its depth
    gives a click only a small window, so before, each click took a patch of it."""
    rng = np.random.default_rng(0)
    img = np.full((240, 300, 3), (40, 120, 40), np.uint8)
    cv2.circle(img, (150, 170), 55, (200, 40, 40), -1)
    img[0:120, 146:154] = (150, 150, 150)
    img = (img + rng.normal(0, 4, img.shape)).clip(0, 255).astype(np.uint8)
    disc = np.zeros((240, 300), np.uint8)
    cv2.circle(disc, (150, 170), 55, 1, -1)
    pole = np.zeros((240, 300), bool)
    pole[0:120, 146:154] = True
    pole &= disc == 0
    out = ClickSession(img, ((disc > 0) | pole).astype(np.float32)).add(Click(150, 40, False))
    assert (out[pole] >= 0.5).mean() < 0.05
    assert (out[disc > 0] >= 0.5).mean() > 0.99


def test_a_negative_click_on_a_thing_running_out_of_every_crop_removes_all_of_it():
    """A long unwanted bar the crops only ever see a piece of (it runs out of each crop's
    sides): the click removes the whole bar, its part of the selection, not the crop's piece."""
    from bgeraser_gui.core.interactive import CropSegmenter

    rng = np.random.default_rng(0)
    img = np.full((260, 500, 3), (40, 120, 40), np.uint8)
    selection = np.zeros((260, 500), np.uint8)
    cv2.circle(img, (130, 90), 80, (200, 40, 40), -1)
    cv2.circle(selection, (130, 90), 80, 1, -1)
    subject = selection.astype(bool)
    img[200:230] = (40, 40, 200)
    selection[200:230] = 1
    bar = selection.astype(bool) & ~subject
    img = (img + rng.normal(0, 4, img.shape)).clip(0, 255).astype(np.uint8)

    def blue_is_salient(crop):
        return (crop[..., 2].astype(int) > crop[..., 1].astype(int) + 80).astype(np.float32)

    session = ClickSession(img, selection.astype(np.float32), CropSegmenter(img, blue_is_salient))
    out = session.add(Click(250, 215, False))
    assert (out[bar] >= 0.5).mean() < 0.05  # before: the crops' piece only, 0.80 stayed
    assert (out[subject] >= 0.5).mean() > 0.99
