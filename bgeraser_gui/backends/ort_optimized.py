"""ONNX Runtime's graph optimisation, done once per model file and machine (issue 20).

Opening a CPU session optimises the graph (fp16 weights cast to fp32 and folded, convolutions
fused and laid out for this CPU's vector width): for ISNet about half of the session's start.
The first session saves the optimised graph (backends/converted_cache.py); later ones load that
copy with optimisation off: the same kernels on the same weights, so the same output bit for
bit (tests/test_converted_cache.py). The copy depends on the ONNX Runtime version and the CPU's
feature flags; one that does not load is deleted and the model opened the normal way.
A session that takes any input size (backends/onnx_any_size.py) is optimised from the rewritten
graph and kept apart ("onnxruntime-any-size"), next to the file's own for `--quality rembg`.
"""

from __future__ import annotations

from pathlib import Path

from bgeraser_gui.backends.converted_cache import converted_file, partial_file, publish
from bgeraser_gui.backends.device import cpu_flags
from bgeraser_gui.backends.onnx_any_size import session_source


def open_cpu_session(ort, path: Path, options, providers: list[str], any_size: bool = False):
    """A CPU InferenceSession on `path` (with `any_size`: on its graph rewritten to take any
    input size), from its optimised copy when there is one; otherwise the graph is optimised
    as usual and the result saved for the next start."""
    depends_on = f"{ort.__version__}:{sorted(cpu_flags())}"
    kind = "onnxruntime-any-size" if any_size else "onnxruntime"
    copy = converted_file(path, kind, depends_on, ".onnx")
    if copy is not None and copy.is_file():
        optimise = options.graph_optimization_level
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
        try:
            return ort.InferenceSession(str(copy), sess_options=options, providers=providers)
        except Exception:  # noqa: BLE001 - a damaged copy: rebuild it from the model
            copy.unlink(missing_ok=True)
        options.graph_optimization_level = optimise
    source = session_source(path, any_size)
    partial = partial_file(copy) if copy is not None else None
    if partial is None:  # no cache or a read-only one: optimise on every start
        return ort.InferenceSession(source, sess_options=options, providers=providers)
    options.optimized_model_filepath = str(partial)
    try:
        session = ort.InferenceSession(source, sess_options=options, providers=providers)
    except Exception:  # noqa: BLE001 - e.g. a full disk; a damaged model raises again below
        partial.unlink(missing_ok=True)
        options.optimized_model_filepath = ""
        return ort.InferenceSession(source, sess_options=options, providers=providers)
    if partial.is_file():
        publish(partial, copy)
    return session
