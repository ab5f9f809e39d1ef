"""The one Protocol every segmentation backend implements (backends/ implements it, core uses it)."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import numpy as np

from bgeraser_gui.core.progress import CancelToken, ProgressFn


@runtime_checkable
class SegmentationBackend(Protocol):
    """Turns an RGB photo into a soft foreground mask.

    `predict` takes an HxWx3 uint8 RGB array and returns an HxW float32 array in [0, 1]
    at the photo's own resolution (1 = subject). It may be called from a worker thread.
    """

    name: str
    device: str

    def predict(
        self,
        rgb: np.ndarray,
        progress: ProgressFn | None = None,
        cancel: CancelToken | None = None,
    ) -> np.ndarray: ...
