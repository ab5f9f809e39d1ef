"""The cutout pipeline: load -> segment -> refine (trimap + matting) -> score -> export.

Qt-free. Built in one place (`bgeraser_gui.assemble.build_pipeline`) and run by everything that
cuts out photos: the editor's services (stage by stage: segment now, refine later), the GUI
batch queue, `bgeraser-cli cutout`, the local and Ray batch engines. Each stage reports progress
into its slice of the overall 0..1 and checks the cancel token.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from bgeraser_gui.core.compose import (
    ExportOptions,
    encode_cutout,
    export_cutout,
    output_path_for,
    refuse_overwriting_input,
    to_alpha_u8,
)
from bgeraser_gui.core.errors import ModelError
from bgeraser_gui.core.image_io import DEFAULT_MAX_PIXELS, LoadedImage, load_image
from bgeraser_gui.core.memory import release_free_memory
from bgeraser_gui.core.one_pass_fallback import OnePassFallback
from bgeraser_gui.core.progress import CancelToken, ProgressFn, no_progress, sub_progress
from bgeraser_gui.core.refine_types import MattingResult, RefineOptions
from bgeraser_gui.core.review_score import ReviewScore, score_mask
from bgeraser_gui.core.segmentation import SegmentationBackend
from bgeraser_gui.core.stage_gates import StageGates

# Share of the overall progress each stage gets (load, segment, refine, export).
STAGES = (("load", 0.05), ("segment", 0.45), ("refine", 0.40), ("export", 0.10))

BackendLoader = Callable[[ProgressFn | None], SegmentationBackend]


def _stage_slices(refining: bool) -> dict[str, tuple[float, float]]:
    weights = {name: w for name, w in STAGES if refining or name != "refine"}
    total = sum(weights.values())
    slices, start = {}, 0.0
    for name, weight in weights.items():
        slices[name] = (start, start + weight / total)
        start += weight / total
    return slices


def _rgb(image: LoadedImage | np.ndarray) -> np.ndarray:
    return image.rgb if isinstance(image, LoadedImage) else image


def refine(rgb: np.ndarray, mask: np.ndarray, **kwargs) -> MattingResult:
    """core.matting.refine, imported on first use: its numba/scipy stack costs ~1 s of every
    start that never refines (`--no-refine`, the editor until its first refinement)."""
    from bgeraser_gui.core import matting

    return matting.refine(rgb, mask, **kwargs)


@dataclass
class CutoutResult:
    """What one photo produced: the soft alpha, decontaminated colours, notes and timings."""

    mask: np.ndarray  # the model's soft mask, float32 HxW
    alpha: np.ndarray  # final alpha, float32 HxW
    foreground: np.ndarray | None  # float32 HxWx3 in [0, 1] when decontaminated
    notes: list[str] = field(default_factory=list)
    review: ReviewScore | None = None  # how much the result needs a human look
    seconds: dict[str, float] = field(default_factory=dict)  # per stage

    @property
    def alpha_u8(self) -> np.ndarray:
        return to_alpha_u8(self.alpha)


class Pipeline:
    """One configured cutout runner; reuse it across files (the model stays loaded).

    `backend` is a loaded model, or `loader(progress)` loads it on first use (thread-safe), so
    building a pipeline is cheap and the editor can refine and export with it before (or
    without) a model run. `last_result` is the latest `cutout()` of this pipeline: each batch
    worker owns its pipeline and reads it for its report."""

    def __init__(
        self,
        backend: SegmentationBackend | None = None,
        refine: RefineOptions | None = None,
        export: ExportOptions | None = None,
        max_pixels: int = DEFAULT_MAX_PIXELS,
        loader: BackendLoader | None = None,
    ) -> None:
        self._backend = backend
        self._loader = loader
        self._load_lock = threading.Lock()
        self.refine_options = refine if refine is not None else RefineOptions()
        self.export_options = export if export is not None else ExportOptions()
        self.max_pixels = max_pixels
        self.last_result: CutoutResult | None = None
        self._one_pass = OnePassFallback()  # refinement's fallback to the first pass's mask
        # Batch engines: photos in flight share these gates, one photo per stage at a time
        # (core/stage_gates.py); None: no limit (the editor, one photo at a time).
        self.stages: StageGates | None = None

    def _stage(self, name: str) -> contextlib.AbstractContextManager:
        return contextlib.nullcontext() if self.stages is None else self.stages.enter(name)

    # -- the model -------------------------------------------------------------------------
    @property
    def loaded(self) -> bool:
        return self._backend is not None

    def load(self, progress: ProgressFn | None = None) -> SegmentationBackend:
        """The model, loaded now if it was not (downloads report to `progress`)."""
        with self._load_lock:
            if self._backend is None:
                if self._loader is None:
                    raise ModelError("no segmentation model is configured")
                self._backend = self._loader(progress)
            return self._backend

    @property
    def backend(self) -> SegmentationBackend:
        return self.load()

    @property
    def last_review_score(self) -> float | None:
        result = self.last_result
        return None if result is None or result.review is None else float(result.review.score)

    # -- stages ----------------------------------------------------------------------------
    def segment(
        self,
        image: LoadedImage | np.ndarray,
        progress: ProgressFn | None = None,
        cancel: CancelToken | None = None,
    ) -> np.ndarray:
        """The model's soft mask, float32 HxW in [0, 1] at the photo's size."""
        if cancel is not None:
            cancel.check()
        rgb = _rgb(image)
        with self._stage("segment"):
            mask = self._one_pass.predict(self.load(), rgb, progress or no_progress, cancel)
            release_free_memory()  # the network's activations, before the full-size stages
        if np.shape(mask) != rgb.shape[:2]:
            raise ModelError(f"model returned a {np.shape(mask)} mask for a {rgb.shape[:2]} image")
        return np.asarray(mask, dtype=np.float32)

    def refine(
        self,
        image: LoadedImage | np.ndarray,
        mask: np.ndarray,
        touchups: np.ndarray | None = None,
        progress: ProgressFn | None = None,
        cancel: CancelToken | None = None,
        options: RefineOptions | None = None,
    ) -> MattingResult:
        """Alpha matting in the uncertain band, with colour decontamination; `touchups` are
        the user's touch-ups. `options` replace the pipeline's refine options for this call.
        A mask this pipeline segmented may be refined from its first pass instead
        (core/one_pass_fallback.py)."""

        def run(start: np.ndarray) -> MattingResult:
            return refine(
                _rgb(image),
                start,
                touchups=touchups,
                options=options or self.refine_options,
                progress=progress or no_progress,
                cancel=cancel,
            )

        with self._stage("refine"):
            return self._one_pass.refine(run, mask)

    @staticmethod
    def score(alpha: np.ndarray) -> ReviewScore:
        """How much the cutout needs a human look (batch reports sort by it)."""
        return score_mask(to_alpha_u8(alpha))

    def cutout(
        self,
        image: LoadedImage | np.ndarray,
        progress: ProgressFn | None = None,
        cancel: CancelToken | None = None,
        on_stage: Callable[[str], None] | None = None,
    ) -> CutoutResult:
        """Segment, (optionally) refine and score one decoded photo. `on_stage(name)` is told
        when "segment" and "refine" start."""
        self.last_result = None
        progress = progress or no_progress
        refining = self.refine_options.enabled
        slices = _stage_slices(refining)
        seconds: dict[str, float] = {}
        started = time.perf_counter()
        if on_stage is not None:
            on_stage("segment")
        mask = self.segment(image, sub_progress(progress, *slices["segment"]), cancel)
        seconds["segment"] = time.perf_counter() - started
        result = CutoutResult(mask=mask, alpha=mask, foreground=None, seconds=seconds)
        if refining:
            if on_stage is not None:
                on_stage("refine")
            started = time.perf_counter()
            matte = self.refine(
                image, mask, None, sub_progress(progress, *slices["refine"]), cancel
            )
            seconds["refine"] = time.perf_counter() - started
            result.alpha, result.foreground = matte.alpha, matte.foreground
            result.notes = list(matte.notes)
        result.review = self.score(result.alpha)
        self.last_result = result
        return result

    def export(
        self,
        image: LoadedImage,
        alpha: np.ndarray,
        target: str | Path,
        foreground: np.ndarray | None = None,
        options: ExportOptions | None = None,
        objects: list | None = None,
    ) -> Path | None:
        """Write the cutout atomically (None when the existing-file policy skipped it).
        `alpha` is float in [0, 1] or uint8; `options` replace the pipeline's for this call.
        `objects` (core.objects) are the layers of an ORA/PSD (None: split from the alpha)."""
        options = options or self.export_options
        with self._stage("export"):
            return export_cutout(image, alpha, Path(target), options, foreground, objects=objects)

    def encode(
        self,
        image: LoadedImage,
        alpha: np.ndarray,
        foreground: np.ndarray | None = None,
        options: ExportOptions | None = None,
    ) -> bytes:
        """The export `export` would write, as bytes in memory (the HTTP server's answer)."""
        options = options or self.export_options
        return encode_cutout(image, alpha, options, foreground=foreground)

    # -- files -----------------------------------------------------------------------------
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
        self.last_result = None
        slices = _stage_slices(self.refine_options.enabled)
        target = self.output_path(path, out_dir)
        if self.export_options.existing == "skip" and target.exists():
            progress(1.0, f"skipped {Path(path).name}: output exists")
            return None
        # checked before the model runs: minutes of work must not end in this refusal
        refuse_overwriting_input(target, {Path(path).resolve()}, self.export_options)
        progress(0.0, f"loading {Path(path).name}")
        image = self.load_image(path)
        progress(slices["load"][1], f"segmenting {Path(path).name}")
        result = self.cutout(image, progress, cancel)
        if notes is not None:
            notes.extend(result.notes)
        if cancel is not None:
            cancel.check()
        progress(slices["export"][0], f"writing {target.name}")
        written = self.export(image, result.alpha, target, result.foreground)
        progress(1.0, f"done {Path(path).name}")
        return written

    def load_image(self, path: str | Path) -> LoadedImage:
        """Decode a photo under this pipeline's size guard."""
        with self._stage("load"):
            return load_image(path, max_pixels=self.max_pixels)
