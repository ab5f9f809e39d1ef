"""Refinement's fallback to the first network pass (core/one_pass_fallback.py): the segmenter
keeps the first pass without a second network call, and the rule picks per photo."""

from __future__ import annotations

import numpy as np

from bgeraser_gui.backends.model_io import InputSpec
from bgeraser_gui.backends.segmenter import QualityOptions, Segmenter
from bgeraser_gui.core import pipeline as pipeline_module
from bgeraser_gui.core.matting import MattingResult
from bgeraser_gui.core.one_pass_fallback import OnePassFallback
from bgeraser_gui.core.pipeline import Pipeline
from bgeraser_gui.core.progress import no_progress


class LeaningSegmenter(Segmenter):
    """Network stand-in that is not mirror-symmetric: brightness times a left-to-right ramp,
    so the flipped pass differs from the first one. Counts its network calls."""

    def __init__(self, options: QualityOptions, size: int = 32) -> None:
        super().__init__("lean", "cpu", InputSpec(size, (0, 0, 0), (1, 1, 1), "identity"), options)
        self.calls = 0

    def _run(self, batch: np.ndarray) -> np.ndarray:
        self.calls += 1
        ramp = np.linspace(0.2, 1.0, batch.shape[-1], dtype=np.float32)
        return batch.mean(axis=1) * ramp


def _photo() -> np.ndarray:
    rgb = np.full((60, 90, 3), 10, np.uint8)
    rgb[10:50, 20:70] = 250
    return rgb


def test_the_first_pass_comes_from_the_same_two_network_calls():
    rgb = _photo()
    segmenter = LeaningSegmenter(QualityOptions(flip_tta=True, clean_regions=True))
    mask, one_pass = segmenter.predict_passes(rgb)
    assert segmenter.calls == 2
    np.testing.assert_array_equal(mask, segmenter.predict(rgb))
    first = one_pass()
    assert segmenter.calls == 4  # building the first pass's mask runs no network
    np.testing.assert_allclose(first, segmenter.predict_once(rgb), atol=1e-6)
    assert not np.allclose(first, mask, atol=0.02)  # the passes really differ


def test_no_first_pass_without_flip_averaging_or_with_the_crop_pass():
    rgb = _photo()
    assert LeaningSegmenter(QualityOptions()).predict_passes(rgb)[1] is None
    crop = QualityOptions(flip_tta=True, crop_pass=True)
    assert LeaningSegmenter(crop).predict_passes(rgb)[1] is None


def _disputing(disputes: dict[float, float], runs: list[float]):
    """A refine stand-in: the dispute depends on the start mask's value (its first pixel)."""

    def run(start: np.ndarray) -> MattingResult:
        runs.append(float(start.flat[0]))
        alpha = np.asarray(start, np.float32)
        return MattingResult(alpha, None, np.zeros(start.shape, np.uint8), [], disputes[runs[-1]])

    return run


class _Backend:
    name, device = "stub", "cpu"

    def __init__(self, first_pass_value: float) -> None:
        self.first = first_pass_value

    def predict_passes(self, rgb, progress=None, cancel=None):
        shape = rgb.shape[:2]
        return np.full(shape, 0.5, np.float32), lambda: np.full(shape, self.first, np.float32)


def test_the_first_pass_is_refined_only_when_the_average_disputes_and_kept_when_it_disputes_less():
    rgb = _photo()
    fallback = OnePassFallback(margin=0.01)
    mask = fallback.predict(_Backend(0.75), rgb, no_progress, None)
    runs: list[float] = []
    chosen = fallback.refine(_disputing({0.5: 0.2, 0.75: 0.0}, runs), mask.copy())
    assert runs == [0.5, 0.75] and chosen.alpha.flat[0] == np.float32(0.75)
    assert any("single-pass" in note for note in chosen.notes)
    runs.clear()  # averaged result disputes little: no second refinement
    assert fallback.refine(_disputing({0.5: 0.005}, runs), mask).alpha.flat[0] == 0.5
    assert runs == [0.5]
    runs.clear()  # the first pass disputes as much: the averaged result stays
    assert fallback.refine(_disputing({0.5: 0.2, 0.75: 0.195}, runs), mask).alpha.flat[0] == 0.5
    runs.clear()  # a mask changed since segmentation (a click) has no first pass
    edited = mask.copy()
    edited[0, 1] = 1.0
    assert fallback.refine(_disputing({0.5: 0.2}, runs), edited).alpha.flat[0] == 0.5
    assert runs == [0.5]


def test_pipeline_cutout_and_a_later_refine_of_a_copy_use_the_first_pass(monkeypatch):
    runs: list[float] = []
    fake = _disputing({0.5: 0.3, 0.75: 0.02}, runs)
    monkeypatch.setattr(pipeline_module, "refine", lambda rgb, start, **kw: fake(start))
    pipeline = Pipeline(backend=_Backend(0.75))
    result = pipeline.cutout(_photo())
    assert runs == [0.5, 0.75] and float(result.alpha.max()) == np.float32(0.75)
    np.testing.assert_array_equal(result.mask, 0.5)  # the model's mask stays the averaged one
    runs.clear()  # the editor refines a copy of the document's model mask (Ctrl+M)
    assert pipeline.refine(_photo(), result.mask.copy()).alpha.flat[0] == np.float32(0.75)
