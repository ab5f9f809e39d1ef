"""Read convolution weights out of a published ONNX file and load them into a torch module.

Supported graphs: float (fp32/fp16) Conv nodes, optionally followed by BatchNormalization (folded
here), and dynamically quantised ConvInteger nodes (dequantised exactly: (q - zero_point) * scale;
the bias comes from the Add that follows). Conv nodes named after their module path
(`/stage1/rebnconvin/conv_s1/Conv` -> `stage1.rebnconvin.conv_s1`) map by name; graphs with
anonymous nodes (`Conv_0`, ...) map in execution order. Every weight tensor must be consumed and
every shape must match, otherwise a ModelError says what is wrong.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import onnx
from onnx import numpy_helper

from bgeraser_gui.backends.network_support import (
    SUPPORTED_NETWORKS,
    check_supported_graph,
)
from bgeraser_gui.backends.networks import build_network  # noqa: F401 - also imported from here
from bgeraser_gui.core.errors import ModelError

_FLOAT_TYPES = {onnx.TensorProto.FLOAT, onnx.TensorProto.FLOAT16, onnx.TensorProto.DOUBLE}
_WEIGHT_TYPES = _FLOAT_TYPES | {onnx.TensorProto.UINT8, onnx.TensorProto.INT8}
_SHAPE_OPS = {"Resize", "Upsample", "Reshape", "Slice", "Expand", "Pad", "ConstantOfShape", "Tile"}


@dataclass
class ConvWeights:
    """One convolution as stored in the graph, converted to float32."""

    node_name: str
    weight: np.ndarray
    bias: np.ndarray | None
    strides: tuple[int, ...]
    dilations: tuple[int, ...]
    pads: tuple[int, ...]


@dataclass
class OnnxWeights:
    """All convolutions of a graph in node order, plus what is needed to check coverage."""

    convs: list[ConvWeights]
    input_shape: tuple[int | str, ...]
    quantized: bool
    weight_tensors: int
    unconsumed: list[str] = field(default_factory=list)

    @property
    def module_paths(self) -> list[str]:
        return [module_path(conv.node_name) for conv in self.convs]


def module_path(node_name: str) -> str:
    """`/stage1/rebnconvin/conv_s1/Conv` (or `.../Conv_quant`) -> `stage1.rebnconvin.conv_s1`."""
    parts = [part for part in node_name.split("/") if part]
    if len(parts) > 1 and parts[-1].split("_")[0] in ("Conv", "ConvInteger"):
        parts = parts[:-1]
    return ".".join(parts)


def _attr(node: onnx.NodeProto, name: str, default: tuple[int, ...]) -> tuple[int, ...]:
    for attribute in node.attribute:
        if attribute.name == name:
            value = onnx.helper.get_attribute_value(attribute)
            return tuple(value) if isinstance(value, list | tuple) else (int(value),)
    return default


class _GraphReader:
    """Index of a graph's stored tensors, producers and consumers; remembers what was read."""

    def __init__(self, graph: onnx.GraphProto, path: str | Path) -> None:
        self.path = path
        self.tensors = {init.name: numpy_helper.to_array(init) for init in graph.initializer}
        self.weight_names = {i.name for i in graph.initializer if i.data_type in _WEIGHT_TYPES}
        self.producer: dict[str, onnx.NodeProto] = {}
        self.consumers: dict[str, list[onnx.NodeProto]] = defaultdict(list)
        for node in graph.node:
            if node.op_type == "Constant" and node.attribute and node.attribute[0].name == "value":
                self.tensors[node.output[0]] = numpy_helper.to_array(node.attribute[0].t)
            for name in node.input:
                self.consumers[name].append(node)
            for name in node.output:
                self.producer[name] = node
        self.consumed: set[str] = set()

    def take(self, name: str) -> np.ndarray:
        if name not in self.tensors:
            raise ModelError(f"{self.path}: tensor {name!r} is computed, not stored; unsupported")
        self.consumed.add(name)
        return self.tensors[name]

    def sole_consumer(self, output: str, op_type: str) -> onnx.NodeProto | None:
        nodes = self.consumers.get(output, [])
        return nodes[0] if len(nodes) == 1 and nodes[0].op_type == op_type else None

    def stored_through_reshape(self, name: str) -> np.ndarray | None:
        """A stored tensor, possibly behind a Reshape (how quantised graphs feed the bias)."""
        if name in self.tensors:
            return self.take(name)
        node = self.producer.get(name)
        if node is not None and node.op_type == "Reshape" and node.input[0] in self.tensors:
            return self.take(node.input[0])
        return None

    def float_conv(self, node: onnx.NodeProto) -> tuple[np.ndarray, np.ndarray | None]:
        weight = self.take(node.input[1]).astype(np.float32)
        bias = self.take(node.input[2]).astype(np.float32) if len(node.input) > 2 else None
        batch_norm = self.sole_consumer(node.output[0], "BatchNormalization")
        if batch_norm is None:
            return weight, bias
        scale, shift, mean, var = (self.take(n).astype(np.float64) for n in batch_norm.input[1:5])
        epsilon = next((a.f for a in batch_norm.attribute if a.name == "epsilon"), 1e-5)
        factor = scale / np.sqrt(var + epsilon)
        base = bias.astype(np.float64) if bias is not None else np.zeros_like(mean)
        folded = (weight.astype(np.float64) * factor[:, None, None, None]).astype(np.float32)
        return folded, ((base - mean) * factor + shift).astype(np.float32)

    def quantized_conv(self, node: onnx.NodeProto) -> tuple[np.ndarray, np.ndarray | None]:
        """ConvInteger(x_q, w_q, x_zp, w_zp) -> Cast -> Mul(x_scale * w_scale) -> Add(bias)."""
        quantized_name = node.input[1]
        w_q = self.take(quantized_name).astype(np.float32)
        w_zero = np.float32(0)
        if len(node.input) > 3 and node.input[3]:
            w_zero = self.take(node.input[3]).astype(np.float32)
        scale_name = quantized_name.removesuffix("_quantized") + "_scale"
        if scale_name not in self.tensors:
            raise ModelError(f"{self.path}: no weight scale for {node.name!r}; unsupported")
        w_scale = self.take(scale_name).astype(np.float32)
        if np.ndim(w_scale) == 1:  # per-output-channel quantisation
            w_scale = w_scale[:, None, None, None]
        if np.ndim(w_zero) == 1:
            w_zero = w_zero[:, None, None, None]
        weight = ((w_q - w_zero) * w_scale).astype(np.float32)
        cast = self.sole_consumer(node.output[0], "Cast")
        mul = self.sole_consumer(cast.output[0], "Mul") if cast is not None else None
        add = self.sole_consumer(mul.output[0], "Add") if mul is not None else None
        bias = None
        if add is not None:
            other = [name for name in add.input if name != mul.output[0]]
            bias = self.stored_through_reshape(other[0]) if other else None
        return weight, (None if bias is None else bias.reshape(-1).astype(np.float32))


