"""Compiled matting kernels: where numba caches them, the pymatting parts we run, compile once.

Every numba kernel of ours and every pymatting module is created through this module:
`cached_kernel` (our `@njit(cache=True)`) and `pymatting_part` first call
`ensure_numba_cache_dir`, so numba never picks its default cache folder, which is the package's
own `__pycache__` (read-only or shared between users in an installed app).

`import pymatting` runs the package's __init__, which imports every algorithm; each module
compiles its numba kernels eagerly (explicit signatures) at import. Into an empty cache that
was ~100 s on the 2-core test machine, ~90 s of it for kernels refinement never runs (shared
matting, LBDM, KD-tree, box filter...). `pymatting_part` imports one module (e.g.
"preconditioner.ichol") without running the package's or sub-package's __init__.

`KernelWarmth` compiles the kernels once per process (a tiny refinement, on a background
thread alongside the first real one) and remembers in the numba cache folder that the cache
is filled, so the first refinement can say honestly that it is compiling ("first run only")
or only loading the cache. The kernels refinement runs are written to compile fast
(core/matting_kernels.py): ~4 s of CPU into an empty cache instead of ~12 s.
"""

from __future__ import annotations

import importlib
import importlib.util
import logging
import os
import sys
import threading
import types
from collections.abc import Callable
from pathlib import Path

from bgeraser_gui.core.progress import ProgressFn

COMPILING_MESSAGE = "Compiling the edge solver (first run only)…"
LOADING_MESSAGE = "Loading the edge solver…"
_import_lock = threading.Lock()


def ensure_numba_cache_dir() -> Path | None:
    """Point numba at a writable per-user cache folder unless NUMBA_CACHE_DIR is already set
    (by the user, the test suite or the packaged app). Returns the folder, or None when no
    folder can be created (read-only home: numba then compiles in memory only)."""
    current = os.environ.get("NUMBA_CACHE_DIR")
    if current:
        return Path(current)
    try:
        from platformdirs import user_cache_dir

        folder = Path(user_cache_dir("bgeraser")) / "numba"
        folder.mkdir(parents=True, exist_ok=True)
    except OSError:
        return None
    os.environ["NUMBA_CACHE_DIR"] = str(folder)
    if "numba" in sys.modules:  # imported before us: make numba re-read the environment
        from numba.core import config

        config.reload_config()
    return folder


def cached_kernel(function: Callable) -> Callable:
    """`numba.njit(cache=True, nogil=True)`, with the cache in the per-user folder (numba picks
    the cache folder when the kernel is created, so the folder is set first)."""
    ensure_numba_cache_dir()
    from numba import njit

    return njit(cache=True, nogil=True)(function)


def pymatting_part(name: str) -> types.ModuleType:
    """`pymatting.<name>` (e.g. "solver.cg"), imported without the packages' __init__ files.

    When pymatting was already imported the normal way, that module is returned. The
    temporary package placeholders are removed again, so a later `import pymatting` (the
    knn / lkm / rw methods) still runs the real package __init__ and finds this module."""
    full = f"pymatting.{name}"
    ensure_numba_cache_dir()  # pymatting creates its cached kernels at import
    # always under the lock: a module another thread is still importing is in sys.modules
    # already, half initialised (matting tiles run on several threads)
    with _import_lock:
        if full in sys.modules:
            return sys.modules[full]
        spec = importlib.util.find_spec("pymatting")
        if spec is None or not spec.submodule_search_locations:
            raise ImportError("pymatting is not installed")
        root = Path(next(iter(spec.submodule_search_locations)))
        parts = full.split(".")
        placeholders = []
        for depth in range(1, len(parts)):
            package = ".".join(parts[:depth])
            if package in sys.modules:
                continue
            placeholder = types.ModuleType(package)
            placeholder.__path__ = [str(root.joinpath(*parts[1:depth]))]
            placeholder.__package__ = package
            sys.modules[package] = placeholder
            placeholders.append(package)
        try:
            return importlib.import_module(full)
        finally:
            for package in placeholders:
                del sys.modules[package]


def _marker() -> Path | None:
    folder = os.environ.get("NUMBA_CACHE_DIR")
    if not folder:
        return None
    import numba

    from bgeraser_gui import __version__

    return Path(folder) / f"bgeraser-{__version__}-numba-{numba.__version__}.compiled"


def cache_filled() -> bool:
    """True when this numba cache folder already holds our compiled kernels."""
    marker = _marker()
    return marker is not None and marker.exists()


def mark_cache_filled(marker: Path | None = None) -> None:
    """Remember that `marker`'s cache folder (default: the current one) holds our kernels."""
    marker = marker or _marker()
    if marker is None:
        return
    try:
        marker.parent.mkdir(parents=True, exist_ok=True)
        marker.touch()
    except OSError:
        pass  # read-only cache folder: numba compiles in memory; we just cannot remember it


class KernelWarmth:
    """Runs `compile_kernels()` once per process; later callers wait for the first one.

    `start` runs it on a background thread and returns at once: the refinement goes on with
    its numpy stages (colour evidence, trimap) and, as each kernel is first called, numba's
    compiler lock makes it wait for that kernel only, so the later kernels (preconditioner,
    foreground) compile while the earlier ones already solve."""

    def __init__(self, compile_kernels: Callable[[], None]) -> None:
        self._compile = compile_kernels
        self._lock = threading.Lock()  # held while compiling
        self._starting = threading.Lock()
        self._thread: threading.Thread | None = None
        self.ready = False

    def ensure(self, progress: ProgressFn) -> None:
        if self.ready:
            return
        progress(0.0, LOADING_MESSAGE if cache_filled() else COMPILING_MESSAGE)
        marker = _marker()  # the folder numba compiles into now, not when the compile ends
        with self._lock:
            if self.ready:
                return
            self._compile()
            mark_cache_filled(marker)
            self.ready = True

    def start(self, progress: ProgressFn) -> ProgressFn:
        """Compile in the background unless done; returns `progress` with the stage messages
        saying "compiling (first run only)" while that runs."""
        if self.ready:
            return progress
        message = LOADING_MESSAGE if cache_filled() else COMPILING_MESSAGE
        with self._starting:
            if self._thread is None or not self._thread.is_alive():
                # not a daemon: exiting mid-compile can crash in LLVM, so exit waits (seconds)
                self._thread = threading.Thread(
                    target=self._compile_quietly, name="matting kernels", daemon=False
                )
                self._thread.start()
        progress(0.0, message)
        note = "compiling (first run only)" if message == COMPILING_MESSAGE else "loading"

        def reporting(fraction: float, text: str) -> None:
            progress(fraction, text if self.ready or not text else f"{text} · {note}")

        return reporting

    def _compile_quietly(self) -> None:
        try:
            self.ensure(lambda _fraction, _message: None)
        except Exception:  # the refinement compiles the same kernel itself and reports it
            logging.getLogger(__name__).exception("compiling the matting kernels failed")
