"""Model files converted for a runtime once and kept in the user cache (issue 20).

Every start used to redo a conversion of the same model file: ONNX Runtime optimised the graph
(backends/ort_optimized.py), the torch runtime parsed the ONNX file and folded its weights
(backends/torch_state_cache.py). The results live in `<user cache>/bgeraser/converted/<kind>/`,
one file per model file, named after the model's path and keyed by its size and modification
time plus what else the conversion depends on (runtime version, CPU). A newer conversion of the
same model file replaces the older one. `BGERASER_CONVERTED_CACHE` moves the folder ("off": no
cache, every start converts again).
"""

from __future__ import annotations

import glob
import hashlib
import os
import uuid
from pathlib import Path

CACHE_ENV = "BGERASER_CONVERTED_CACHE"


def cache_dir(kind: str) -> Path | None:
    """The folder for one kind of conversion ("onnxruntime", "torch"); None: caching is off."""
    setting = os.environ.get(CACHE_ENV)
    if setting is not None:
        if setting.strip().lower() in ("", "off", "0"):
            return None
        return Path(setting).expanduser() / kind
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("bgeraser")) / "converted" / kind


def converted_file(model: Path, kind: str, depends_on: str, suffix: str) -> Path | None:
    """Where the `kind` conversion of `model` lives (it may not exist yet); None: no cache."""
    folder = cache_dir(kind)
    if folder is None:
        return None
    model = Path(model).resolve()
    stat = model.stat()
    state = f"{stat.st_size}:{stat.st_mtime_ns}:{depends_on}"
    where = hashlib.sha256(str(model).encode()).hexdigest()[:8]
    what = hashlib.sha256(state.encode()).hexdigest()[:12]
    return folder / f"{model.stem}-{where}-{what}{suffix}"


def partial_file(final: Path) -> Path | None:
    """A unique temporary name next to `final` (its folder created); None: not writable."""
    try:
        final.parent.mkdir(parents=True, exist_ok=True)
    except OSError:
        return None
    return final.with_name(f".{final.name}.{uuid.uuid4().hex}.part")


def publish(partial: Path, final: Path) -> None:
    """Move a finished conversion into place (atomic) and drop the ones it replaces."""
    try:
        os.replace(partial, final)
    except OSError:
        partial.unlink(missing_ok=True)
        return
    prefix = glob.escape(final.name.rsplit("-", 1)[0]) + "-"
    for other in final.parent.glob(f"{prefix}*{final.suffix}"):
        if other != final:  # the same model file in an older state (or another runtime / CPU)
            other.unlink(missing_ok=True)
