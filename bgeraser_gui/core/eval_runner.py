"""Score one evaluation sample: predict once, refine if asked, compute every metric.

Predicted alphas are saved as 8-bit PNG under `<out>/predictions/<model>/<mode>/<data set>/`
so a later run can reuse them (`resume`) and the contact sheet can show them.
The model is passed in as a zero-argument callable returning a SegmentationBackend, so the
core never imports the backends package.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from bgeraser_gui.core.compose import to_alpha_u8
from bgeraser_gui.core.errors import BgEraserError
from bgeraser_gui.core.eval_dataset import EvalSample, load_sample
from bgeraser_gui.core.eval_report import CsvResultWriter
from bgeraser_gui.core.metrics import evaluate_alpha, unknown_band
from bgeraser_gui.core.one_pass_fallback import OnePassFallback
from bgeraser_gui.core.progress import no_progress
from bgeraser_gui.core.review_score import score_mask

MODES = ("raw", "refined")


def prediction_path(out: Path, model: str, mode: str, sample: EvalSample) -> Path:
    return out / "predictions" / model / mode / sample.dataset / f"{sample.stem}.png"


def save_alpha(path: Path, alpha_u8: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(alpha_u8).save(path)


def load_alpha(path: Path) -> np.ndarray:
    """A saved prediction as uint8 alpha."""
    with Image.open(path) as im:
        return np.asarray(im.convert("L"), dtype=np.uint8)


def refine_alpha(
    rgb: np.ndarray, mask: np.ndarray, one_pass: OnePassFallback | None = None
) -> np.ndarray:
    """The product's default edge refinement (with `one_pass`, its fallback to the first
    network pass as `Pipeline.refine` applies it); colour decontamination is skipped because
    it does not change alpha (only the foreground colours)."""
    from bgeraser_gui.core.matting import RefineOptions, refine

    def run(start: np.ndarray):
        return refine(rgb, start, options=RefineOptions(decontaminate=False))

    result = run(mask) if one_pass is None else one_pass.refine(run, mask)
    return np.asarray(result.alpha, dtype=np.float32)


@dataclass
class ScoringSettings:
    out: Path
    modes: tuple[str, ...] = MODES
    resume: bool = False  # reuse predictions saved in `out`
    band_px: int = 10
    boundary_tolerance: float = 3.0
    # with resume: the timings an earlier run measured, by (dataset, stem, model, mode)
    previous_seconds: dict[tuple, float | None] = field(default_factory=dict)


class SampleScorer:
    """Predicts each sample once per model and scores it in every requested mode; rows go
    to `rows` and the CSV writer, problems to `skipped` (one line each)."""

    def __init__(self, settings: ScoringSettings, writer: CsvResultWriter) -> None:
        self.settings, self.writer = settings, writer
        self.rows: list[dict] = []
        self.skipped: list[str] = []
        self.one_pass = OnePassFallback()  # as the pipeline refines a mask it segmented

    def score(self, get_backend: Callable[[], Any], model: str, sample: EvalSample) -> float | None:
        """Score one sample; returns the seconds spent computing (None if all reused)."""
        cfg = self.settings
        try:
            data = load_sample(sample)
        except BgEraserError as exc:
            self.skipped.append(f"{sample.dataset}/{sample.stem}: {exc}")
            return None
        band = unknown_band(data.alpha, data.trimap, cfg.band_px)
        band_name = "trimap" if data.trimap is not None else f"contour+-{cfg.band_px}px"
        spent, raw, raw_seconds = 0.0, None, None
        for mode in cfg.modes:
            path = prediction_path(cfg.out, model, mode, sample)
            seconds = None
            if cfg.resume and path.exists():
                alpha = load_alpha(path)
                seconds = self._previous(sample, model, mode)
            else:
                if raw is None:
                    predicted = self._raw_prediction(get_backend, model, sample, data.rgb)
                    if predicted is None:
                        break  # reported in `skipped`
                    raw, raw_seconds = predicted
                    spent += raw_seconds
                if mode == "raw":
                    alpha, seconds = raw, raw_seconds
                else:
                    start = time.perf_counter()
                    try:
                        alpha = refine_alpha(data.rgb, raw, self.one_pass)
                    except BgEraserError as exc:
                        self.skipped.append(f"{sample.dataset}/{sample.stem} (refined): {exc}")
                        continue
                    elapsed = time.perf_counter() - start
                    spent += elapsed
                    seconds = raw_seconds + elapsed
                alpha = to_alpha_u8(alpha)  # as exported: resumed runs score the same
                save_alpha(path, alpha)
            metrics = evaluate_alpha(alpha, data.alpha, data.ignore, band, cfg.boundary_tolerance)
            row = {
                "dataset": sample.dataset,
                "stem": sample.stem,
                "model": model,
                "mode": mode,
                "width": data.rgb.shape[1],
                "height": data.rgb.shape[0],
                "seconds": seconds,
                "band": band_name,
                **metrics,
                "review": score_mask(alpha).score,
            }
            self.rows.append(row)
            self.writer.write(row)
        return spent or None

    def _raw_prediction(
        self, get_backend: Callable[[], Any], model: str, sample: EvalSample, rgb: np.ndarray
    ) -> tuple[np.ndarray, float] | None:
        """(mask, seconds), or None when the model failed on this photo.

        Always a fresh prediction, also when resuming: refinement must start from the float
        mask and its first pass (the one-pass fallback), as the pipeline's does; a raw mask
        reloaded from its 8-bit file has neither."""
        network = get_backend()  # a model that cannot be loaded stops the whole run
        start = time.perf_counter()
        try:
            mask = np.asarray(self.one_pass.predict(network, rgb, no_progress, None), np.float32)
        except BgEraserError as exc:
            self.skipped.append(f"{sample.dataset}/{sample.stem}: prediction failed: {exc}")
            return None
        return mask, time.perf_counter() - start

    def _previous(self, sample: EvalSample, model: str, mode: str) -> float | None:
        return self.settings.previous_seconds.get((sample.dataset, sample.stem, model, mode))