def read_onnx_weights(path: str | Path) -> OnnxWeights:
    """Parse the ONNX file at `path`; raises ModelError when it is unreadable or unsupported."""
    try:
        model = onnx.load(str(path))
    except Exception as exc:  # onnx raises DecodeError, OSError, ...
        raise ModelError(f"cannot read the model file {path}: {exc}") from exc
    check_supported_graph(model, str(path))
    reader = _GraphReader(model.graph, path)
    convs: list[ConvWeights] = []
    quantized = False
    for node in model.graph.node:
        if node.op_type == "Conv":
            weight, bias = reader.float_conv(node)
        elif node.op_type == "ConvInteger":
            weight, bias = reader.quantized_conv(node)
            quantized = True
        else:
            continue
        if _attr(node, "group", (1,)) != (1,):
            raise ModelError(f"{path}: grouped convolution {node.name!r} is not supported")
        spatial = weight.ndim - 2
        convs.append(
            ConvWeights(
                node_name=node.name,
                weight=weight,
                bias=bias,
                strides=_attr(node, "strides", (1,) * spatial),
                dilations=_attr(node, "dilations", (1,) * spatial),
                pads=_attr(node, "pads", (0,) * 2 * spatial),
            )
        )
    if not convs:
        raise ModelError(f"{path}: the graph has no convolutions; not a supported model")
    unconsumed = sorted(
        name
        for name in reader.weight_names - reader.consumed
        if not all(n.op_type in _SHAPE_OPS for n in reader.consumers.get(name, []))
    )
    dims = model.graph.input[0].type.tensor_type.shape.dim
    input_shape = tuple(d.dim_value if d.HasField("dim_value") else d.dim_param for d in dims)
    return OnnxWeights(
        convs=convs,
        input_shape=input_shape,
        quantized=quantized,
        weight_tensors=len(reader.consumed & reader.weight_names),
        unconsumed=unconsumed,
    )


