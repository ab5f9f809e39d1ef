"""The cutout pipeline: load -> segment -> trimap -> matting -> compose/export.

Qt-free; the CLI, the batch engines and the editor's services all run this. Each stage
reports progress into its slice of the overall 0..1 and checks the cancel token.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from bgeraser_gui.core.compose import (
    ExportOptions,
    export_cutout,
    output_path_for,
    refuse_overwriting_input,
    to_alpha_u8,
)
from bgeraser_gui.core.image_io import DEFAULT_MAX_PIXELS, LoadedImage, load_image
from bgeraser_gui.core.matting import MattingResult, RefineOptions, refine
from bgeraser_gui.core.progress import CancelToken, ProgressFn, no_progress, sub_progress

if TYPE_CHECKING:  # the Protocol only; core never imports backends at run time
    from bgeraser_gui.core.segmentation import SegmentationBackend

# Share of the overall progress each stage gets (load, segment, refine, export).
STAGES = (("load", 0.05), ("segment", 0.45), ("refine", 0.40), ("export", 0.10))


def _stage_slices(refining: bool) -> dict[str, tuple[float, float]]:
    weights = {name: w for name, w in STAGES if refining or name != "refine"}
    total = sum(weights.values())
    slices, start = {}, 0.0
    for name, weight in weights.items():
        slices[name] = (start, start + weight / total)
        start += weight / total
    return slices


@dataclass
class CutoutResult:
    """What one photo produced: the soft alpha, decontaminated colours, and notes."""

    mask: np.ndarray  # the model's soft mask, float32 HxW
    alpha: np.ndarray  # final alpha, float32 HxW
    foreground: np.ndarray | None  # float32 HxWx3 in [0, 1] when decontaminated
    notes: list[str] = field(default_factory=list)

    @property
    def alpha_u8(self) -> np.ndarray:
        return to_alpha_u8(self.alpha)


class Pipeline:
    """One configured cutout job runner; reuse it across files (the backend stays loaded)."""

    def __init__(
        self,
        backend: SegmentationBackend,
        refine: RefineOptions | None = None,
        export: ExportOptions | None = None,
        max_pixels: int = DEFAULT_MAX_PIXELS,
    ) -> None:
        self.backend = backend
        self.refine_options = refine if refine is not None else RefineOptions()
        self.export_options = export if export is not None else ExportOptions()
        self.max_pixels = max_pixels

    def segment(
        self,
        image: LoadedImage,
        progress: ProgressFn | None = None,
        cancel: CancelToken | None = None,
    ) -> np.ndarray:
        """The model's soft mask, float32 HxW in [0, 1] at the photo's size."""
        if cancel is not None:
            cancel.check()
        mask = self.backend.predict(image.rgb, progress=progress or no_progress, cancel=cancel)
        return np.asarray(mask, dtype=np.float32)

    def refine(
        self,
        image: LoadedImage,
        mask: np.ndarray,
        overrides: np.ndarray | None = None,
        progress: ProgressFn | None = None,
        cancel: CancelToken | None = None,
    ) -> MattingResult:
        """Alpha matting in the uncertain band, with colour decontamination."""
        return refine(
            image.rgb,
            mask,
            overrides=overrides,
            options=self.refine_options,
            progress=progress or no_progress,
            cancel=cancel,
        )

    def cutout(
        self,
        image: LoadedImage,
        progress: ProgressFn | None = None,
        cancel: CancelToken | None = None,
    ) -> CutoutResult:
        """Segment and (optionally) refine one decoded photo."""
        progress = progress or no_progress
        refining = self.refine_options.enabled
        slices = _stage_slices(refining)
        mask = self.segment(image, sub_progress(progress, *slices["segment"]), cancel)
        if not refining:
            return CutoutResult(mask=mask, alpha=mask, foreground=None)
        matte = self.refine(image, mask, None, sub_progress(progress, *slices["refine"]), cancel)
        return CutoutResult(
            mask=mask, alpha=matte.alpha, foreground=matte.foreground, notes=list(matte.notes)
        )

    def output_path(self, path: str | Path, out_dir: str | Path) -> Path:
        return output_path_for(path, out_dir, self.export_options)

    def process_file(
        self,
        path: str | Path,
        out_dir: str | Path,
        progress: ProgressFn | None = None,
        cancel: CancelToken | None = None,
        notes: list[str] | None = None,
    ) -> Path | None:
        """Cut out one file into `out_dir`. Returns the written path, or None when skipped.

        What the user should know about the result (e.g. a matting fallback) is appended to
        `notes` when a list is given."""
        progress = progress or no_progress
        slices = _stage_slices(self.refine_options.enabled)
        target = self.output_path(path, out_dir)
        if self.export_options.existing == "skip" and target.exists():
            progress(1.0, f"skipped {Path(path).name}: output exists")
            return None
        # checked before the model runs: minutes of work must not end in this refusal
        refuse_overwriting_input(target, {Path(path).resolve()}, self.export_options)
        progress(0.0, f"loading {Path(path).name}")
        image = load_image(path, max_pixels=self.max_pixels)
        progress(slices["load"][1], f"segmenting {Path(path).name}")
        result = self.cutout(image, progress, cancel)
        if notes is not None:
            notes.extend(result.notes)
        if cancel is not None:
            cancel.check()
        progress(slices["export"][0], f"writing {target.name}")
        written = export_cutout(
            image, result.alpha_u8, target, self.export_options, foreground=result.foreground
        )
        progress(1.0, f"done {Path(path).name}")
        return written
