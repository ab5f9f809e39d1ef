"""Which inference library runs a model (issue 20): `--quality rembg` runs on ONNX Runtime
wherever it is installed (the only way to reproduce rembg bit for bit), also where torch would
be faster; a quantised file is recognised without importing onnx."""

from __future__ import annotations

from pathlib import Path

import pytest
from test_startup_imports import _loaded_after

from bgeraser_gui.backends import loader
from bgeraser_gui.backends.ort_backend import ort_device

pytest.importorskip("onnxruntime")


@pytest.fixture
def plain_isnet(tmp_path, monkeypatch) -> Path:
    """A file the runtime choice takes for a plain (unquantised) ISNet, on a CPU with native
    bf16 matrix instructions: where torch is the fastest runtime."""
    path = tmp_path / "isnet.onnx"
    path.write_bytes(b"not parsed: the architecture is answered below")
    monkeypatch.setattr(loader, "file_architecture", lambda _path: "isnet")
    monkeypatch.setattr(loader, "cpu_has_bf16_matmul", lambda: True)
    return path


def test_rembg_preset_runs_on_onnx_runtime_where_torch_would_be_chosen(plain_isnet):
    assert loader.choose_runtime("auto", "cpu", plain_isnet) == "torch"
    assert loader.choose_runtime("auto", "cuda", plain_isnet) == "torch"
    assert loader.choose_runtime("auto", "cpu", plain_isnet, rembg_exact=True) == "onnxruntime"
    assert loader.choose_runtime("auto", "cuda", plain_isnet, rembg_exact=True) == "onnxruntime"
    # an explicit choice is kept
    assert loader.choose_runtime("torch", "cpu", plain_isnet, rembg_exact=True) == "torch"


def test_onnx_runtime_device_falls_back_to_the_cpu_as_rembg_does(monkeypatch):
    import onnxruntime

    monkeypatch.setattr(onnxruntime, "get_available_providers", lambda: ["CPUExecutionProvider"])
    assert ort_device("cuda", cpu_without_cuda=True) == "cpu"
    assert ort_device("cuda") == "cuda"  # asked for explicitly: the session says it cannot
    assert ort_device("mps", cpu_without_cuda=True) == "cpu"
    monkeypatch.setattr(
        onnxruntime, "get_available_providers", lambda: ["CUDAExecutionProvider", "CPU"]
    )
    assert ort_device("cuda:0", cpu_without_cuda=True) == "cuda"


def test_a_quantised_file_is_recognised_without_importing_onnx(isnet_quint8_path):
    code = (
        "from pathlib import Path\n"
        "from bgeraser_gui.backends.loader import choose_runtime\n"
        f"result = choose_runtime('auto', 'cpu', Path({str(isnet_quint8_path)!r}))"
    )
    answer = _loaded_after(code)
    assert answer["result"] == "onnxruntime"
    assert "onnx" not in answer["loaded"] and "torch" not in answer["loaded"]