def detect_architecture(weights: OnnxWeights) -> str:
    """ "isnet", "u2net" or "u2netp", from the convolutions' names and shapes."""
    names = set(weights.module_paths)
    first = weights.convs[0].weight
    if "conv_in" in names or (first.shape[1] == 3 and weights.convs[0].strides == (2, 2)):
        return "isnet"
    if len(weights.convs) == 119:  # U²-Net family: 118 RSU/side convs + the 1x1 fusion conv
        mid = weights.convs[1].weight.shape[0]  # stage1.rebnconv1: 32 (u2net) or 16 (u2netp)
        return "u2netp" if mid == 16 else "u2net"
    raise ModelError(
        f"bgeraser has no torch implementation for this network: {len(weights.convs)} "
        f"convolutions in a layout that matches none of {SUPPORTED_NETWORKS} "
        "(ISNet: a stride-2 first convolution; U²-Net/U²-Netp: 119 convolutions)"
    )


def _convs_in_execution_order(network) -> list[str]:
    import torch
    from torch import nn

    order: list[str] = []
    names = {module: name for name, module in network.named_modules()}
    hooks = [
        module.register_forward_hook(lambda m, _i, _o: order.append(names[m]))
        for module in network.modules()
        if isinstance(module, nn.Conv2d)
    ]
    try:
        with torch.no_grad():
            network(torch.zeros(1, 3, 64, 64))
    finally:
        for hook in hooks:
            hook.remove()
    unused = [n for n, m in network.named_modules() if isinstance(m, nn.Conv2d) and n not in order]
    return order + unused


def load_into(network, weights: OnnxWeights, source: str | Path = "model") -> int:
    """Copy every convolution of `weights` into `network`; returns the number of tensors set.

    Raises ModelError when a tensor is left over, a parameter is left unset, or a shape or a
    convolution setting (stride, dilation, padding) differs.
    """
    import torch
    from torch import nn

    if weights.unconsumed:
        raise ModelError(
            f"{source}: {len(weights.unconsumed)} stored tensors are not used by any "
            f"convolution (e.g. {weights.unconsumed[0]!r}); unsupported graph"
        )
    modules = {n: m for n, m in network.named_modules() if isinstance(m, nn.Conv2d)}
    paths = weights.module_paths
    if not set(paths) <= set(modules) or len(set(paths)) != len(paths):
        paths = _convs_in_execution_order(network)
    if len(paths) != len(weights.convs):
        raise ModelError(
            f"{source}: the file has {len(weights.convs)} convolutions, the "
            f"{type(network).__name__} network has {len(paths)}"
        )
    state: dict[str, torch.Tensor] = {}
    for path, conv in zip(paths, weights.convs, strict=True):
        module = modules[path]
        expected = (module.stride, module.dilation, tuple(module.padding) * 2)
        if module.weight.shape != conv.weight.shape:
            raise ModelError(
                f"{source}: {conv.node_name or path} has weight shape "
                f"{conv.weight.shape}, the network expects {tuple(module.weight.shape)}"
            )
        if expected != (conv.strides, conv.dilations, conv.pads):
            raise ModelError(
                f"{source}: {conv.node_name or path} has stride/dilation/padding "
                f"{conv.strides}/{conv.dilations}/{conv.pads}, expected {expected}"
            )
        if (conv.bias is None) != (module.bias is None):
            raise ModelError(f"{source}: {conv.node_name or path} bias presence differs")
        state[f"{path}.weight"] = torch.from_numpy(np.ascontiguousarray(conv.weight))
        if conv.bias is not None:
            state[f"{path}.bias"] = torch.from_numpy(np.ascontiguousarray(conv.bias))
    missing, unexpected = network.load_state_dict(state, strict=False)
    if missing or unexpected:
        raise ModelError(f"{source}: parameters not set from the file: {missing[:3]}")
    return len(state)


def network_from_onnx(path: str | Path):
    """Read `path`, detect its architecture, and return (torch network in eval mode, weights)."""
    weights = read_onnx_weights(path)
    network = build_network(detect_architecture(weights))
    load_into(network, weights, path)
    return network.eval(), weights
