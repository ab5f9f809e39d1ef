"""The eval summary measures the review score as a detector of bad cutouts."""

from __future__ import annotations

import pytest

from bgeraser_gui.core.eval_report import render_markdown, review_detection, summarize


def _row(stem: str, iou: float, sad: float, review: float | None) -> dict:
    return {"dataset": "set", "stem": stem, "model": "m", "mode": "refined", "iou": iou,
            "sad": sad, "seconds": 1.0, "review": review}  # fmt: skip


def test_a_score_that_ranks_the_errors_correlates_and_catches_the_failures():
    rows = [_row(f"i{k}", 1.0 - 0.05 * k, 2.0 * k, 0.1 * k) for k in range(10)]
    found = review_detection(rows)
    assert found.rho_iou == pytest.approx(1.0) and found.rho_sad == pytest.approx(1.0)
    # IoU < 0.8 for k = 5..9 (five failures); the top 20% (two images) are both failures
    assert (found.failures, found.caught) == (5, 2)


def test_a_score_that_ranks_backwards_is_reported_as_such():
    rows = [_row(f"i{k}", 1.0 - 0.05 * k, 2.0 * k, 1.0 - 0.1 * k) for k in range(10)]
    found = review_detection(rows)
    assert found.rho_iou == pytest.approx(-1.0) and found.caught == 0


def test_rows_without_a_review_score_give_no_detector_table():
    rows = [_row(f"i{k}", 0.9, 3.0, None) for k in range(5)]
    assert review_detection(rows) is None
    assert "detector" not in render_markdown(summarize(rows))


def test_the_summary_shows_the_detector_table():
    rows = [_row(f"i{k}", 1.0 - 0.05 * k, 2.0 * k, 0.1 * k) for k in range(10)]
    text = render_markdown(summarize(rows))
    assert "## Review score as a detector of bad cutouts" in text
    assert "| set | m | refined | 10 | +1.00 | +1.00 | 5 | 2 (40%) |" in text
