"""The batch pipeline: the usual cutout pipeline that also rates each result for review.

The "needs review" score (see `core.review_score`) of the last finished cutout is kept on
the pipeline, so a job can put it into its report record; sorting a report by it puts the
images most worth a human look first. Each worker owns its pipeline, so no locking.
"""

from __future__ import annotations

from bgeraser_gui.core.pipeline import CutoutResult, Pipeline
from bgeraser_gui.core.review_score import score_mask


class ScoringPipeline(Pipeline):
    """A `Pipeline` whose `last_review_score` is the score of its latest cutout."""

    last_review_score: float | None = None

    def cutout(self, image, progress=None, cancel=None) -> CutoutResult:
        self.last_review_score = None
        result = super().cutout(image, progress, cancel)
        self.last_review_score = float(score_mask(result.alpha_u8).score)
        return result
