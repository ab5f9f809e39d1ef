"""OrtSegmenter: runs the ONNX file itself with ONNX Runtime (the CPU fast path on machines
without bf16 matrix instructions, and the only exact way to run dynamically quantised files).
A cancel during `session.run` sets ONNX Runtime's terminate flag (backends/cancel_scope.py)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from bgeraser_gui.backends.cancel_scope import check_current, terminate_on_cancel
from bgeraser_gui.backends.device import cpu_thread_count
from bgeraser_gui.backends.model_io import InputSpec
from bgeraser_gui.backends.onnx_any_size import session_source
from bgeraser_gui.backends.ort_optimized import open_cpu_session
from bgeraser_gui.backends.segmenter import QualityOptions, Segmenter
from bgeraser_gui.core.errors import ModelError


def ort_available() -> bool:
    try:
        import onnxruntime  # noqa: F401
    except ImportError:
        return False
    return True


_throughput = False  # prefer_throughput: this process runs photo after photo (a batch worker)


def prefer_throughput(on: bool = True) -> bool:
    """CPU sessions opened from now on serve a batch: they keep the network's memory between
    runs (ONNX Runtime's arena; without it every ISNet pass maps and zeroes its activations
    afresh: 1.1 s of system and 0.9 s of user time more per pass, measured under load 8) and
    their idle threads sleep instead of spinning (spinning took 0.9 s of CPU per pass, which
    the batch's other stages need). Memory stays at the network's peak between photos.
    Returns the previous setting."""
    global _throughput
    previous, _throughput = _throughput, on
    return previous


def ort_device(device: str, cpu_without_cuda: bool = False) -> str:
    """ONNX Runtime's device for a resolved device name: "cuda" for CUDA devices (with
    `cpu_without_cuda`, "cpu" where this ONNX Runtime build has no CUDA, as rembg does),
    "cpu" for everything else."""
    if not device.startswith("cuda"):
        return "cpu"
    if cpu_without_cuda:
        import onnxruntime as ort

        if "CUDAExecutionProvider" not in ort.get_available_providers():
            return "cpu"
    return "cuda"


def open_session(path: str | Path, device: str = "cpu", any_size: bool = False):
    """An InferenceSession on `device` ("cpu" or "cuda"), threads = usable cores; with
    `any_size` on the graph rewritten to take any input size (backends/onnx_any_size.py)."""
    try:
        import onnxruntime as ort
    except ImportError as exc:
        raise ModelError("ONNX Runtime is not installed (pip install onnxruntime)") from exc
    options = ort.SessionOptions()
    options.intra_op_num_threads = cpu_thread_count()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    # No CPU memory arena and no memory pattern: the network's activations (~1.7 GB at 1024 px
    # with flip averaging) go back to the system after each run instead of staying reserved
    # while the full-resolution stages run (issue 15: peak 1.19 instead of 2.19 GB). A batch
    # keeps them (prefer_throughput).
    options.enable_cpu_mem_arena = _throughput
    if _throughput:
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    if not device.startswith("cuda"):
        options.enable_mem_pattern = False
    providers = ["CPUExecutionProvider"]
    if device.startswith("cuda"):
        if "CUDAExecutionProvider" not in ort.get_available_providers():
            raise ModelError("this ONNX Runtime build has no CUDA support")
        providers.insert(0, "CUDAExecutionProvider")
    try:
        if device.startswith("cuda"):
            source = session_source(Path(path), any_size)
            return ort.InferenceSession(source, sess_options=options, providers=providers)
        return open_cpu_session(ort, Path(path), options, providers, any_size)
    except Exception as exc:  # onnxruntime raises its own exception types
        raise ModelError(f"ONNX Runtime cannot open {path}: {exc}") from exc


class OrtSegmenter(Segmenter):
    """A SegmentationBackend on an ONNX Runtime session."""

    def __init__(self, session, name: str, spec: InputSpec, options: QualityOptions) -> None:
        device = "cuda" if "CUDAExecutionProvider" in session.get_providers() else "cpu"
        super().__init__(name, device, spec, options)
        self.session = session
        self.runtime = "onnxruntime"
        self.precision = "onnx"
        self._input = session.get_inputs()[0].name
        self._output = session.get_outputs()[0].name
        shape = session.get_inputs()[0].shape
        self._fixed = tuple(shape[2:]) if all(isinstance(d, int) for d in shape[2:]) else None
        self.any_input_size = self._fixed is None

    def warm_up(self) -> None:
        size = self._fixed[0] if self._fixed else 256
        self._run(np.zeros((1, 3, size, size), np.float32))

    def _run(self, batch: np.ndarray) -> np.ndarray:
        outputs = []
        for i in range(batch.shape[0]):
            check_current()
            run_options = self._run_options()
            with terminate_on_cancel(run_options):
                feed = {self._input: batch[i : i + 1]}
                outputs.append(self.session.run([self._output], feed, run_options)[0])
        return np.concatenate(outputs, axis=0)[:, 0].astype(np.float32)

    @staticmethod
    def _run_options():
        import onnxruntime as ort

        return ort.RunOptions()

    def __repr__(self) -> str:
        return f"OrtSegmenter({self.name!r}, device={self.device!r})"
