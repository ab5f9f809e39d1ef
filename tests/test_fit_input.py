"""The "fit" network input (aspect kept, no padding) and the cheaper flip pass (issue 20)."""

from __future__ import annotations

import numpy as np
import pytest

from bgeraser_gui.backends.model_io import (
    InputSpec,
    fit_shape,
    mask_from_output,
    network_input,
    resize_prediction,
)
from bgeraser_gui.backends.segmenter import QualityOptions, Segmenter


@pytest.mark.parametrize(
    ("height", "width", "expected"),
    [
        (480, 854, (576, 1024)),  # a DAVIS frame: 56 % of a square pass
        (600, 400, (1024, 672)),  # 3:2 portrait (682.7 -> 672)
        (2000, 3000, (672, 1024)),
        (1000, 1000, (1024, 1024)),
        (10, 3000, (32, 1024)),  # never below one multiple
        (497, 800, (640, 1024)),  # 636.2 -> 640
    ],
)
def test_fit_shape_keeps_the_aspect_in_multiples_of_32(height, width, expected):
    assert fit_shape(height, width, 1024) == expected


def test_fit_input_and_output_cover_the_photo_without_padding():
    rgb = np.zeros((90, 160, 3), np.uint8)
    rgb[:, 80:] = 200  # right half bright
    spec = InputSpec(64, (0, 0, 0), (1, 1, 1), "identity", resize="fit")
    batch = network_input(rgb, spec)
    assert batch.shape == (1, 3, 32, 64)  # 36 rounds to 32
    assert batch[0, 0, :, 40:].min() > 0.9 and batch[0, 0, :, :24].max() < 0.1  # no padding
    mask = mask_from_output(batch[0, 0], 160, 90, "identity", False, "fit")
    assert mask.shape == (90, 160)
    assert mask[:, 100:].min() > 0.9 and mask[:, :60].max() < 0.1


def test_resize_prediction_keeps_same_size_outputs_and_resizes_others():
    out = np.random.default_rng(0).random((8, 12), dtype=np.float32)
    np.testing.assert_array_equal(resize_prediction(out, (8, 12)), out)
    assert resize_prediction(out, (16, 24)).shape == (16, 24)


class ShapeRecorder(Segmenter):
    """Network stand-in: foreground = brightness; records the input shapes it was given."""

    def __init__(self, options: QualityOptions, any_size: bool = True) -> None:
        super().__init__("rec", "cpu", InputSpec(64, (0, 0, 0), (1, 1, 1), "identity"), options)
        self.any_input_size = any_size
        self.shapes: list[tuple[int, ...]] = []

    def _run(self, batch: np.ndarray) -> np.ndarray:
        self.shapes.append(batch.shape)
        return batch.mean(axis=1)


def _photo() -> np.ndarray:
    rgb = np.full((100, 200, 3), 10, np.uint8)
    rgb[30:80, 40:120] = 250
    return rgb


def test_fit_option_runs_the_network_at_the_photos_aspect():
    square = ShapeRecorder(QualityOptions())
    square.predict(_photo())
    fit = ShapeRecorder(QualityOptions(fit_input=True))
    mask = fit.predict(_photo())
    assert square.shapes == [(1, 3, 64, 64)]
    assert fit.shapes == [(1, 3, 32, 64)]
    assert mask.shape == (100, 200) and mask[55, 80] > 0.9 and mask[10, 180] < 0.1


def test_fit_falls_back_to_the_square_input_where_the_runtime_needs_it():
    fixed = ShapeRecorder(QualityOptions(fit_input=True), any_size=False)
    fixed.predict(_photo())
    assert fixed.shapes == [(1, 3, 64, 64)]
    rembg = ShapeRecorder(QualityOptions(rembg_exact=True, fit_input=True))
    rembg.predict(_photo())
    assert rembg.shapes == [(1, 3, 64, 64)]


def test_flip_pass_at_a_smaller_side_is_resized_back_and_averaged():
    segmenter = ShapeRecorder(QualityOptions(flip_tta=True, fit_input=True, flip_side=32))
    mask = segmenter.predict(_photo())
    assert segmenter.shapes == [(1, 3, 32, 64), (1, 3, 32, 32)]  # 16 rounds up to one multiple
    plain = ShapeRecorder(QualityOptions(fit_input=True)).predict(_photo())
    assert mask.shape == plain.shape
    assert np.abs(mask - plain).mean() < 0.05  # the same subject, a softer edge
    assert mask[55, 80] > 0.8 and mask[10, 180] < 0.1


