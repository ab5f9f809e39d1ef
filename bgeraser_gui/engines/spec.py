"""A picklable recipe for the per-image pipeline, so every worker can build its own.

Workers (threads, processes, Ray actors) receive a `PipelineSpec` and call `build()` once:
the model is loaded once per worker and reused for every image it processes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from bgeraser_gui.core.segmentation import SegmentationBackend
from bgeraser_gui.core.compose import ExportOptions


@dataclass(frozen=True)
class PipelineSpec:
    model: str | None = None  # registry name or .onnx path; None = the default model
    device: str = "auto"
    runtime: str = "auto"  # inference library: "auto", "torch" or "onnxruntime"
    quality: str = "best"  # segmentation preset: "best", "fast" or "rembg"
    refine: bool = True  # trimap alpha matting after segmentation
    export: ExportOptions = field(default_factory=ExportOptions)
    # Tests and embedders may supply their own backend (must be picklable for processes/Ray).
    backend_factory: Callable[[], SegmentationBackend] | None = None
    torch_threads: int | None = None  # intra-op threads per worker; None = library default
    max_pixels: int | None = None  # decompression-bomb guard; None = the loader's default

    def load_backend(self) -> SegmentationBackend:
        if self.backend_factory is not None:
            return self.backend_factory()
        from bgeraser_gui.backends.loader import load_backend
        from bgeraser_gui.backends.segmenter import QUALITY_PRESETS
        from bgeraser_gui.commands.common import default_model_name

        model = self.model or default_model_name(notify=None)
        options = QUALITY_PRESETS[self.quality]
        return load_backend(model, self.device, engine=self.runtime, options=options)

    def build(self):
        """Load the model (once per worker) and return a ready pipeline that also scores."""
        from bgeraser_gui.core.matting import RefineOptions
        from bgeraser_gui.engines.scoring_pipeline import ScoringPipeline

        backend = self.load_backend()
        if self.torch_threads:  # after loading: the loader sets its own default
            import torch

            torch.set_num_threads(self.torch_threads)
        limits = {} if self.max_pixels is None else {"max_pixels": self.max_pixels}
        refine = RefineOptions(enabled=self.refine)
        return ScoringPipeline(backend, refine=refine, export=self.export, **limits)
