"""Real ISNet weights on a real photo: torch (hand-written network, mapped weights) against ONNX
Runtime on the same file, bf16 against fp32, the quantised file, and the rembg-exact pipeline."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from bgeraser_gui.backends.device import cpu_has_bf16_matmul
from bgeraser_gui.backends.loader import load_backend
from bgeraser_gui.backends.model_io import InputSpec, network_input
from bgeraser_gui.backends.segmenter import RAW
from bgeraser_gui.core.metrics import iou, scored_pixels

PHOTO = "person1"


def _binary_iou(a: np.ndarray, b: np.ndarray) -> float:
    return iou(a, (b >= 0.5).astype(np.float32))


@pytest.fixture(scope="module")
def photo(eval_dir):
    folder = eval_dir / "grabcut50"
    rgb = np.asarray(Image.open(folder / "images" / f"{PHOTO}.jpg").convert("RGB"))
    gt = np.asarray(Image.open(folder / "alpha" / f"{PHOTO}.png").convert("L"))
    ignore = np.asarray(Image.open(folder / "ignore" / f"{PHOTO}.png").convert("L"))
    return rgb, gt, scored_pixels(gt.shape, ignore)


@pytest.fixture(scope="module")
def network_batch(photo):
    return network_input(photo[0], InputSpec())


@pytest.fixture(scope="module")
def torch_fp32(isnet_fp16_path, network_batch):
    backend = load_backend(str(isnet_fp16_path), runtime="torch", precision="fp32", options=RAW)
    return backend, backend._run(network_batch)[0]


def test_torch_matches_onnxruntime_on_the_same_weights(isnet_fp16_path, torch_fp32, network_batch):
    pytest.importorskip("onnxruntime")
    ort_backend = load_backend(str(isnet_fp16_path), runtime="onnxruntime", options=RAW)
    reference = ort_backend._run(network_batch)[0]
    ours = torch_fp32[1]
    max_diff = float(np.abs(ours - reference).max())
    agreement = _binary_iou(ours, reference)
    print(
        f"torch fp32 vs onnxruntime at 1024x1024: max abs diff {max_diff:.2e}, IoU {agreement:.6f}"
    )
    assert max_diff < 5e-3
    assert agreement > 0.999


def test_bf16_autocast_is_exact_enough_where_chosen(isnet_fp16_path, torch_fp32, network_batch):
    if not cpu_has_bf16_matmul():
        pytest.skip("this CPU has no native bf16 matrix instructions; bf16 is never chosen")
    backend = load_backend(str(isnet_fp16_path), runtime="torch", precision="bf16", options=RAW)
    ours = backend._run(network_batch)[0]
    agreement = _binary_iou(ours, torch_fp32[1])
    print(
        f"bf16 autocast vs fp32: max abs diff {np.abs(ours - torch_fp32[1]).max():.3f}, "
        f"IoU {agreement:.5f}"
    )
    assert agreement >= 0.998


def test_raw_pipeline_segments_the_person(torch_fp32, photo):
    rgb, gt, valid = photo
    mask = torch_fp32[0].predict(rgb)
    assert mask.shape == gt.shape and mask.dtype == np.float32
    assert mask.min() >= 0.0 and mask.max() <= 1.0
    score = iou(mask, gt, valid)
    print(f"raw ISNet IoU on grabcut50/{PHOTO}: {score:.4f}")
    assert score > 0.9


def test_quantised_file_runs_through_onnxruntime(isnet_quint8_path, torch_fp32, network_batch):
    pytest.importorskip("onnxruntime")
    backend = load_backend(str(isnet_quint8_path), options=RAW)
    assert backend.runtime == "onnxruntime"
    quantised = backend._run(network_batch)[0]
    agreement = _binary_iou(quantised, torch_fp32[1])
    print(f"quint8 (onnxruntime) vs fp16 weights (torch fp32): IoU {agreement:.4f}")
    assert agreement > 0.95
