"""load_backend: a registry name or an .onnx path -> a ready SegmentationBackend, loaded once.

runtime "torch" runs our hand-written network with the file's weights (the reference; CUDA/MPS
capable); "onnxruntime" runs the file itself; "auto" picks torch on GPUs and on CPUs with native
bf16 matrix instructions for networks that stay exact in bf16 (ISNet; there it is the fastest),
ONNX Runtime for dynamically quantised files, for U²-Net/U²-Netp and on other CPUs when it is
installed (it is faster there, see benchmarks/inference.py). The `rembg` preset runs on ONNX
Runtime wherever it is installed: rembg runs the file itself with it, and only that reproduces
its output bit for bit.
"""

from __future__ import annotations

import mmap
import sys
import threading
from pathlib import Path

from bgeraser_gui.backends.device import BF16_EXACT_ARCHS, cpu_has_bf16_matmul, pick_device
from bgeraser_gui.backends.model_io import InputSpec
from bgeraser_gui.backends.segmenter import IMPROVED, QualityOptions, Segmenter
from bgeraser_gui.core.errors import ModelError
from bgeraser_gui.core.progress import ProgressFn

RUNTIMES = ("auto", "torch", "onnxruntime")

# Preprocessing for a bare .onnx file that matches no registry entry, by detected architecture:
# the normalisation of each network's own training code.
_ARCH_DEFAULTS = {
    "isnet": InputSpec(1024, (0.5, 0.5, 0.5), (1.0, 1.0, 1.0), "minmax"),
    "u2net": InputSpec(320, (0.485, 0.456, 0.406), (0.229, 0.224, 0.225), "minmax"),
    "u2netp": InputSpec(320, (0.485, 0.456, 0.406), (0.229, 0.224, 0.225), "minmax"),
}

_lock = threading.RLock()
_networks: dict[tuple, object] = {}
# Parsed weights live here only until a network is built from them (or the runtime is ONNX
# Runtime); the architecture found in them is kept in _archs.
_weights: dict[tuple, object] = {}
# The torch runtime's converted weights (backends/torch_state_cache.py) until a network is
# prepared from them: (arch, network), or None when the cache has none for the file.
_converted: dict[tuple, tuple | None] = {}
_archs: dict[tuple, str] = {}
_sessions: dict[tuple, object] = {}
_backends: dict[tuple, Segmenter] = {}


def _spec_for_name(name: str, folder: str | None):
    """The registry or imported ModelSpec called `name` (ModelError when there is none)."""
    from bgeraser_gui.backends.model_cache import resolve_spec

    return resolve_spec(name, folder)


def _spec_for_file(path: Path):
    """A registry spec whose file name matches `path` (the files we ship specs for), or None."""
    from bgeraser_gui.backends.registry import load_registry

    for spec in load_registry().values():
        if spec.file_name == path.name:
            return spec
    return None


def resolve_model(name_or_path: str, progress: ProgressFn | None = None, folder: str | None = None):
    """(path to the .onnx file, ModelSpec or None). Downloads a registry model when missing.
    `folder`: the model folder chosen in the settings (None: see `model_cache.model_dir`)."""
    candidate = Path(name_or_path).expanduser()
    if candidate.suffix.lower() == ".onnx" or candidate.is_file():
        if not candidate.is_file():
            raise ModelError(f"model file not found: {candidate}")
        spec = _spec_for_file(candidate)
        if spec is not None and not spec.runnable:
            raise ModelError(
                f"{candidate.name} is the '{spec.name}' model ({spec.arch}), which bgeraser "
                f"cannot run yet: {spec.runnable_note}"
            )
        if spec is not None:  # named like a registry file: it must be that file, undamaged
            from bgeraser_gui.backends.model_check import check_model_file

            check_model_file(candidate, spec, progress)
        return candidate.resolve(), spec
    from bgeraser_gui.backends.download import ensure_model

    spec = _spec_for_name(name_or_path, folder)
    if not spec.runnable:
        raise ModelError(f"'{spec.name}' cannot run yet: {spec.runnable_note or spec.arch}")
    return ensure_model(spec, progress, folder=folder), spec


def _input_spec(spec, arch: str) -> InputSpec:
    if spec is not None:
        return InputSpec(
            spec.input_size, tuple(spec.mean), tuple(spec.std), spec.output, spec.resize
        )
    if arch not in _ARCH_DEFAULTS:
        raise ModelError(f"no default preprocessing for architecture {arch!r}")
    return _ARCH_DEFAULTS[arch]


def _file_key(path: Path) -> tuple:
    return (str(path), path.stat().st_mtime_ns)


def _once_per_file(table: dict, path: Path, make):
    """`make(path)`, computed once per state of the file and kept in `table`."""
    key = _file_key(path)
    with _lock:
        if key not in table:
            table[key] = make(path)
        return table[key]


def _file_weights(path: Path):
    """The file's parsed convolutions (OnnxWeights), read once until `_forget_weights`."""
    from bgeraser_gui.backends.onnx_weights import read_onnx_weights

    return _once_per_file(_weights, path, read_onnx_weights)


def _forget_weights(path: Path) -> None:
    with _lock:
        _weights.pop(_file_key(path), None)


def _converted_network(path: Path) -> tuple | None:
    """(arch, network) from the torch runtime's converted weights of `path`, looked up once."""
    from bgeraser_gui.backends.torch_state_cache import load_network

    return _once_per_file(_converted, path, load_network)


def file_architecture(path: Path) -> str:
    """ "isnet", "u2net" or "u2netp" for a supported file (ModelError otherwise). Where torch
    is loaded anyway, its converted weights say it without parsing the file."""
    key = _file_key(path)
    with _lock:
        if key not in _archs:
            converted = _converted_network(path) if "torch" in sys.modules else None
            if converted is not None:
                _archs[key] = converted[0]
            else:
                from bgeraser_gui.backends.onnx_weights import detect_architecture

                _archs[key] = detect_architecture(_file_weights(path))
        return _archs[key]


