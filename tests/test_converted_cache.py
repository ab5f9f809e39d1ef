"""Conversions kept in the user cache (backends/converted_cache.py): ONNX Runtime's optimised
graph (backends/ort_optimized.py) gives the same output bit for bit, a damaged or outdated copy
is replaced, and the cache can be turned off; the torch runtime's converted weights give the
same network (backends/torch_state_cache.py)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper

from bgeraser_gui.backends import converted_cache
from bgeraser_gui.backends.ort_backend import open_session


def _tiny_model(path: Path) -> Path:
    """fp16 weights behind a Cast, Conv + BatchNormalization + Relu: what the optimiser folds,
    fuses and re-lays out in the real ISNet files."""
    rng = np.random.default_rng(0)
    weight = numpy_helper.from_array(rng.normal(size=(8, 3, 3, 3)).astype(np.float16), "w16")
    scale, bias, mean, var = (
        numpy_helper.from_array(rng.uniform(0.5, 1.5, 8).astype(np.float32), name)
        for name in ("scale", "bias", "mean", "var")
    )
    nodes = [
        helper.make_node("Cast", ["w16"], ["w"], to=TensorProto.FLOAT),
        helper.make_node("Conv", ["x", "w"], ["c"], pads=[1, 1, 1, 1]),
        helper.make_node("BatchNormalization", ["c", "scale", "bias", "mean", "var"], ["b"]),
        helper.make_node("Relu", ["b"], ["y"]),
    ]
    graph = helper.make_graph(
        nodes,
        "tiny",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 64, 64])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 8, 64, 64])],
        [weight, scale, bias, mean, var],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.save(model, str(path))
    return path


def _output(session) -> np.ndarray:
    x = np.random.default_rng(1).normal(size=(1, 3, 64, 64)).astype(np.float32)
    return session.run(None, {"x": x})[0]


@pytest.fixture
def cache(tmp_path, monkeypatch) -> Path:
    """The folder of ONNX Runtime's copies, in a cache of this test's own."""
    monkeypatch.setenv(converted_cache.CACHE_ENV, str(tmp_path / "cache"))
    return tmp_path / "cache" / "onnxruntime"


def test_a_cached_session_gives_the_same_output_bit_for_bit(tmp_path, cache, monkeypatch):
    model = _tiny_model(tmp_path / "tiny.onnx")
    monkeypatch.setenv(converted_cache.CACHE_ENV, "off")
    reference = _output(open_session(model))
    assert not cache.exists()
    monkeypatch.setenv(converted_cache.CACHE_ENV, str(cache.parent))
    first = _output(open_session(model))  # optimises and saves the copy
    copies = list(cache.glob("*.onnx"))
    assert len(copies) == 1 and not list(cache.glob(".*.part"))
    opened = []
    real_session = ort.InferenceSession
    monkeypatch.setattr(
        ort, "InferenceSession", lambda p, **kw: opened.append(p) or real_session(p, **kw)
    )
    second = _output(open_session(model))
    assert opened == [str(copies[0])]  # the copy, not the model, with optimisation off
    np.testing.assert_array_equal(first, reference)
    np.testing.assert_array_equal(second, reference)


def test_a_damaged_copy_is_replaced(tmp_path, cache):
    model = _tiny_model(tmp_path / "tiny.onnx")
    reference = _output(open_session(model))
    (copy,) = cache.glob("*.onnx")
    copy.write_bytes(b"not a model")
    np.testing.assert_array_equal(_output(open_session(model)), reference)
    assert copy.stat().st_size > 100  # rebuilt


def test_a_changed_model_file_gets_a_new_copy_and_the_old_one_goes(tmp_path, cache):
    model = _tiny_model(tmp_path / "tiny.onnx")
    open_session(model)
    (old,) = cache.glob("*.onnx")
    stat = model.stat()
    os.utime(model, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
    open_session(model)
    (new,) = cache.glob("*.onnx")
    assert new != old


@pytest.mark.slow
def test_isnet_from_the_cached_copy_is_bit_identical(isnet_fp16_path, cache, monkeypatch):
    from bgeraser_gui.backends.loader import clear_cache, load_backend
    from bgeraser_gui.backends.segmenter import FAST

    photo = np.random.default_rng(2).integers(0, 256, (300, 400, 3), dtype=np.uint8)
    masks = []
    for _ in range(2):  # the first load optimises and saves, the second opens the copy
        clear_cache()
        backend = load_backend(str(isnet_fp16_path), "cpu", runtime="onnxruntime", options=FAST)
        masks.append(backend.predict(photo))
    clear_cache()
    assert len(list(cache.glob("*.onnx"))) == 1
    np.testing.assert_array_equal(masks[0], masks[1])


@pytest.mark.slow
def test_the_torch_network_from_converted_weights_is_the_same(
    isnet_fp16_path, tmp_path, monkeypatch
):
    import torch

    from bgeraser_gui.backends import loader, onnx_weights

    monkeypatch.setenv(converted_cache.CACHE_ENV, str(tmp_path / "cache"))
    x = torch.rand(1, 3, 64, 64, generator=torch.Generator().manual_seed(3))
    outputs, parsed = [], []
    real_read = onnx_weights.read_onnx_weights
    monkeypatch.setattr(
        onnx_weights, "read_onnx_weights", lambda p: parsed.append(p) or real_read(p)
    )
    for _ in range(2):  # the first load parses the file and saves, the second maps the copy
        loader.clear_cache()
        network = loader._torch_network(Path(isnet_fp16_path), "cpu", "fp32")
        with torch.inference_mode():
            outputs.append(network(x))
    loader.clear_cache()
    assert len(parsed) == 1
    assert len(list((tmp_path / "cache" / "torch").glob("*.pt"))) == 1
    assert torch.equal(outputs[0], outputs[1])
