"""Persistent numba cache folder, set before numba / pymatting are imported.

pymatting compiles its kernels with numba on first use (tens of seconds). With a per-user cache
folder that compilation happens once per machine instead of once per run; `NUMBA_CACHE_DIR`
set by the user or the test suite is respected.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path


def ensure_numba_cache_dir() -> Path | None:
    """Point numba at a writable per-user cache folder unless NUMBA_CACHE_DIR is already set."""
    current = os.environ.get("NUMBA_CACHE_DIR")
    if current:
        return Path(current)
    try:
        from platformdirs import user_cache_dir

        folder = Path(user_cache_dir("bgeraser")) / "numba"
        folder.mkdir(parents=True, exist_ok=True)
    except OSError:
        return None  # read-only home: numba falls back to its default behaviour
    os.environ["NUMBA_CACHE_DIR"] = str(folder)
    if "numba" in sys.modules:  # imported before us: make numba re-read the environment
        from numba.core import config

        config.reload_config()
    return folder
