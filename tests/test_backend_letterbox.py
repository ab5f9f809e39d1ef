"""Letterboxed network input (isnet-anime's preprocessing): the pad/crop geometry, the registry
field, and a round trip on a real non-square photo with the real ISNet general-use weights."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from PIL import Image

from bgeraser_gui.backends.loader import load_backend
from bgeraser_gui.backends.model_io import (
    InputSpec,
    Placement,
    crop_to_photo,
    mask_from_output,
    network_input,
    normalise,
    placement,
    resize_rgb,
)
from bgeraser_gui.backends.registry import get_spec, parse_manifest
from bgeraser_gui.backends.segmenter import FAST, RAW, Segmenter
from bgeraser_gui.core.errors import ModelError
from bgeraser_gui.core.metrics import iou, scored_pixels


@pytest.mark.parametrize(
    ("height", "width", "size", "expected"),
    [
        (300, 200, 1024, Placement(0, 170, 1024, 683)),  # portrait: 1024 * 200 / 300 = 682.7
        (481, 321, 1024, Placement(0, 170, 1024, 683)),
        (321, 481, 1024, Placement(170, 0, 683, 1024)),  # landscape: padding above and below
        (500, 500, 1024, Placement(0, 0, 1024, 1024)),  # square: nothing to pad
        (1, 5000, 1024, Placement(511, 0, 1, 1024)),  # a sliver keeps at least one row
        (10, 7, 10, Placement(0, 1, 10, 7)),  # odd padding (3): 1 before, 2 after
    ],
)
def test_letterbox_placement(height, width, size, expected):
    assert placement(height, width, size, "letterbox") == expected


def test_stretch_fills_the_square_and_unknown_modes_fail():
    assert placement(300, 200, 320) == Placement(0, 0, 320, 320)
    with pytest.raises(ValueError, match="unknown resize mode"):
        placement(300, 200, 320, "crop")


def test_letterboxed_input_is_the_resized_photo_on_black():
    rng = np.random.default_rng(1)
    rgb = rng.integers(1, 256, (90, 60, 3), dtype=np.uint8)
    spec = InputSpec(size=64, mean=(0.5, 0.4, 0.3), std=(1.0, 0.5, 0.25), resize="letterbox")
    batch = network_input(rgb, spec)
    box = placement(90, 60, 64, "letterbox")
    assert batch.shape == (1, 3, 64, 64) and box == Placement(0, 10, 64, 43)
    square = np.zeros((64, 64, 3), np.uint8)
    square[:, 10:53] = resize_rgb(rgb, 43, 64)
    np.testing.assert_array_equal(batch, normalise(square, spec))
    black = (0 - np.asarray(spec.mean)) / np.asarray(spec.std)
    np.testing.assert_allclose(batch[0, :, 5, 3], black, rtol=1e-6)
    np.testing.assert_allclose(batch[0, :, 5, 60], black, rtol=1e-6)


def test_crop_removes_exactly_the_padding():
    box = placement(90, 60, 64, "letterbox")
    prediction = np.zeros((64, 64), np.float32)
    prediction[box.top : box.top + box.height, box.left : box.left + box.width] = 1.0
    cropped = crop_to_photo(prediction, 90, 60, "letterbox")
    assert cropped.shape == (64, 43) and cropped.min() == 1.0
    stretched = crop_to_photo(prediction, 90, 60, "stretch")
    assert stretched.shape == (64, 64) and np.shares_memory(stretched, prediction)


def test_mask_round_trips_through_a_letterboxed_network():
    """A 'network' that returns its (letterboxed) input gives back the photo's own mask."""
    height, width = 321, 481
    yy, xx = np.mgrid[:height, :width]
    truth = (((yy - 150) / 90.0) ** 2 + ((xx - 300) / 140.0) ** 2 <= 1.0).astype(np.float32)
    rgb = np.repeat((truth * 200 + 20).astype(np.uint8)[:, :, None], 3, axis=2)
    spec = InputSpec(size=256, mean=(0, 0, 0), std=(1, 1, 1), output="identity", resize="letterbox")
    echoed = network_input(rgb, spec)[0, 0]
    mask = mask_from_output(echoed, width, height, "minmax", False, "letterbox")
    assert mask.shape == (height, width)
    agreement = iou(mask, truth)
    print(f"synthetic letterbox round trip IoU {agreement:.4f}")
    assert agreement > 0.98


def test_rembg_exact_mode_always_stretches_like_rembg():
    segmenter = Segmenter("m", "cpu", InputSpec(size=64, resize="letterbox"), RAW)
    assert segmenter.input_spec.resize == "stretch"
    segmenter.options = FAST  # benchmarks/quality.py switches options on one backend
    assert segmenter.input_spec.resize == "letterbox"


def test_registry_reads_the_resize_field():
    assert get_spec("isnet-anime").resize == "letterbox"
    assert get_spec("isnet-general-use").resize == "stretch"
    assert get_spec("u2net").resize == "stretch"
    table = """
[models.x]
arch = "isnet"
description = "d"
urls = []
md5 = "0123456789abcdef0123456789abcdef"
file_name = "x.onnx"
input_size = 1024
mean = [0.5, 0.5, 0.5]
std = [1.0, 1.0, 1.0]
output = "minmax"
licence = "MIT"
commercial_use = true
"""
    assert parse_manifest(table + 'resize = "letterbox"\n')["x"].resize == "letterbox"
    with pytest.raises(ModelError, match="field 'resize' is 'pad'"):
        parse_manifest(table + 'resize = "pad"\n')


def test_real_photo_letterboxed_mask_aligns_with_the_stretched_one(isnet_fp16_path, eval_dir):
    """Same weights, same portrait photo: the two preprocessing paths find the same subject in
    the same place, so any error in the pad/crop geometry would show as a shifted mask."""
    pytest.importorskip("onnxruntime")
    folder = eval_dir / "grabcut50"
    name = "376043"  # 321 x 481 portrait
    rgb = np.asarray(Image.open(folder / "images" / f"{name}.jpg").convert("RGB"))
    gt = np.asarray(Image.open(folder / "alpha" / f"{name}.png").convert("L"))
    valid = scored_pixels(gt.shape, np.asarray(Image.open(folder / "ignore" / f"{name}.png")))
    base = load_backend(str(isnet_fp16_path), runtime="onnxruntime", options=FAST)
    stretched, letterboxed = (
        type(base)(base.session, base.name, dataclasses.replace(base.spec, resize=mode), FAST)
        for mode in ("stretch", "letterbox")
    )
    a, b = stretched.predict(rgb), letterboxed.predict(rgb)
    assert a.shape == b.shape == gt.shape
    agreement = iou(b, (a >= 0.5).astype(np.float32))
    ys, xs = np.nonzero(a >= 0.5)
    yl, xl = np.nonzero(b >= 0.5)
    shift = (abs(ys.mean() - yl.mean()), abs(xs.mean() - xl.mean()))
    print(
        f"grabcut50/{name} ({rgb.shape[1]}x{rgb.shape[0]}): letterbox vs stretch mask IoU "
        f"{agreement:.4f}, centroid shift {shift[0]:.2f}/{shift[1]:.2f} px; IoU vs truth: "
        f"stretch {iou(a, gt, valid):.4f}, letterbox {iou(b, gt, valid):.4f}"
    )
    assert agreement > 0.9
    assert max(shift) < 3.0
