"""Segmentation off the UI thread: load a backend lazily (warm-up in the background), predict.

torch and the model code are imported inside the worker, never at window start-up. Loaded
backends are kept per (model, device) so switching back and forth does not reload them.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from PySide6.QtCore import QObject, Signal

from bgeraser_gui.core.document import PreparedMask, prepare_mask
from bgeraser_gui.core.progress import CancelToken, ProgressFn, sub_progress
from bgeraser_gui.services.worker import JobRunner

# (model name or .onnx path, device, progress for a first-use download) -> backend
BackendFactory = Callable[[str, str, ProgressFn | None], object]


def default_backend_factory(model: str, device: str, progress: ProgressFn | None = None) -> object:
    from bgeraser_gui.backends.loader import load_backend

    return load_backend(model, device, progress=progress)


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
        self._factory = backend_factory or default_backend_factory
        self._backends: dict[tuple[str, str], object] = {}
        self._load_lock = threading.Lock()
        self.runner = JobRunner(self, "segment")
        self.warmup_runner = JobRunner(self, "warm-up")
        self.warmup_runner.finished.connect(self._on_warm)
        self.warmup_runner.failed.connect(self._on_warm_failed)
        self._warm_model = ""

    def backend(self, model: str, device: str, progress: ProgressFn | None = None) -> object:
        """Load (once) and return the backend; call from a worker thread."""
        key = (model, device)
        with self._load_lock:
            if key not in self._backends:
                self._backends[key] = self._factory(model, device, progress)
            return self._backends[key]

    def forget_backends(self) -> None:
        with self._load_lock:
            self._backends.clear()

    def warm_up(self, model: str, device: str) -> int:
        """Load the model in the background so the first segmentation starts at once."""
        self._warm_model = model
        return self.warmup_runner.submit(lambda progress, cancel: self.backend(model, device))

    def _on_warm(self, _job_id: int, backend: object) -> None:
        self.backendReady.emit(self._warm_model, str(getattr(backend, "device", "")))

    def _on_warm_failed(self, _job_id: int, exc: object) -> None:
        self.backendFailed.emit(self._warm_model, exc)

    def segment(
        self, rgb: np.ndarray, model: str, device: str, tag: object = None, title: str = ""
    ) -> int:
        """Predict a mask for `rgb`; a newer call supersedes (and cancels) an older one.
        `title` names the model in progress messages (default: `model`)."""
        title = title or model

        def job(progress: ProgressFn, cancel: CancelToken) -> SegmentationResult:
            start = time.perf_counter()
            if (model, device) in self._backends:
                progress(0.0, f"Finding the subject with {title}…")
            else:
                progress(0.0, f"Loading model {title}…")
            backend = self.backend(model, device, progress)  # downloads report here
            cancel.check()
            self.backendReady.emit(model, str(getattr(backend, "device", device)))
            mask = backend.predict(rgb, progress=sub_progress(progress, 0.05, 1.0), cancel=cancel)
            if np.shape(mask) != rgb.shape[:2]:
                raise ValueError(
                    f"model returned a {np.shape(mask)} mask for a {rgb.shape[:2]} image"
                )
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
