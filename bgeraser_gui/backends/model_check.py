"""Hash check of a model file on every load, remembered by (size, mtime, inode).

A damaged model (a few flipped bits, same size) loads and gives a useless mask, so the hash
is checked on load, not only after a download. Reading 100-200 MB costs a fraction of a
second; the result is remembered in `<model folder>/.verified.json` keyed by the file's size,
modification time and inode, so later runs (and other processes) pay nothing until the file
changes. A file without a published or imported hash is not checked.
"""

from __future__ import annotations

import json
import os
import threading
import uuid
from pathlib import Path

from bgeraser_gui.backends.model_cache import file_hashes, hash_problem
from bgeraser_gui.backends.registry import ModelSpec
from bgeraser_gui.core.errors import ModelError
from bgeraser_gui.core.progress import CancelToken, ProgressFn

VERIFIED_FILE = ".verified.json"
SMOKE_INPUT_PX = 64  # side of the test image a network must turn into a sane mask
_lock = threading.Lock()


def _stat_key(path: Path) -> list[int]:
    stat = path.stat()
    return [stat.st_size, stat.st_mtime_ns, stat.st_ino]


def _read(folder: Path) -> dict:
    try:
        data = json.loads((folder / VERIFIED_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _write(folder: Path, data: dict) -> None:
    """Atomic, through a unique temporary file created exclusively (never via a symlink);
    a read-only model folder only means the hash is computed again next time."""
    tmp = folder / f".verified.{uuid.uuid4().hex}.tmp"
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(data, handle)
        os.replace(tmp, folder / VERIFIED_FILE)
    except OSError:
        pass
    finally:
        tmp.unlink(missing_ok=True)


def check_model_file(
    path: Path,
    spec: ModelSpec,
    progress: ProgressFn | None = None,
    cancel: CancelToken | None = None,
) -> Path:
    """`path` when its content has `spec`'s hash; ModelError (one line) when it is damaged."""
    if spec.sha256 is None and spec.md5 is None:
        return path
    path = Path(path)
    expected = {"sha256": spec.sha256, "md5": spec.md5}
    try:
        key = _stat_key(path)
    except OSError as exc:
        raise ModelError(f"cannot read the model {path}: {exc.strerror or exc}") from None
    name = str(path.resolve())
    with _lock:
        cache = _read(path.parent)
        if cache.get(name) == {"key": key, **expected}:
            return path
    problem = hash_problem(spec, *file_hashes(path, progress, cancel))
    if problem is not None:
        raise ModelError(
            f"{path} is damaged or not the '{spec.name}' model ({problem}); remove it "
            f"(bgeraser-cli models remove {spec.name}), then download or import it again"
        )
    with _lock:
        cache = _read(path.parent)
        cache[name] = {"key": key, **expected}
        _write(path.parent, cache)
    return path


def validate_network(path: Path, label: str, expected_arch: str | None = None) -> str:
    """Build the network in `path` and run it on a small test image; return its architecture.

    Refuses (ModelError, one line) a file bgeraser cannot build, one of another architecture
    than `expected_arch`, one with non-finite weights (flipped bits in an fp16 exponent) and
    one whose output is not a finite mask of the input's size in [0, 1]."""
    from bgeraser_gui.backends.onnx_weights import (
        build_network,
        detect_architecture,
        load_into,
        read_onnx_weights,
    )

    weights = read_onnx_weights(path)
    arch = detect_architecture(weights)
    if expected_arch is not None and arch != expected_arch:
        raise ModelError(
            f"{label} is a {arch} network, not the {expected_arch} its settings are for "
            "(pass --like with a model of the same architecture)"
        )
    import torch

    network = build_network(arch)
    load_into(network, weights, label)
    for name, tensor in network.state_dict().items():
        if tensor.is_floating_point() and not bool(torch.isfinite(tensor).all()):
            raise ModelError(f"{label} is damaged: its weights hold non-finite values ({name})")
    side = SMOKE_INPUT_PX
    generator = torch.Generator().manual_seed(0)
    with torch.no_grad():
        output = network.eval()(torch.rand(1, 3, side, side, generator=generator))
    output = output[0] if isinstance(output, (tuple, list)) else output
    if tuple(output.shape[-2:]) != (side, side) or not bool(torch.isfinite(output).all()):
        raise ModelError(f"{label} does not run: no usable mask for a {side}x{side} test image")
    if float(output.min()) < -1e-3 or float(output.max()) > 1.0 + 1e-3:
        raise ModelError(f"{label} does not run: its mask leaves the range 0..1")
    return arch
