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


def _tiny_model(path: Path) -> Path:
    import onnx
    from onnx import TensorProto, helper

    graph = helper.make_graph(
        [helper.make_node("Relu", ["x"], ["y"])],
        "tiny",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 8, 8])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 3, 8, 8])],
    )
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]), str(path))
    return path


def _arena_and_spinning(session) -> tuple[bool, str]:
    options = session.get_session_options()
    try:
        spinning = options.get_session_config_entry("session.intra_op.allow_spinning")
    except RuntimeError:  # not set: ONNX Runtime's default, spinning
        spinning = "1"
    return options.enable_cpu_mem_arena, spinning


def test_batch_sessions_keep_their_memory_and_do_not_spin(tmp_path, monkeypatch):
    from bgeraser_gui.assemble import PipelineSpec
    from bgeraser_gui.backends import ort_backend
    from bgeraser_gui.engines.local import LocalEngine

    monkeypatch.setenv("BGERASER_CONVERTED_CACHE", "off")
    model = _tiny_model(tmp_path / "tiny.onnx")
    # the editor: the activations go back after each run (issue 15)
    assert _arena_and_spinning(ort_backend.open_session(model)) == (False, "1")
    spec = PipelineSpec(refine=False, backend_factory=lambda: ort_backend.open_session(model))
    engine = LocalEngine(spec, workers=1)
    assert engine._load_workers() is None  # what a thread-pool run does before its photos
    # a batch: memory kept between photos, idle threads sleep
    assert _arena_and_spinning(engine._bases[0].backend) == (True, "0")
    assert _arena_and_spinning(ort_backend.open_session(model)) == (False, "1")  # only there
