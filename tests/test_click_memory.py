"""Memory of earlier clicks: a later click of the other label takes back only what an earlier
click decided that lies closer to it, along the image, than to the earlier click."""

from __future__ import annotations

import numpy as np

from bgeraser_gui.core.click_edit import apply_click
from bgeraser_gui.core.click_memory import held_by_earlier
from bgeraser_gui.core.click_proposals import CropProposal
from bgeraser_gui.core.interactive import CropSegmenter
from tests.test_interactive import _scene


def test_decided_pixels_stay_with_the_click_they_are_closer_to_along_the_image():
    img, disc, box, _ = _scene()
    contested = disc | box  # an earlier negative click in the box removed both
    clicks = [(200, 100, False), (100, 100, True)]  # then a positive click on the disc
    held = held_by_earlier(img, contested, clicks, positive=True)
    assert held[box].mean() > 0.97  # the box stays removed
    assert held[disc].mean() < 0.03  # the disc is the positive click's to take back
    # the earlier click's label is the clicking one: nothing is held
    assert not held_by_earlier(img, contested, clicks[1:], positive=True).any()


def test_a_positive_click_on_what_a_negative_click_took_does_not_bring_back_the_rest():
    """The negative click in the box also took a slice of the disc; the positive click on that
    slice gets an object from the crop covering disc and box, yet the box stays out."""
    img, disc, box, _ = _scene()

    def salient(crop):  # everything that is not the green ground: disc and box together
        return (np.abs(crop.astype(int) - (40, 120, 40)).sum(axis=2) > 90).astype(np.float32)

    slice_ = disc & (np.arange(img.shape[1]) >= 125)[None, :]
    mask = (disc & ~slice_).astype(np.float32)
    decided = np.zeros(disc.shape, np.int8)
    decided[box | slice_] = -1
    earlier = [(200, 100, False)]
    edit = apply_click(img, mask, decided, (138, 100, True), earlier,
                       CropSegmenter(img, salient), 1.0)  # fmt: skip
    out = mask.copy()
    out[edit.rect.slices()][edit.changed] = edit.labels[edit.changed]
    assert (out[slice_] >= 0.5).mean() > 0.95
    assert (out[box] >= 0.5).mean() < 0.05
    assert (out[~disc] >= 0.5).mean() < 0.01  # nor does the ground come with it


def test_a_positive_click_on_an_earlier_removal_reopens_its_side_beyond_the_crop_object():
    """An early negative click in the box took the whole disc too; the positive click on the
    disc gets from the crops only a piece of it, yet the whole disc comes back (it is closer
    to the positive click along the image) and the box stays out; the disc's colour is close
    to the ground's, so the colours alone do not outweigh the earlier decision."""
    img, disc, box, _ = _scene()
    rng = np.random.default_rng(0)
    img[disc] = ((80, 120, 40) + rng.normal(0, 6, (int(disc.sum()), 3))).clip(0, 255)
    piece = disc & (np.arange(img.shape[1]) < 90)[None, :]

    class SeesPiece(CropSegmenter):  # every crop's object: a piece of the disc
        def proposal(self, x, y, side, cancel=None):
            b = super().proposal(x, y, side, cancel).box
            return CropProposal(b, piece[b.slices()].astype(np.float32))

    segmenter = SeesPiece(img, lambda crop: np.zeros(crop.shape[:2], np.float32))
    mask = np.zeros(disc.shape, np.float32)
    decided = np.zeros(disc.shape, np.int8)
    decided[disc | box] = -1
    edit = apply_click(img, mask, decided, (75, 100, True), [(190, 100, False)], segmenter, 1.0)
    out = mask.copy()
    out[edit.rect.slices()][edit.changed] = edit.labels[edit.changed]
    assert (out[disc] >= 0.5).mean() > 0.95
    assert (out[box] >= 0.5).mean() < 0.05
    assert (out[~disc] >= 0.5).mean() < 0.01  # nor does the ground come with it
