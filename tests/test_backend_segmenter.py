"""Segmenter pipeline logic (flip averaging, crop pass, progress, cancel) on a tiny stand-in
network: 'subject' = bright pixels, so every expected mask is known exactly."""

from __future__ import annotations

import numpy as np
import pytest

from bgeraser_gui.backends.model_io import InputSpec
from bgeraser_gui.backends.segmenter import QualityOptions, Segmenter
from bgeraser_gui.core.errors import Cancelled
from bgeraser_gui.core.progress import CancelToken


class BrightnessSegmenter(Segmenter):
    """Network stand-in: foreground probability = mean input brightness (0..1), recorded."""

    def __init__(self, options: QualityOptions, size: int = 64) -> None:
        super().__init__(
            "bright", "cpu", InputSpec(size, (0, 0, 0), (1, 1, 1), "identity"), options
        )
        self.batches: list[np.ndarray] = []

    def _run(self, batch: np.ndarray) -> np.ndarray:
        self.batches.append(batch.copy())
        return batch.mean(axis=1)


def _photo(subject: tuple[int, int, int, int], shape=(200, 300)) -> np.ndarray:
    rgb = np.full((*shape, 3), 10, np.uint8)
    x0, y0, x1, y1 = subject
    rgb[y0:y1, x0:x1] = 250
    return rgb


def test_flip_averaging_runs_the_mirrored_input_and_unflips_it():
    rgb = _photo((20, 50, 90, 150))
    plain = BrightnessSegmenter(QualityOptions()).predict(rgb)
    segmenter = BrightnessSegmenter(QualityOptions(flip_tta=True))
    flipped = segmenter.predict(rgb)
    assert len(segmenter.batches) == 2
    np.testing.assert_array_equal(segmenter.batches[1], segmenter.batches[0][..., ::-1])
    np.testing.assert_allclose(flipped, plain, atol=1e-5)  # symmetric stand-in: same result
    assert flipped[100, 50] > 0.9 and flipped[100, 200] < 0.1


def test_crop_pass_runs_only_for_small_subjects_and_pastes_back():
    small = BrightnessSegmenter(QualityOptions(crop_pass=True))
    mask = small.predict(_photo((140, 90, 160, 110)))  # 20x20 subject in 300x200
    assert len(small.batches) == 2
    assert mask[100, 150] > 0.9 and mask[10, 10] < 0.05
    assert mask.shape == (200, 300)
    large = BrightnessSegmenter(QualityOptions(crop_pass=True))
    large.predict(_photo((20, 20, 280, 180)))
    assert len(large.batches) == 1


def test_progress_reaches_one_and_cancel_stops_between_steps():
    events: list[float] = []
    segmenter = BrightnessSegmenter(QualityOptions(flip_tta=True, clean_regions=True))
    segmenter.predict(_photo((20, 50, 90, 150)), progress=lambda f, _m: events.append(f))
    assert events[0] == 0.0 and events[-1] == 1.0 and events == sorted(events)

    token = CancelToken()

    class CancelAfterFirstRun(BrightnessSegmenter):
        def _run(self, batch):
            token.cancel()
            return super()._run(batch)

    with pytest.raises(Cancelled):
        CancelAfterFirstRun(QualityOptions(flip_tta=True)).predict(
            _photo((20, 50, 90, 150)), cancel=token
        )
