"""ONNX Runtime's graph optimisation, done once per model file and machine (issue 20).

Opening a CPU session optimises the graph (fp16 weights cast to fp32 and folded, convolutions
fused and laid out for this CPU's vector width): for ISNet about half of the session's start.
The first session saves the optimised graph (backends/converted_cache.py); later ones load that
copy with optimisation off: the same kernels on the same weights, so the same output bit for
bit (tests/test_converted_cache.py). The copy depends on the ONNX Runtime version and the CPU's
feature flags; one that does not load is deleted and the model opened the normal way.
"""

from __future__ import annotations

from pathlib import Path

from bgeraser_gui.backends.converted_cache import converted_file, partial_file, publish
from bgeraser_gui.backends.device import cpu_flags


def open_cpu_session(ort, path: Path, options, providers: list[str]):
    """A CPU InferenceSession on `path`, from its optimised copy when there is one; otherwise
    the graph is optimised as usual and the result saved for the next start."""
    depends_on = f"{ort.__version__}:{sorted(cpu_flags())}"
    copy = converted_file(path, "onnxruntime", depends_on, ".onnx")
    if copy is None:
        return ort.InferenceSession(str(path), sess_options=options, providers=providers)
    optimise = options.graph_optimization_level
    if copy.is_file():
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
        try:
            return ort.InferenceSession(str(copy), sess_options=options, providers=providers)
        except Exception:  # noqa: BLE001 - a damaged copy: rebuild it from the model
            copy.unlink(missing_ok=True)
        options.graph_optimization_level = optimise
    partial = partial_file(copy)
    if partial is None:  # read-only cache: optimise on every start, as without a cache
        return ort.InferenceSession(str(path), sess_options=options, providers=providers)
    options.optimized_model_filepath = str(partial)
    try:
        session = ort.InferenceSession(str(path), sess_options=options, providers=providers)
    except Exception:  # noqa: BLE001 - e.g. a full disk; a damaged model raises again below
        partial.unlink(missing_ok=True)
        options.optimized_model_filepath = ""
        return ort.InferenceSession(str(path), sess_options=options, providers=providers)
    if partial.is_file():
        publish(partial, copy)
    return session
