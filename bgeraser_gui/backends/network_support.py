"""Say clearly why an ONNX file is a network bgeraser cannot run.

bgeraser runs ISNet (DIS), U²-Net and U²-Netp files (float, fp16 or dynamically quantised): one
N x 3 x H x W image input, plain convolutions, ReLU, max-pooling, resizing and a sigmoid. Other
published background-removal networks (BiRefNet's Swin transformer, MODNet's and RVM's MobileNet
backbones, recurrent video models) have no torch implementation here; `unsupported_features`
names what in the graph gives them away, so the user reads more than "unrecognised network".
"""

from __future__ import annotations

from collections import Counter

import onnx

from bgeraser_gui.core.errors import ModelError

SUPPORTED_NETWORKS = "ISNet (DIS), U²-Net and U²-Netp"

# Operators of the published ISNet / U²-Net graphs (fp32, fp16 and uint8 files) and of the
# shape arithmetic exporters add around Resize; anything else is named in the message.
KNOWN_OPS = frozenset(
    {
        "Add",
        "BatchNormalization",
        "Cast",
        "Concat",
        "Constant",
        "ConstantOfShape",
        "Conv",
        "ConvInteger",
        "Div",
        "DynamicQuantizeLinear",
        "Floor",
        "Gather",
        "Identity",
        "MaxPool",
        "Mul",
        "Relu",
        "Reshape",
        "Resize",
        "Shape",
        "Sigmoid",
        "Slice",
        "Unsqueeze",
        "Upsample",
    }
)
TRANSFORMER_OPS = frozenset(
    {"MatMul", "Softmax", "LayerNormalization", "Gemm", "Einsum", "Erf", "Gelu"}
)
_MAX_NAMED = 6


def _group(node: onnx.NodeProto) -> int:
    for attribute in node.attribute:
        if attribute.name == "group":
            return int(attribute.i)
    return 1


def unsupported_features(model: onnx.ModelProto) -> list[str]:
    """What in `model`'s graph no supported network has; empty when nothing stands out."""
    graph = model.graph
    stored = {init.name for init in graph.initializer}
    inputs = [i.name for i in graph.input if i.name not in stored]
    ops = Counter(node.op_type for node in graph.node)
    found: list[str] = []
    if len(inputs) != 1:
        found.append(
            f"{len(inputs)} inputs ({', '.join(inputs[:_MAX_NAMED])}) where bgeraser feeds one "
            "image; extra inputs such as recurrent states belong to video matting models (RVM)"
        )
    transformer = sorted(set(ops) & TRANSFORMER_OPS)
    if transformer:
        found.append(
            f"transformer layers ({', '.join(transformer)}), as in BiRefNet's Swin backbone"
        )
    grouped = sum(1 for node in graph.node if node.op_type == "Conv" and _group(node) > 1)
    if grouped:
        found.append(
            f"{grouped} grouped (depthwise) convolutions, as in the MobileNet backbones of "
            "MODNet and RVM"
        )
    other = sorted(set(ops) - KNOWN_OPS - TRANSFORMER_OPS)
    if other:
        shown = ", ".join(other[:_MAX_NAMED]) + (" ..." if len(other) > _MAX_NAMED else "")
        found.append(f"operators none of them uses ({shown})")
    return found


def unsupported_message(label: str, features: list[str]) -> str:
    """One line for the user: what the file is not, what it has, and what does run."""
    return (
        f"{label}: bgeraser has no torch implementation for this network: "
        f"{'; '.join(features)}. It runs {SUPPORTED_NETWORKS} files"
    )


def check_supported_graph(model: onnx.ModelProto, label: str) -> None:
    """Raise ModelError naming what is unsupported when `model` is not a network we run."""
    features = unsupported_features(model)
    if features:
        raise ModelError(unsupported_message(label, features))
