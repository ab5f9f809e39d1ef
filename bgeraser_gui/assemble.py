"""The one place where a cutout pipeline is assembled from settings.

A `PipelineSpec` says what the user chose (model, device, runtime, quality preset, refinement,
export options, limits); `build_pipeline(spec)` turns it into a `core.pipeline.Pipeline` whose
model is loaded on first use (once per pipeline). Everything that cuts out photos builds its
pipeline here: the editor's services, the GUI batch queue, `bgeraser-cli cutout`, the local and
Ray batch engines (and, later, a server). A feature added to the pipeline is added once.

The spec is picklable (when `backend_factory` is), so process pools and Ray actors receive it
and build their own pipeline: one loaded model per worker.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field

from bgeraser_gui.core.compose import ExportOptions
from bgeraser_gui.core.pipeline import Pipeline
from bgeraser_gui.core.progress import ProgressFn
from bgeraser_gui.core.refine_types import RefineOptions
from bgeraser_gui.core.segmentation import SegmentationBackend

QUALITIES = ("best", "fast", "rembg")


@dataclass(frozen=True)
class PipelineSpec:
    model: str | None = None  # registry name or .onnx path; None = the default model
    model_folder: str | None = None  # the settings' model folder; None = env or platform default
    device: str = "auto"
    runtime: str = "auto"  # inference library: "auto", "torch" or "onnxruntime"
    quality: str = "best"  # segmentation preset: "best", "fast" or "rembg"
    refine: bool | RefineOptions = True  # trimap alpha matting after segmentation
    export: ExportOptions = field(default_factory=ExportOptions)
    # Tests and embedders may supply their own backend (must be picklable for processes/Ray).
    backend_factory: Callable[[], SegmentationBackend] | None = None
    torch_threads: int | None = None  # the model's CPU threads per worker (torch or ONNX Runtime)
    max_pixels: int | None = None  # decompression-bomb guard; None = the loader's default
    objects: str | None = None  # write objects: "each" or "largest" (core.object_files)

    @property
    def refine_options(self) -> RefineOptions:
        if isinstance(self.refine, RefineOptions):
            return self.refine
        return RefineOptions(enabled=bool(self.refine))

    def with_model_resolved(self, notify: Callable[[str], None] | None = None) -> PipelineSpec:
        """This spec with `model` set to the model that will really be used (the default or
        its installed variant when none was given), so that every worker agrees."""
        if self.model is not None or self.backend_factory is not None:
            return self
        from bgeraser_gui.backends.model_choice import default_model

        return dataclasses.replace(self, model=default_model(self.model_folder, notify))

    def load_backend(self, progress: ProgressFn | None = None) -> SegmentationBackend:
        """The configured backend (downloads a registry model on first use)."""
        if self.quality not in QUALITIES:
            raise ValueError(f"quality must be one of {', '.join(QUALITIES)}")
        if self.torch_threads:  # before loading: both runtimes read it when they start
            from bgeraser_gui.backends.device import limit_cpu_threads

            limit_cpu_threads(self.torch_threads)
        if self.backend_factory is not None:
            backend = self.backend_factory()
        else:
            from bgeraser_gui.backends.loader import load_backend
            from bgeraser_gui.backends.segmenter import QUALITY_PRESETS

            model = self.with_model_resolved().model
            backend = load_backend(
                model,
                self.device,
                runtime=self.runtime,
                options=QUALITY_PRESETS[self.quality],
                progress=progress,
                folder=self.model_folder,
            )
        return backend


def build_pipeline(spec: PipelineSpec) -> Pipeline:
    """The pipeline for `spec`; its model loads on first use (or `pipeline.load()`)."""
    limits = {} if spec.max_pixels is None else {"max_pixels": spec.max_pixels}
    if spec.objects is not None:
        from bgeraser_gui.core.object_files import ObjectsPipeline

        limits["objects"] = spec.objects
        return ObjectsPipeline(
            loader=spec.load_backend, refine=spec.refine_options, export=spec.export, **limits
        )
    return Pipeline(
        loader=spec.load_backend, refine=spec.refine_options, export=spec.export, **limits
    )
