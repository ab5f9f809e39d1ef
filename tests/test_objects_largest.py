"""`--objects largest` keeps the whole main subject: the colour cut that splits a subject into
objects for the editor (an umbrella and the person under it) does not apply there."""

from __future__ import annotations

import argparse

import cv2
import numpy as np
from batch_fakes import BrightnessBackend
from PIL import Image

from bgeraser_gui.commands import batch
from bgeraser_gui.core.objects import split_objects


def _disk_over_bar(path) -> np.ndarray:
    """A bright yellow disk over a bright cyan bar (one bright subject, two colours)."""
    rgb = np.full((160, 200, 3), 30, np.uint8)
    cv2.rectangle(rgb, (85, 70), (115, 150), (60, 230, 255), -1)
    cv2.circle(rgb, (100, 55), 42, (255, 230, 60), -1)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(rgb).save(path)
    return rgb


def test_largest_keeps_the_whole_subject_the_editor_sees_in_two_colours(tmp_path):
    rgb = _disk_over_bar(tmp_path / "in" / "duo.png")
    mask = BrightnessBackend().predict(rgb)
    assert len([o for o in split_objects(rgb, mask) if o.suggested]) == 2  # the editor's objects
    parser = argparse.ArgumentParser(prog="bgeraser-cli")
    batch.register(parser.add_subparsers(dest="command"))
    out = tmp_path / "out"
    args = parser.parse_args(["batch", str(tmp_path / "in"), "-o", str(out), "--no-refine", "-q",
                              "--objects", "largest"])  # fmt: skip
    assert batch.run(args, backend_factory=BrightnessBackend) == 0
    (written,) = list(out.glob("*.png"))
    with Image.open(written) as im:
        alpha = np.asarray(im.convert("RGBA"))[..., 3]
    assert alpha[55, 100] == 255 and alpha[140, 100] == 255  # disk and bar
    assert alpha[10, 10] == 0
