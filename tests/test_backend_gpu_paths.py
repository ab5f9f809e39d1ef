"""The CUDA (fp16) and MPS code paths, exercised without a GPU.

What is mocked is only the hardware answer ("is CUDA / MPS available?") and the final move of
the weights to the device; the decisions (device order, precision, runtime) and the fp16 tensor
plumbing are the real code. Real GPU latency and accuracy are not measured here.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from bgeraser_gui.backends import loader, torch_backend
from bgeraser_gui.backends.device import pick_device
from bgeraser_gui.backends.model_io import InputSpec
from bgeraser_gui.backends.segmenter import FAST
from bgeraser_gui.backends.torch_backend import TorchSegmenter, auto_precision, prepare_network
from bgeraser_gui.backends.u2net import U2Net
from bgeraser_gui.core.errors import ModelError
from bgeraser_gui.core.metrics import iou


def _pretend(monkeypatch, cuda: bool, mps: bool) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: cuda)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: mps)


@pytest.mark.parametrize(
    ("cuda", "mps", "expected"),
    [(True, True, "cuda"), (False, True, "mps"), (False, False, "cpu")],
)
def test_auto_device_order_is_cuda_mps_cpu(monkeypatch, cuda, mps, expected):
    _pretend(monkeypatch, cuda, mps)
    assert pick_device("auto") == expected


def test_explicit_devices_are_checked(monkeypatch):
    _pretend(monkeypatch, cuda=False, mps=False)
    with pytest.raises(ModelError, match="no CUDA GPU"):
        pick_device("cuda:1")
    with pytest.raises(ModelError, match="Apple Metal"):
        pick_device("mps")
    _pretend(monkeypatch, cuda=True, mps=False)
    assert pick_device("cuda:1") == "cuda:1"


def test_precision_per_device():
    assert auto_precision("cuda") == "fp16"
    assert auto_precision("cuda:0", "u2net") == "fp16"
    assert auto_precision("mps") == "fp32"
    assert auto_precision("cpu", "u2netp") == "channels_last"  # bf16 is never exact enough


def test_fp16_is_refused_off_cuda():
    for device in ("cpu", "mps"):
        with pytest.raises(ModelError, match="fp16 inference needs a CUDA device"):
            prepare_network(U2Net(small=True), device, "fp16")


@pytest.mark.parametrize(
    ("cuda", "mps", "device", "precision"), [(1, 0, "cuda", "fp16"), (0, 1, "mps", "fp32")]
)
def test_load_backend_on_a_gpu_machine(monkeypatch, isnet_fp16_path, cuda, mps, device, precision):
    """runtime/precision "auto" on a CUDA or Apple machine: torch, fp16 on CUDA, fp32 on MPS; the
    network is prepared for that device (the move itself is recorded instead of performed)."""
    _pretend(monkeypatch, bool(cuda), bool(mps))
    prepared: list[tuple[str, str]] = []

    def record(network, target, mode):
        prepared.append((target, mode))
        return network.eval()

    monkeypatch.setattr(torch_backend, "prepare_network", record)
    loader.clear_cache()
    try:
        backend = loader.load_backend(str(isnet_fp16_path))
        assert (backend.runtime, backend.device, backend.precision) == ("torch", device, precision)
        assert prepared == [(device, precision)]
    finally:
        loader.clear_cache()


def test_fp16_tensor_path_gives_the_fp32_mask():
    """TorchSegmenter's fp16 branch (half input, channels_last, float32 output), run on CPU
    with half weights: the same code a CUDA device runs, minus the device."""
    torch.manual_seed(0)
    network = U2Net(small=True).eval()
    spec = InputSpec(64, (0.5, 0.5, 0.5), (1.0, 1.0, 1.0), "minmax")
    fp32 = TorchSegmenter(network, "tiny", "cpu", "fp32", spec, FAST)
    rgb = np.random.default_rng(0).integers(0, 256, (48, 64, 3), dtype=np.uint8)
    reference = fp32.predict(rgb)
    half = U2Net(small=True).eval()
    half.load_state_dict(network.state_dict())
    half = half.half().to(memory_format=torch.channels_last)
    fp16 = TorchSegmenter(half, "tiny", "cpu", "fp16", spec, FAST)
    batch = np.zeros((1, 3, 64, 64), np.float32)
    assert fp16._run(batch).dtype == np.float32
    mask = fp16.predict(rgb)
    assert mask.dtype == np.float32 and mask.shape == (48, 64)
    agreement = iou(mask, (reference >= 0.5).astype(np.float32))
    print(
        f"fp16 vs fp32 (random tiny U²-Netp on CPU): max abs diff "
        f"{np.abs(mask - reference).max():.4f}, IoU {agreement:.4f}"
    )
    assert np.abs(mask - reference).max() < 0.05


def test_onnxruntime_without_cuda_says_so(isnet_quint8_path):
    ort = pytest.importorskip("onnxruntime")
    if "CUDAExecutionProvider" in ort.get_available_providers():
        pytest.skip("this ONNX Runtime has CUDA")
    from bgeraser_gui.backends.ort_backend import open_session

    with pytest.raises(ModelError, match="no CUDA support"):
        open_session(isnet_quint8_path, "cuda")
