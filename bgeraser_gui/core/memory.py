"""Hand memory the process freed back to the system between the big stages of a cutout.

glibc keeps blocks freed by worker threads in per-thread arenas (and blocks under its mmap
threshold in the main heap) for reuse. After the tiled matting of a 100 MP photo that is a few
hundred MB the process holds but no longer uses, and the next stage's peak lands on top of it.
`malloc_trim(0)` returns it (a few milliseconds). Elsewhere than glibc this is a no-op.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import sys


@functools.lru_cache(maxsize=1)
def _malloc_trim():
    if not sys.platform.startswith("linux"):
        return None
    try:
        return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").malloc_trim
    except (OSError, AttributeError):  # no glibc (musl has no malloc_trim)
        return None


def release_free_memory() -> None:
    """Return freed heap memory to the system (glibc); nothing elsewhere."""
    trim = _malloc_trim()
    if trim is not None:
        trim(0)
