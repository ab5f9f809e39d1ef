"""PyInstaller runtime hook: runs in the frozen app before any of our code.

Numba (used by pymatting and our matting kernels) caches compiled kernels next to their source
by default; inside an installed bundle that folder is usually read-only (Program Files,
/Applications, /opt), so point the cache at the per-user cache folder unless the user chose one.
"""

import os

if not os.environ.get("NUMBA_CACHE_DIR"):
    from platformdirs import user_cache_dir

    os.environ["NUMBA_CACHE_DIR"] = os.path.join(user_cache_dir("bgeraser"), "numba")
