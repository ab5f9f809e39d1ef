"""Alpha matting off the UI thread, through the editor's pipeline; the newest request wins."""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
from PySide6.QtCore import QObject

from bgeraser_gui.core.pipeline import Pipeline
from bgeraser_gui.core.progress import CancelToken, ProgressFn
from bgeraser_gui.services.worker import JobRunner


@dataclass
class RefineOutcome:
    tag: object
    result: object  # core.matting.MattingResult
    seconds: float


class RefineService(QObject):
    """`refine()` solves the edge band on a worker; results arrive on `runner.finished`."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.runner = JobRunner(self, "refine")
        self.warmup_runner = JobRunner(self, "matting warm-up")

    def warm_up(self) -> int:
        """Compile (or load from the numba cache) the matting kernels in the background, so
        that the first refinement in the app is not slow."""

        def job(progress: ProgressFn, cancel: CancelToken) -> None:
            from bgeraser_gui.core.matting import warm_up

            warm_up()

        return self.warmup_runner.submit(job)

    def refine(
        self,
        pipeline: Pipeline,
        rgb: np.ndarray,
        mask: np.ndarray,
        touchups: np.ndarray | None,
        options: object | None = None,
        tag: object = None,
    ) -> int:
        """`pipeline.refine` on a worker; `options` (RefineOptions) replace the pipeline's."""

        def job(progress: ProgressFn, cancel: CancelToken) -> RefineOutcome:
            start = time.perf_counter()
            progress(0.0, "Refining edges…")
            result = pipeline.refine(rgb, mask, touchups, progress, cancel, options)
            return RefineOutcome(tag=tag, result=result, seconds=time.perf_counter() - start)

        return self.runner.submit(job)

    def cancel(self) -> bool:
        return self.runner.cancel()

    def shutdown(self) -> None:
        self.runner.shutdown()
        self.warmup_runner.shutdown()
