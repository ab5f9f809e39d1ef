"""load_backend: caching, runtime and device choice, errors, warm-up and cancellation."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from bgeraser_gui.backends.device import cpu_has_bf16_matmul, pick_device
from bgeraser_gui.backends.loader import choose_runtime, load_backend
from bgeraser_gui.backends.segmenter import IMPROVED, RAW, as_rgb
from bgeraser_gui.core.errors import Cancelled, ModelError
from bgeraser_gui.core.progress import CancelToken
from bgeraser_gui.core.segmentation import SegmentationBackend


def test_pick_device_prefers_cuda_then_mps_then_cpu():
    expected = "cuda" if torch.cuda.is_available() else None
    if expected is None and torch.backends.mps.is_available():
        expected = "mps"
    assert pick_device("auto") == (expected or "cpu")
    assert pick_device("cpu") == "cpu"
    with pytest.raises(ModelError, match="unknown device"):
        pick_device("tpu")
    if not torch.cuda.is_available():
        with pytest.raises(ModelError, match="CUDA"):
            pick_device("cuda")


def test_runtime_choice(isnet_fp16_path, isnet_quint8_path):
    pytest.importorskip("onnxruntime")
    assert choose_runtime("auto", "cuda", isnet_fp16_path) == "torch"
    assert choose_runtime("auto", "cpu", isnet_quint8_path) == "onnxruntime"
    fastest_cpu = "torch" if cpu_has_bf16_matmul() else "onnxruntime"
    assert choose_runtime("auto", "cpu", isnet_fp16_path) == fastest_cpu
    with pytest.raises(ModelError, match="unknown runtime"):
        choose_runtime("tensorrt", "cpu", isnet_fp16_path)


def test_backend_is_loaded_once_and_shared_across_options(isnet_fp16_path):
    first = load_backend(str(isnet_fp16_path), runtime="torch", options=RAW)
    again = load_backend(str(isnet_fp16_path), runtime="torch", options=RAW)
    improved = load_backend(str(isnet_fp16_path), runtime="torch", options=IMPROVED)
    assert first is again
    assert improved is not first and improved.network is first.network
    assert isinstance(first, SegmentationBackend)
    assert first.device == "cpu" or first.device.startswith(("cuda", "mps"))
    assert first.spec.size == 1024 and first.spec.mean == (0.5, 0.5, 0.5)
    first.warm_up()


def test_parsed_weights_are_not_kept_once_the_network_holds_them(isnet_fp16_path):
    from bgeraser_gui.backends import loader

    loader.clear_cache()
    load_backend(str(isnet_fp16_path), runtime="torch", options=RAW)
    assert not loader._weights  # a second float32 copy of every weight would be ~176 MB
    assert loader.file_architecture(isnet_fp16_path) == "isnet"
    assert not loader._weights  # answered from the cached architecture, no re-parse


def test_cancelled_before_inference_raises(isnet_fp16_path):
    backend = load_backend(str(isnet_fp16_path), runtime="torch", options=RAW)
    token = CancelToken()
    token.cancel()
    with pytest.raises(Cancelled):
        backend.predict(np.zeros((64, 64, 3), np.uint8), cancel=token)


def test_missing_or_unknown_models_are_clear_errors(tmp_path):
    with pytest.raises(ModelError, match="not found"):
        load_backend(str(tmp_path / "nothing.onnx"))
    with pytest.raises(ModelError, match="unknown model"):
        load_backend("no-such-model-name")


def test_input_images_are_normalised_to_rgb():
    gray = np.zeros((4, 5), np.uint8)
    rgba = np.zeros((4, 5, 4), np.uint8)
    assert as_rgb(gray).shape == (4, 5, 3) and as_rgb(rgba).shape == (4, 5, 3)
    with pytest.raises(ValueError):
        as_rgb(np.zeros((4, 5, 3), np.float32))