def _traced_unet(side: int = 8):
    """A graph shaped like the published ISNet files: pooled, upsampled to a size written in
    as a constant, concatenated with the encoder tensor; a side output upsampled likewise."""
    onnx = pytest.importorskip("onnx")
    from onnx import TensorProto, helper, numpy_helper

    def const(name, values):
        array = numpy_helper.from_array(np.array(values, np.int64), name)
        return helper.make_node("Constant", [], [name], value=array)

    nodes = [
        helper.make_node("MaxPool", ["x"], ["p"], kernel_shape=[2, 2], strides=[2, 2]),
        helper.make_node("Shape", ["p"], ["ps"]),
        const("c0", [0]),
        const("c2", [2]),
        helper.make_node("Slice", ["ps", "c0", "c2"], ["nc"]),
        const("hw", [side, side]),
        helper.make_node("Concat", ["nc", "hw"], ["sizes"], axis=0),
        helper.make_node("Resize", ["p", "", "", "sizes"], ["r"], mode="nearest"),
        helper.make_node("Cast", ["r"], ["rc"], to=TensorProto.FLOAT),
        helper.make_node("Concat", ["rc", "x"], ["y"], axis=1),
        const("hw2", [side, side]),
        helper.make_node("Concat", ["nc", "hw2"], ["sizes2"], axis=0),
        helper.make_node("Resize", ["p", "", "", "sizes2"], ["side"], mode="nearest"),
    ]
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 1, side, side])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 2, side, side])
    s = helper.make_tensor_value_info("side", TensorProto.FLOAT, [1, 1, side, side])
    graph = helper.make_graph(nodes, "traced", [x], [y, s])
    return onnx.helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def _session(model):
    ort = pytest.importorskip("onnxruntime")
    return ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])


def test_traced_graph_rewritten_to_take_any_size():
    from bgeraser_gui.backends.onnx_any_size import fixed_input_size, make_any_size

    x = np.arange(12 * 16, dtype=np.float32).reshape(1, 1, 12, 16)
    model = _traced_unet()
    assert fixed_input_size(model)
    with pytest.raises(Exception):  # noqa: B017 - ONNX Runtime's own error types
        _session(model).run(None, {"x": x})
    assert make_any_size(model)
    assert not fixed_input_size(model)
    y, side = _session(model).run(None, {"x": x})
    assert y.shape == (1, 2, 12, 16) and side.shape == (1, 1, 12, 16)
    np.testing.assert_array_equal(y[:, 1], x[:, 0])
    pooled = x[0, 0].reshape(6, 2, 8, 2).max(axis=(1, 3))
    np.testing.assert_array_equal(y[0, 0], np.repeat(np.repeat(pooled, 2, 0), 2, 1))
    at_traced_size = np.ones((1, 1, 8, 8), np.float32)
    np.testing.assert_array_equal(
        _session(model).run(None, {"x": at_traced_size})[0],
        _session(_traced_unet()).run(None, {"x": at_traced_size})[0],
    )


def test_graph_of_another_shape_is_left_alone():
    from bgeraser_gui.backends.onnx_any_size import make_any_size

    model = _traced_unet()
    resize = next(n for n in model.graph.node if n.op_type == "Resize")
    resize.input[3] = "hw"  # sizes straight from a constant: nothing to tell the target by
    before = model.SerializeToString()
    assert not make_any_size(model)
    assert model.SerializeToString() == before


@pytest.fixture(scope="module")
def davis_frame(eval_dir):
    from PIL import Image

    with Image.open(eval_dir / "davis345_sub" / "images" / "davis_000.jpg") as image:
        return np.asarray(image.convert("RGB"))  # 854 x 480: 16:9


@pytest.mark.slow
def test_fit_input_on_real_weights_matches_the_square_pass(isnet_fp16_path, davis_frame):
    """ONNX Runtime runs the rewritten graph at the frame's aspect (1024 x 576): a mask of the
    frame's size that agrees with the square pass; the torch network gives the same output
    at that size; `--quality rembg` keeps the file's own fixed-size graph."""
    pytest.importorskip("onnxruntime")
    from bgeraser_gui.backends.loader import load_backend
    from bgeraser_gui.backends.segmenter import FAST, RAW
    from bgeraser_gui.core.metrics import iou

    fit = load_backend(
        str(isnet_fp16_path), runtime="onnxruntime", options=FAST.replace(fit_input=True)
    )
    assert fit.any_input_size and fit.input_spec.resize == "fit"
    batch = network_input(davis_frame, fit.input_spec)
    assert batch.shape == (1, 3, 576, 1024)
    fit_out = fit._run(batch)[0]
    fit_mask = mask_from_output(fit_out, 854, 480, "minmax", False, "fit")
    square_mask = load_backend(str(isnet_fp16_path), runtime="onnxruntime", options=FAST).predict(
        davis_frame
    )
    assert fit_mask.shape == square_mask.shape == (480, 854)
    agreement = iou(fit_mask, (square_mask >= 0.5).astype(np.float32))
    assert agreement > 0.9, agreement
    assert 0.02 < np.mean(fit_mask >= 0.5) < 0.9  # a subject, not an empty or full mask
    rembg = load_backend(str(isnet_fp16_path), runtime="onnxruntime", options=RAW)
    assert not rembg.any_input_size and rembg.input_spec.resize == "stretch"
    torch_backend = load_backend(
        str(isnet_fp16_path),
        runtime="torch",
        precision="fp32",
        options=FAST.replace(fit_input=True),
    )
    torch_out = torch_backend._run(batch)[0]
    assert float(np.abs(torch_out - fit_out).max()) < 5e-3
