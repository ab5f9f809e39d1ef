"""An ONNX graph traced at one input size, rewritten to take any height and width (issue 20).

The published ISNet files declare a 1 x 3 x 1024 x 1024 input, and every upsampling inside the
network is a `Resize` whose target size was written into the graph as a constant when it was
traced (`Concat(Shape(x)[0:2], [32, 32])`). The network itself is fully convolutional: each of
those resizes brings a decoder tensor to the size of the encoder tensor it is concatenated
with, or the side output to the input's size. The rewrite says exactly that: the constant
becomes `Shape(target)[2:4]`, where the target is the other input of the `Concat` that takes
the resized tensor (through casts, in the fp16 files), or else the graph's input; the input and
output dimensions 2 and 3 become symbolic. At the traced size the rewritten graph computes the
same tensors (ONNX Runtime may then pick other kernels: outputs differ by ~5e-5, which is why
`--quality rembg` keeps the file as it is).

A graph that does not have this shape is left alone (`any_size_model` returns None) and the
segmenter keeps squeezing photos into the square input.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

SPATIAL = ("height", "width")


def _constant(name: str, values: list[int]):
    from onnx import helper, numpy_helper

    return helper.make_node(
        "Constant", [], [name], value=numpy_helper.from_array(np.array(values, np.int64), name)
    )


def _resize_target(resize, consumers: dict, producers: dict, graph_input: str) -> str | None:
    """The tensor whose height and width `resize` must produce; None if it cannot be told."""
    name = resize.output[0]
    users = consumers.get(name, [])
    while len(users) == 1 and users[0].op_type == "Cast":
        name = users[0].output[0]
        users = consumers.get(name, [])
    concats = [u for u in users if u.op_type == "Concat"]
    if not concats:
        return graph_input  # a side output, brought to the input's size
    others = [i for c in concats for i in c.input if i and i != name]
    plain = [i for i in others if not _comes_from_resize(i, producers)]
    return plain[0] if plain else None


def _comes_from_resize(name: str, producers: dict) -> bool:
    node = producers.get(name)
    while node is not None and node.op_type == "Cast":
        node = producers.get(node.input[0])
    return node is not None and node.op_type == "Resize"


def make_any_size(model) -> bool:
    """Rewrite `model` (an onnx ModelProto, in place) to take any input height and width.
    False (and `model` unchanged) when its graph is not of the kind described above."""
    graph = model.graph
    if len(graph.input) != 1 or len(graph.input[0].type.tensor_type.shape.dim) != 4:
        return False
    original = list(graph.node)  # one Python object per node: `id` names it below
    producers = {out: node for node in original for out in node.output}
    consumers: dict[str, list] = {}
    for node in original:
        for name in node.input:
            consumers.setdefault(name, []).append(node)
    graph_input = graph.input[0].name
    edits = []  # (sizes Concat node, index of its constant input, target tensor)
    for node in original:
        if node.op_type != "Resize" or len(node.input) < 4 or not node.input[3]:
            continue  # resizes by scale factors take any size already
        sizes = producers.get(node.input[3])
        target = _resize_target(node, consumers, producers, graph_input)
        if sizes is None or sizes.op_type != "Concat" or target is None:
            return False
        constant = [
            i for i, name in enumerate(sizes.input)
            if name in producers and producers[name].op_type == "Constant"
        ]  # fmt: skip
        if len(constant) != 1:
            return False
        edits.append((sizes, constant[0], target))
    from onnx import helper

    inserted: dict[int, list] = {}
    for number, (sizes, index, target) in enumerate(edits):
        base = f"any_size/{number}"
        inserted[id(sizes)] = [
            _constant(f"{base}/from", [2]),
            _constant(f"{base}/to", [4]),
            helper.make_node("Shape", [target], [f"{base}/shape"]),
            helper.make_node(
                "Slice", [f"{base}/shape", f"{base}/from", f"{base}/to"], [f"{base}/hw"]
            ),
        ]
        sizes.input[index] = f"{base}/hw"
    nodes = [new for node in original for new in (*inserted.get(id(node), []), node)]
    used = {name for node in nodes for name in node.input} | {o.name for o in graph.output}
    nodes = [n for n in nodes if n.op_type != "Constant" or any(o in used for o in n.output)]
    copies = [type(n)() for n in nodes]
    for copy, node in zip(copies, nodes, strict=True):
        copy.CopyFrom(node)  # detached from the list that is emptied next
    del graph.node[:]
    graph.node.extend(copies)
    for value in (*graph.input, *graph.output):
        dims = value.type.tensor_type.shape.dim
        if len(dims) == 4:
            for dim, label in zip(dims[2:], SPATIAL, strict=True):
                dim.dim_param = label
    del graph.value_info[:]  # shapes inferred at the traced size
    return True


def fixed_input_size(model) -> bool:
    dims = model.graph.input[0].type.tensor_type.shape.dim
    return len(dims) == 4 and all(d.HasField("dim_value") for d in dims[2:])


def any_size_model(path: Path) -> bytes | None:
    """The serialised model of `path` rewritten to take any input size; None when the file
    takes any size already or cannot be rewritten (then open the file itself)."""
    import onnx

    model = onnx.load(str(path))
    if not fixed_input_size(model) or not make_any_size(model):
        return None
    return model.SerializeToString()


def session_source(path: Path, any_size: bool) -> str | bytes:
    """What to open an InferenceSession on: the file, or with `any_size` its rewritten graph
    (the file itself when it needs no rewrite or cannot have one)."""
    rewritten = any_size_model(path) if any_size else None
    return str(path) if rewritten is None else rewritten
