"""ONNX -> torch weight mapping: real ISNet files, exported U²-Netp graphs, and the failures."""

from __future__ import annotations

import io

import numpy as np
import onnx
import pytest
import torch
from onnx import helper, numpy_helper

from bgeraser_gui.backends.isnet import ISNet
from bgeraser_gui.backends.onnx_weights import (
    detect_architecture,
    load_into,
    module_path,
    network_from_onnx,
    read_onnx_weights,
)
from bgeraser_gui.backends.u2net import U2Net
from bgeraser_gui.core.errors import ModelError

pytestmark = pytest.mark.filterwarnings("ignore::torch.jit.TracerWarning")


def test_module_path_from_node_names():
    assert module_path("/stage1/rebnconvin/conv_s1/Conv") == "stage1.rebnconvin.conv_s1"
    assert module_path("/stage1/rebnconvin/conv_s1/Conv_quant") == "stage1.rebnconvin.conv_s1"
    assert module_path("/conv_in/Conv") == "conv_in"
    assert module_path("Conv_12") == "Conv_12"


def test_fp16_isnet_maps_all_238_tensors_exactly(isnet_fp16_path):
    weights = read_onnx_weights(isnet_fp16_path)
    assert weights.weight_tensors == 238 and not weights.unconsumed and not weights.quantized
    assert detect_architecture(weights) == "isnet"
    network = ISNet()
    assert load_into(network, weights) == 238
    graph = onnx.load(str(isnet_fp16_path)).graph
    stored = {init.name: numpy_helper.to_array(init) for init in graph.initializer}
    conv = next(n for n in graph.node if n.name == "/stage4d/rebnconv2d/conv_s1/Conv")
    assert stored[conv.input[1]].dtype == np.float16
    mapped = network.stage4d.rebnconv2d.conv_s1.weight.detach().numpy()
    np.testing.assert_array_equal(mapped, stored[conv.input[1]].astype(np.float32))
    assert network.stage1.rebnconv7.conv_s1.dilation == (2, 2)


def test_quint8_isnet_is_dequantised_onto_the_same_network(isnet_quint8_path):
    weights = read_onnx_weights(isnet_quint8_path)
    assert weights.quantized and not weights.unconsumed
    assert len(weights.convs) == 119 and all(c.bias is not None for c in weights.convs)
    assert weights.weight_tensors == 4 * 119  # weights, zero points, scales, biases
    network = ISNet()
    assert load_into(network, weights) == 238
    graph = onnx.load(str(isnet_quint8_path)).graph
    stored = {init.name: numpy_helper.to_array(init) for init in graph.initializer}
    q = stored["onnx::Conv_1896_quantized"].astype(np.float32)
    zero, scale = stored["onnx::Conv_1896_zero_point"], stored["onnx::Conv_1896_scale"]
    expected = (q - np.float32(zero)) * scale
    np.testing.assert_allclose(network.stage1.rebnconvin.conv_s1.weight.detach().numpy(), expected)


def _export(network: torch.nn.Module, size: int = 64) -> onnx.ModelProto:
    buffer = io.BytesIO()
    torch.onnx.export(
        network.eval(),
        torch.rand(1, 3, size, size),
        buffer,
        dynamo=False,
        input_names=["input"],
        output_names=["output"],
        opset_version=17,
    )
    return onnx.load_from_string(buffer.getvalue())


@pytest.fixture(scope="module")
def u2netp_graph() -> tuple[U2Net, onnx.ModelProto]:
    torch.manual_seed(0)
    network = U2Net(small=True)
    return network, _export(network)


def _run_onnx(model: onnx.ModelProto, x: np.ndarray) -> np.ndarray:
    ort = pytest.importorskip("onnxruntime")
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return session.run(None, {"input": x})[0]


def test_exported_u2netp_round_trips_by_name(tmp_path, u2netp_graph):
    original, model = u2netp_graph
    path = tmp_path / "u2netp.onnx"
    onnx.save(model, str(path))
    network, weights = network_from_onnx(path)
    assert detect_architecture(weights) == "u2netp" and weights.weight_tensors == 238
    x = torch.rand(1, 3, 64, 64)
    with torch.no_grad():
        torch.testing.assert_close(network(x), original(x))


def test_anonymous_nodes_with_batchnorm_map_in_execution_order(tmp_path, u2netp_graph):
    """Old exports name nodes Conv_0, Conv_1, ... and may keep BatchNorm: fold it and map by
    order; the torch result must equal ONNX Runtime on the modified graph."""
    _, model = u2netp_graph
    model = onnx.ModelProto.FromString(model.SerializeToString())
    graph = model.graph
    rng = np.random.default_rng(1)
    nodes = []
    for index, node in enumerate(graph.node):
        node.name = f"{node.op_type}_{index}"
        nodes.append(node)
        if node.op_type != "Conv" or index % 3:
            continue
        channels = next(i.dims[0] for i in graph.initializer if i.name == node.input[1])
        names = [f"bn{index}_{p}" for p in ("scale", "shift", "mean", "var")]
        values = [
            rng.uniform(0.5, 1.5, channels),
            rng.normal(0, 0.1, channels),
            rng.normal(0, 0.1, channels),
            rng.uniform(0.5, 2.0, channels),
        ]
        for name, value in zip(names, values, strict=True):
            graph.initializer.append(numpy_helper.from_array(value.astype(np.float32), name))
        conv_out = node.output[0]
        node.output[0] = f"{conv_out}_prebn"
        nodes.append(
            helper.make_node(
                "BatchNormalization",
                [node.output[0], *names],
                [conv_out],
                name=f"BatchNormalization_{index}",
            )
        )
    del graph.node[:]
    graph.node.extend(nodes)
    path = tmp_path / "anonymous_bn.onnx"
    onnx.save(model, str(path))
    network, weights = network_from_onnx(path)
    assert not weights.unconsumed and detect_architecture(weights) == "u2netp"
    x = np.random.default_rng(2).random((1, 3, 64, 64), dtype=np.float32)
    with torch.no_grad():
        ours = network(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(ours, _run_onnx(model, x), atol=2e-5)


def test_wrong_network_shapes_are_a_clear_error(tmp_path, u2netp_graph):
    _, model = u2netp_graph
    path = tmp_path / "u2netp.onnx"
    onnx.save(model, str(path))
    weights = read_onnx_weights(path)
    with pytest.raises(ModelError, match="weight shape"):
        load_into(U2Net(small=False), weights)
    with pytest.raises(ModelError, match="weight shape|stride"):
        load_into(ISNet(), weights)  # same count of convolutions, different layout


def test_garbage_file_is_a_model_error(tmp_path):
    path = tmp_path / "broken.onnx"
    path.write_bytes(b"not an onnx file at all" * 10)
    with pytest.raises(ModelError):
        read_onnx_weights(path)
