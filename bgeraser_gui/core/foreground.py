"""Foreground colour estimation (decontamination) restricted to the partially transparent band.

Edge pixels are a mix alpha*F + (1-alpha)*B of subject and background colour; exporting the
raw pixel with a new alpha keeps the old background's tint as a halo. pymatting's multilevel
estimator recovers F (our fast-compiling copy, core/matting_kernels.py); we run it per tile on
the pixels with 0 < alpha < 1 (plus context), so memory stays bounded at 48 MP and opaque
pixels keep their exact original colour.
"""

from __future__ import annotations

import numpy as np

from bgeraser_gui.core.matting_kernels import estimate_foreground_ml
from bgeraser_gui.core.matting_tiles import Tile, run_parallel, tiles_over, worker_count
from bgeraser_gui.core.memory import release_free_memory
from bgeraser_gui.core.progress import CancelToken, ProgressFn

FOREGROUND_TILE_PX = 256
FOREGROUND_MARGIN_PX = 32


def estimate_foreground(
    rgb: np.ndarray,
    alpha: np.ndarray,
    trimap: np.ndarray | None = None,
    progress: ProgressFn | None = None,
    cancel: CancelToken | None = None,
) -> np.ndarray:
    """float32 HxWx3 foreground colours in [0, 1]; equals rgb/255 wherever alpha is 0 or 1."""
    foreground = rgb.astype(np.float32)
    foreground *= 1.0 / 255.0
    partial = (alpha > 0.0) & (alpha < 1.0)
    if trimap is not None:
        partial &= trimap == 128
    tiles = list(tiles_over(partial, FOREGROUND_TILE_PX, FOREGROUND_MARGIN_PX))
    done = [0]

    def solve(tile: Tile) -> None:  # tiles write disjoint cores: safe on parallel threads
        if cancel is not None:
            cancel.check()
        crop = tile.crop
        tile_image = rgb[crop].astype(np.float32) * (1.0 / 255.0)
        tile_alpha = np.ascontiguousarray(alpha[crop], dtype=np.float32)
        estimated = estimate_foreground_ml(tile_image, tile_alpha)
        target = partial[tile.core]
        foreground[tile.core][target] = estimated[tile.core_in_crop][target]

    def finished(tile: Tile) -> None:
        done[0] += 1
        if progress is not None:
            progress(done[0] / len(tiles), "Removing background colour from edges")

    run_parallel(tiles, solve, worker_count(), finished)
    release_free_memory()
    if progress is not None:
        progress(1.0, "Removing background colour from edges")
    return foreground