def _torch_network(path: Path, device: str, precision: str):
    """The mapped network for (file, device, precision), built once per process."""
    from bgeraser_gui.backends.torch_backend import prepare_network

    key = (str(path), path.stat().st_mtime_ns, device, precision)
    with _lock:
        if key not in _networks:
            converted = _converted_network(path)
            if converted is not None:
                network = converted[1]
            else:  # parse the ONNX file (onnx is imported only here)
                from bgeraser_gui.backends.networks import build_network
                from bgeraser_gui.backends.onnx_weights import load_into
                from bgeraser_gui.backends.torch_state_cache import save_network

                arch = file_architecture(path)
                network = build_network(arch)
                load_into(network, _file_weights(path), path)
                save_network(path, arch, network)
            _networks[key] = prepare_network(network.eval(), device, precision)
            _forget_weights(path)  # the network holds the weights now
            _converted.pop(_file_key(path), None)  # another device/precision: a fresh copy
        return _networks[key]


def _ort_session(path: Path, device: str, any_size: bool):
    """The session for (file, device), once per process; with `any_size` one on the graph
    rewritten to take any input size (for "fit" inputs; `--quality rembg` runs the file as it
    is, as rembg does)."""
    from bgeraser_gui.backends.ort_backend import open_session

    key = (str(path), path.stat().st_mtime_ns, device, any_size)
    with _lock:
        if key not in _sessions:
            _sessions[key] = open_session(path, device, any_size)
        return _sessions[key]


_QUANTIZED_OPS = ("ConvInteger", "QLinearConv")


def _is_quantized(path: Path) -> bool:
    """Whether the graph has quantised convolutions, told by a byte scan (~0.05 s for 88 MB)
    instead of importing onnx and parsing the whole file (~1-3 s): an op type is stored as its
    plain name, so a file that never spells one cannot hold it, and one that does is taken as
    quantised (a plain file that only names one elsewhere would run on ONNX Runtime, which runs
    every file exactly)."""
    if path.stat().st_size == 0:  # nothing to map; ONNX Runtime says what is wrong with it
        return False
    with open(path, "rb") as handle, mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as data:
        return any(data.find(op.encode()) >= 0 for op in _QUANTIZED_OPS)


def choose_runtime(runtime: str, device: str, path: Path, rembg_exact: bool = False) -> str:
    """Resolve runtime "auto" for this device and file (see the module docstring). To
    reproduce rembg (`rembg_exact`) it is ONNX Runtime wherever installed: rembg runs the file
    itself with it; our torch network differs by a few levels of alpha (fp32 vs the file's
    graph, other kernels)."""
    from bgeraser_gui.backends.ort_backend import ort_available

    if runtime not in RUNTIMES:
        raise ModelError(f"unknown runtime {runtime!r}; choose one of {', '.join(RUNTIMES)}")
    if runtime != "auto":
        return runtime
    if rembg_exact and ort_available():
        return "onnxruntime"
    if device != "cpu" or not ort_available():
        return "torch"
    if _is_quantized(path):
        return "onnxruntime"
    if cpu_has_bf16_matmul() and file_architecture(path) in BF16_EXACT_ARCHS:
        return "torch"
    return "onnxruntime"


def load_backend(
    name_or_path: str | None = None,
    device: str = "auto",
    runtime: str = "auto",
    precision: str = "auto",
    options: QualityOptions = IMPROVED,
    progress: ProgressFn | None = None,
    folder: str | None = None,
) -> Segmenter:
    """A cached backend for a model name (None: `model_choice.default_model(folder)`) or an
    .onnx path; `folder` is the model folder chosen in the settings (None: the default one).

    The network is loaded once per (file, device, precision) and shared by backends that differ
    only in their quality options. Raises ModelError with a one-line reason on any failure.
    """
    from bgeraser_gui.backends.model_choice import default_model

    path, spec = resolve_model(name_or_path or default_model(folder), progress, folder)
    resolved_device = pick_device(device)
    chosen = choose_runtime(runtime, resolved_device, path, options.rembg_exact)
    name = spec.name if spec is not None else path.stem
    if chosen == "torch":
        from bgeraser_gui.backends.torch_backend import auto_precision

        if precision == "auto":
            mode = auto_precision(resolved_device, file_architecture(path))
        else:
            mode = precision
    else:
        mode = "onnx"
    key = (str(path), resolved_device, chosen, mode, options)
    with _lock:
        if key in _backends:
            return _backends[key]
        if chosen == "torch":
            from bgeraser_gui.backends.torch_backend import TorchSegmenter

            network = _torch_network(path, resolved_device, mode)
            input_spec = _input_spec(spec, file_architecture(path))
            backend = TorchSegmenter(network, name, resolved_device, mode, input_spec, options)
        else:
            from bgeraser_gui.backends.ort_backend import OrtSegmenter, ort_device

            arch = spec.arch if spec is not None else file_architecture(path)
            device_name = ort_device(resolved_device, runtime == "auto")
            any_size = options.fit_input and not options.rembg_exact
            session = _ort_session(path, device_name, any_size)
            backend = OrtSegmenter(session, name, _input_spec(spec, arch), options)
            _forget_weights(path)  # parsed only to choose the runtime or find the architecture
        _backends[key] = backend
        return backend


def clear_cache() -> None:
    """Forget every loaded network, session and backend (frees their memory)."""
    with _lock:
        _backends.clear()
        _networks.clear()
        _weights.clear()
        _converted.clear()
        _archs.clear()
        _sessions.clear()
