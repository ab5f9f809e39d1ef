"""A positive click where the model sees nothing: the image's structure proposes the region
(the holes of the selection like the clicked one, else the colour region under the click)."""

from __future__ import annotations

import numpy as np

from bgeraser_gui.core.click_regions import region_under_click
from bgeraser_gui.core.interactive import Click, ClickSession


def _patterned_animal(seed: int = 0):
    """A pale body with brown patches on green ground; the selection took the pale network
    and left every patch out (as ISNet does with a giraffe's coat)."""
    rng = np.random.default_rng(seed)
    img = np.full((200, 300, 3), (40, 120, 40), np.uint8)
    body = np.zeros((200, 300), bool)
    body[40:160, 60:240] = True
    img[body] = (235, 225, 200)
    patches = np.zeros((200, 300), bool)
    for cy in range(50, 140, 22):
        for cx in range(70, 220, 22):
            patches[cy : cy + 16, cx : cx + 16] = True
    img[patches] = (140, 80, 30)
    img = (img + rng.normal(0, 5, img.shape)).clip(0, 255).astype(np.uint8)
    return img, body, patches


def test_a_positive_click_in_a_patch_adds_the_patches_like_it():
    img, body, patches = _patterned_animal()
    out = ClickSession(img, (body & ~patches).astype(np.float32)).add(Click(100, 100, True))
    assert (out[patches] >= 0.5).mean() > 0.95  # one click, not one per patch
    assert (out[~body] >= 0.5).mean() < 0.005


def test_holes_of_another_colour_or_decided_background_are_not_proposed():
    img, body, patches = _patterned_animal()
    other = np.zeros(body.shape, bool)
    other[50:66, 70:86] = True  # one patch painted blue
    img[other] = (40, 40, 200)
    current = body & ~patches
    decided = np.zeros(body.shape, np.int8)
    decided[52, 160] = -1  # an earlier negative click in the patch at (158..173, 50..65)
    region = region_under_click(img, current, decided, 100, 100, depth=1e3)
    assert region is not None and region[100, 100]
    assert not region[other].any() and not region[50:66, 158:174].any()
    assert region[patches & ~other].mean() > 0.9
    assert region_under_click(img, current, decided, 120, 45, depth=1e3) is None  # selected


def test_a_positive_click_on_a_shaded_region_adds_the_region():
    """A surface shaded from dark to light (a flank turning away from the light) that the
    model calls background: a colour flood from the click takes a band of it; the colour
    region under the click, settled by the cut, takes most of it."""
    rng = np.random.default_rng(1)
    img = np.full((240, 320, 3), (40, 110, 170), np.uint8)
    flank = np.zeros((240, 320), bool)
    flank[60:180, 40:200] = True
    ramp = np.linspace(20, 120, 160)
    for channel, share in enumerate((1.0, 0.7, 0.4)):
        img[60:180, 40:200, channel] = (ramp * share)[None, :]
    img = (img + rng.normal(0, 4, img.shape)).clip(0, 255).astype(np.uint8)
    start = np.zeros((240, 320), np.float32)
    start[:, 260:] = 1.0  # the automatic mask took something else
    out = ClickSession(img, start).add(Click(120, 120, True))
    assert (out[flank] >= 0.5).mean() > 0.75  # 0.47 without the region
    assert (out[~flank & (start == 0)] >= 0.5).mean() < 0.005
