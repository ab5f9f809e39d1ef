"""A negative click on an unwanted thing must not bite the wanted subject it touches across a
strong image edge (issue 16: a click on the shirt of the man beside a horse took the horse's
neck: the shirt's part of the selection, a piece thinner than the horse's head, held the neck
too, and the window's graph cut removed 8,164 pixels of it)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from bgeraser_gui.core.click_parts import part_under_click
from bgeraser_gui.core.interactive import Click, ClickSession

SHIRT_CLICK = (146, 220)


def _head_neck_and_shirt(seed: int):
    """A dark head (a thick disc) on a neck that lightens downwards (a bar much thinner than
    the head, no edge between the two), and a light red shirt, thinner still, along the neck's
    side across a strong edge: all one selected region."""
    rng = np.random.default_rng(seed)
    subject = np.zeros((300, 320), np.uint8)
    cv2.circle(subject, (100, 80), 65, 1, -1)
    subject[80:290, 80:130] = 1
    shirt = np.zeros((300, 320), np.uint8)
    shirt[150:290, 130:162] = 1
    dark, light = np.array((90.0, 50.0, 30.0)), np.array((170.0, 80.0, 45.0))
    t = np.clip((np.arange(300) - 90) / 60.0, 0.0, 1.0)[:, None, None]
    img = np.where(subject[..., None] > 0, dark * (1 - t) + light * t, (40.0, 120.0, 40.0))
    img[shirt > 0] = (215, 95, 55)
    img = (img + rng.normal(0, 4, img.shape)).clip(0, 255).astype(np.uint8)
    return img, subject.astype(bool), shirt.astype(bool)


@pytest.mark.parametrize("seed", [0, 1])
def test_the_shirts_part_holds_the_shirt_not_the_neck(seed):
    img, subject, shirt = _head_neck_and_shirt(seed)
    soft = (subject | shirt).astype(np.float32)
    part = part_under_click(img, soft, np.zeros(soft.shape, np.int8), *SHIRT_CLICK, [])
    assert part is not None and (part & shirt).sum() > 0.9 * shirt.sum()
    assert (part & subject).sum() < 0.02 * shirt.sum()  # before: 7,358 pixels of the neck


@pytest.mark.parametrize("seed", [0, 1])
def test_a_negative_click_on_the_shirt_removes_it_and_leaves_the_neck(seed):
    img, subject, shirt = _head_neck_and_shirt(seed)
    session = ClickSession(img, (subject | shirt).astype(np.float32))
    out = session.add(Click(*SHIRT_CLICK, False))
    assert (out[shirt] >= 0.5).mean() < 0.05
    assert (out[subject] >= 0.5).mean() > 0.99
