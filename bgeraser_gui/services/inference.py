"""Segmentation off the UI thread, through the one cutout pipeline (`assemble.build_pipeline`).

torch and the model code are imported inside the worker, never at window start-up. One pipeline
is kept per (model, device, model folder), so switching back and forth does not reload a model;
the editor's refinement and export run through the same pipeline object (`pipeline(...)`).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from PySide6.QtCore import QObject, Signal

from bgeraser_gui.assemble import PipelineSpec, build_pipeline
from bgeraser_gui.core.document import PreparedMask, prepare_mask
from bgeraser_gui.core.pipeline import Pipeline
from bgeraser_gui.core.progress import CancelToken, ProgressFn, sub_progress
from bgeraser_gui.services.worker import JobRunner

# (model name or .onnx path, device, progress for a first-use download) -> backend; for tests
# and embedders: without one, the pipeline loads the model itself
BackendFactory = Callable[[str, str, ProgressFn | None], object]


@dataclass
class SegmentationResult:
    tag: object  # whatever the caller passed (e.g. the document), to match the result
    prepared: PreparedMask  # checked and copied on the worker: the GUI thread only swaps it in
    model: str
    device: str
    seconds: float

    @property
    def mask(self) -> np.ndarray:
        """float32 HxW in [0, 1]."""
        return self.prepared.array


class InferenceService(QObject):
    """`segment()` runs the model on a worker; results arrive on `runner.finished`."""

    backendReady = Signal(str, str)  # model, device actually used
    backendFailed = Signal(str, object)  # model, exception

    def __init__(
        self, parent: QObject | None = None, backend_factory: BackendFactory | None = None
    ) -> None:
        super().__init__(parent)
        self._factory = backend_factory
        self._pipelines: dict[tuple[str, str, str], Pipeline] = {}
        self._lock = threading.Lock()
        self.runner = JobRunner(self, "segment")
        self.warmup_runner = JobRunner(self, "warm-up")
        self.warmup_runner.finished.connect(self._on_warm)
        self.warmup_runner.failed.connect(self._on_warm_failed)
        self._warm_model = ""

    def pipeline(self, model: str, device: str, model_folder: str = "") -> Pipeline:
        """The editor's pipeline for (model, device) with models from `model_folder` (the
        settings' choice; "" = the default folder): cheap, its model loads on first use."""
        key = (model, device, model_folder)
        with self._lock:
            if key not in self._pipelines:
                factory = self._factory
                spec = PipelineSpec(
                    model=model,
                    model_folder=model_folder or None,
                    device=device,
                    backend_factory=None
                    if factory is None
                    else lambda: factory(model, device, None),
                )
                self._pipelines[key] = build_pipeline(spec)
            return self._pipelines[key]

    def backend(
        self,
        model: str,
        device: str,
        progress: ProgressFn | None = None,
        model_folder: str = "",
    ) -> object:
        """Load (once) and return the model; call from a worker thread."""
        return self.pipeline(model, device, model_folder).load(progress)

    def forget_backends(self) -> None:
        with self._lock:
            self._pipelines.clear()

    def warm_up(self, model: str, device: str, model_folder: str = "") -> int:
        """Load the model in the background so the first segmentation starts at once."""
        self._warm_model = model
        return self.warmup_runner.submit(
            lambda progress, cancel: self.backend(model, device, model_folder=model_folder)
        )

    def _on_warm(self, _job_id: int, backend: object) -> None:
        self.backendReady.emit(self._warm_model, str(getattr(backend, "device", "")))

    def _on_warm_failed(self, _job_id: int, exc: object) -> None:
        self.backendFailed.emit(self._warm_model, exc)

    def segment(
        self,
        rgb: np.ndarray,
        model: str,
        device: str,
        tag: object = None,
        title: str = "",
        model_folder: str = "",
    ) -> int:
        """Predict a mask for `rgb`; a newer call supersedes (and cancels) an older one.
        `title` names the model in progress messages (default: `model`)."""
        title = title or model
        pipeline = self.pipeline(model, device, model_folder)

        def job(progress: ProgressFn, cancel: CancelToken) -> SegmentationResult:
            start = time.perf_counter()
            verb = "Finding the subject with" if pipeline.loaded else "Loading model"
            progress(0.0, f"{verb} {title}…")
            backend = pipeline.load(progress)  # downloads report here
            cancel.check()
            self.backendReady.emit(model, str(getattr(backend, "device", device)))
            mask = pipeline.segment(rgb, sub_progress(progress, 0.05, 1.0), cancel)
            cancel.check()
            return SegmentationResult(
                tag=tag,
                prepared=prepare_mask(mask, rgb.shape[:2]),
                model=model,
                device=str(getattr(backend, "device", device)),
                seconds=time.perf_counter() - start,
            )

        return self.runner.submit(job)

    def cancel(self) -> bool:
        return self.runner.cancel()

    def shutdown(self) -> None:
        self.runner.shutdown()
        self.warmup_runner.shutdown()
