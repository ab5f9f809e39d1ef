"""Alpha matting (core.matting.refine) off the UI thread; the newest request wins."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from PySide6.QtCore import QObject

from bgeraser_gui.core.progress import CancelToken, ProgressFn
from bgeraser_gui.services.worker import JobRunner

RefineFn = Callable[..., object]  # core.matting.refine's signature


def default_refine(rgb, mask, overrides, options, progress, cancel):
    from bgeraser_gui.core.matting import refine

    return refine(rgb, mask, overrides, options, progress, cancel)


@dataclass
class RefineOutcome:
    tag: object
    result: object  # core.matting.MattingResult
    seconds: float


class RefineService(QObject):
    """`refine()` solves the edge band on a worker; results arrive on `runner.finished`."""

    def __init__(self, parent: QObject | None = None, refine_fn: RefineFn | None = None) -> None:
        super().__init__(parent)
        self._refine = refine_fn or default_refine
        self.runner = JobRunner(self, "refine")
        self.warmup_runner = JobRunner(self, "matting warm-up")

    def warm_up(self) -> int | None:
        """Compile (or load from the numba cache) the matting kernels in the background, so
        that the first refinement in the app is not slow. Only the built-in refine needs it."""
        if self._refine is not default_refine:
            return None

        def job(progress: ProgressFn, cancel: CancelToken) -> None:
            from bgeraser_gui.core.matting import warm_up

            warm_up()

        return self.warmup_runner.submit(job)

    def refine(
        self,
        rgb: np.ndarray,
        mask: np.ndarray,
        overrides: np.ndarray | None,
        options: object | None = None,
        tag: object = None,
    ) -> int:
        def job(progress: ProgressFn, cancel: CancelToken) -> RefineOutcome:
            start = time.perf_counter()
            opts = options
            if opts is None:
                from bgeraser_gui.core.matting import RefineOptions

                opts = RefineOptions()
            progress(0.0, "Refining edges…")
            result = self._refine(rgb, mask, overrides, opts, progress, cancel)
            return RefineOutcome(tag=tag, result=result, seconds=time.perf_counter() - start)

        return self.runner.submit(job)

    def cancel(self) -> bool:
        return self.runner.cancel()

    def shutdown(self) -> None:
        self.runner.shutdown()
        self.warmup_runner.shutdown()
