"""`--quality rembg` reproduces rembg's mask bit for bit (README), with the default runtime.

The expectation is computed here by rembg 2.0.86's own steps for its `dis_custom` session
(sessions/base.py `normalize`, sessions/dis_custom.py `predict`), copied below, on a plain ONNX
Runtime session with rembg's default options: not by rembg itself, which lives in its own
environment. On the shared machine `bgeraser-cli cutout --quality rembg --no-refine` gave the
very alpha `rembg i -m dis_custom` wrote on the alpaca and grabcut50's 106024 (with
`--runtime torch`: 0.15 % / 0.04 % of pixels off by 1/255).
"""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from bgeraser_gui.assemble import PipelineSpec, build_pipeline
from bgeraser_gui.backends.model_io import InputSpec, network_input
from bgeraser_gui.backends.segmenter import QUALITY_PRESETS, Segmenter

ISNET_INPUT = InputSpec(1024, (0.5, 0.5, 0.5), (1.0, 1.0, 1.0), "minmax")


def rembg_normalize(photo, mean=ISNET_INPUT.mean, std=ISNET_INPUT.std) -> np.ndarray:
    """rembg's `BaseSession.normalize`: the network input for `photo` (a PIL image)."""
    im = np.array(photo.convert("RGB").resize((1024, 1024), Image.Resampling.LANCZOS))
    im = im / max(np.max(im), 1e-6)  # float64, as rembg does
    tmp = np.zeros((im.shape[0], im.shape[1], 3))
    for channel in range(3):
        tmp[:, :, channel] = (im[:, :, channel] - mean[channel]) / std[channel]
    return np.expand_dims(tmp.transpose((2, 0, 1)), 0).astype(np.float32)


def rembg_dis_custom_mask(model_path, photo) -> np.ndarray:
    """rembg's `DisCustomSession.predict` on `photo` (a PIL image), as uint8 HxW."""
    import onnxruntime as ort

    session = ort.InferenceSession(
        str(model_path), sess_options=ort.SessionOptions(), providers=["CPUExecutionProvider"]
    )
    feed = {session.get_inputs()[0].name: rembg_normalize(photo)}
    pred = session.run(None, feed)[0][:, 0, :, :]
    pred = np.squeeze((pred - np.min(pred)) / (np.max(pred) - np.min(pred)))
    mask = Image.fromarray((pred * 255).astype("uint8"), mode="L")
    return np.asarray(mask.resize(photo.size, Image.Resampling.LANCZOS))


@pytest.mark.parametrize("size", [(650, 434), (3300, 2100)])  # the second pre-reduces in ours
def test_rembg_preset_feeds_the_network_rembgs_input_bit_for_bit(size):
    rng = np.random.default_rng(7)
    rgb = rng.integers(0, 256, (size[1] // 10, size[0] // 10, 3), dtype=np.uint8)
    photo = Image.fromarray(rgb).resize(size, Image.Resampling.BILINEAR)  # smooth, like a photo
    segmenter = Segmenter("isnet", "cpu", ISNET_INPUT, QUALITY_PRESETS["rembg"])
    ours = network_input(np.asarray(photo), segmenter.input_spec)
    assert np.array_equal(ours, rembg_normalize(photo))
    best = Segmenter("isnet", "cpu", ISNET_INPUT, QUALITY_PRESETS["best"])
    assert np.abs(network_input(np.asarray(photo), best.input_spec) - ours).max() < 1e-6


@pytest.mark.slow
def test_rembg_preset_gives_rembgs_mask_bit_for_bit(isnet_fp16_path, perf_dir):
    pytest.importorskip("onnxruntime")
    photo_path = perf_dir / "alpaca_650x434.jpg"
    spec = PipelineSpec(model=str(isnet_fp16_path), quality="rembg", refine=False)
    pipeline = build_pipeline(spec)
    ours = pipeline.cutout(pipeline.load_image(photo_path)).alpha_u8
    assert pipeline.backend.runtime == "onnxruntime"  # the default runtime for this preset
    with Image.open(photo_path) as photo:
        expected = rembg_dis_custom_mask(isnet_fp16_path, photo)
    assert ours.shape == expected.shape
    assert np.array_equal(ours, expected), (
        f"{np.mean(ours != expected):.2%} of pixels differ, "
        f"by up to {np.abs(ours.astype(int) - expected).max()}/255"
    )
