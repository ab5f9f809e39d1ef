"""The simulated user of `bgeraser-cli eval --clicks` (core.click_protocol), with engine
doubles defined here so the protocol is checked independently of any engine."""

from __future__ import annotations

import numpy as np
import pytest

from bgeraser_gui.core.click_protocol import (
    clicks_to_reach,
    iou_after,
    next_click,
    simulate,
    summarize_runs,
)


def _box(shape, y0, y1, x0, x1) -> np.ndarray:
    m = np.zeros(shape, dtype=bool)
    m[y0:y1, x0:x1] = True
    return m


class DiskPainter:
    """Engine double: each click paints a disk of `radius` (1 = positive, 0 = negative),
    only inside the ground truth (positive) or outside it (negative) when `truth` is given."""

    def __init__(self, start: np.ndarray | None, shape, radius: int, truth=None) -> None:
        self.mask = np.zeros(shape, np.float32) if start is None else start.astype(np.float32)
        self.radius, self.truth = radius, truth
        self.calls: list[tuple[int, int, bool]] = []

    def add(self, x: int, y: int, positive: bool) -> np.ndarray:
        self.calls.append((x, y, positive))
        yy, xx = np.ogrid[: self.mask.shape[0], : self.mask.shape[1]]
        disk = (yy - y) ** 2 + (xx - x) ** 2 <= self.radius**2
        if self.truth is not None:
            disk &= self.truth if positive else ~self.truth
        self.mask = self.mask.copy()
        self.mask[disk] = 1.0 if positive else 0.0
        return self.mask


class RegionOracle:
    """Engine double that is always right about the clicked connected region: a positive
    click adds the ground-truth component under it, a negative one removes the mask's.
    Like the real engine it returns its own array and changes it in place."""

    def __init__(self, start: np.ndarray, truth: np.ndarray) -> None:
        self.mask, self.truth = start.astype(np.float32), truth

    def add(self, x: int, y: int, positive: bool) -> np.ndarray:
        import cv2

        source = self.truth if positive else self.mask >= 0.5
        _, labels = cv2.connectedComponents(source.astype(np.uint8))
        component = labels == labels[y, x]
        self.mask[component] = 1.0 if positive else 0.0
        return self.mask


def test_missed_region_gets_a_positive_click_at_its_centre():
    truth = _box((40, 50), 10, 31, 10, 41)  # 21 x 31
    mask = truth.copy()
    mask[15:26, 20:31] = False  # an 11x11 hole
    assert next_click(mask, truth) == (25, 20, True)


def test_false_region_gets_a_negative_click():
    truth = _box((40, 50), 10, 30, 5, 20)
    mask = truth | _box((40, 50), 10, 21, 30, 41)  # an 11x11 extra square
    assert next_click(mask.astype(np.float32), truth) == (35, 15, False)


def test_deepest_region_wins_not_the_widest_and_image_border_is_border():
    shape = (60, 60)
    truth = _box(shape, 0, 3, 0, 60)  # a long strip along the top edge: 180 px, depth 3
    truth |= _box(shape, 30, 39, 30, 39)  # a 9x9 square: 81 px, depth 5
    x, y, positive = next_click(np.zeros(shape), truth)
    assert positive and (x, y) == (34, 34)
    only_strip = _box(shape, 0, 3, 0, 60)
    x, y, _ = next_click(np.zeros(shape), only_strip)
    assert y == 1  # the middle row: the image border counts as the region's border


def test_ignored_pixels_are_neither_errors_nor_chosen():
    truth = _box((30, 30), 5, 25, 5, 25)
    mask = _box((30, 30), 7, 23, 7, 23)  # misses a 2-pixel ring
    band = truth & ~_box((30, 30), 7, 23, 7, 23)
    assert next_click(mask, truth, ignore=band) is None
    x, y, positive = next_click(mask, truth)
    assert positive and band[y, x]


def test_clicked_pixels_are_not_chosen_again_and_perfect_mask_needs_none():
    truth = _box((30, 30), 10, 21, 10, 21)
    clicked = np.zeros((30, 30), dtype=bool)
    first = next_click(np.zeros((30, 30)), truth)
    clicked[first[1], first[0]] = True
    second = next_click(np.zeros((30, 30)), truth, clicked=clicked)
    assert second != first and second[2]
    assert next_click(truth, truth) is None


def test_tie_between_missed_and_extra_goes_to_negative():
    shape = (20, 40)
    truth = _box(shape, 5, 10, 5, 10)
    mask = _box(shape, 5, 10, 25, 30)
    assert next_click(mask, truth)[2] is False


def test_simulation_counts_clicks_and_stops_at_the_stop_iou():
    shape = (40, 40)
    truth = _box(shape, 5, 35, 5, 35)
    engine = DiskPainter(None, shape, radius=6, truth=truth)
    run = simulate(engine.add, None, truth, max_clicks=20, stop_iou=0.95)
    assert run.start_iou == 0.0
    assert run.steps[0].positive and (run.steps[0].x, run.steps[0].y) == (19, 19)
    assert len(run.steps) == len(engine.calls) < 20
    assert run.ious[-1] >= 0.95 and all(v < 0.95 for v in run.ious[:-1])
    assert all(s.seconds >= 0.0 for s in run.steps)
    again = simulate(DiskPainter(None, shape, 6, truth).add, None, truth, max_clicks=20)
    assert again.ious == run.ious  # deterministic
    sloppy = DiskPainter(None, shape, radius=10)  # spills over the edge: never settles
    capped = simulate(sloppy.add, None, truth, max_clicks=7)
    assert len(capped.steps) == 7 and max(capped.ious) < 0.95


def test_start_mask_reaching_the_threshold_needs_no_click():
    truth = _box((30, 30), 5, 25, 5, 25)
    engine = DiskPainter(truth, truth.shape, radius=3)
    run = simulate(engine.add, truth.astype(np.float32), truth, max_clicks=5, keep_after=(0, 3))
    assert run.steps == [] and engine.calls == [] and run.start_iou == 1.0
    assert np.array_equal(run.kept_masks[3], truth.astype(np.float32))


def test_oracle_engine_fixes_wrong_object_and_kept_masks_carry_forward():
    shape = (40, 60)
    truth = _box(shape, 10, 30, 5, 25)
    wrong = _box(shape, 10, 30, 35, 55)  # the automatic mask took the other object
    engine = RegionOracle(wrong, truth)
    run = simulate(engine.add, wrong.astype(np.float32), truth, max_clicks=10, keep_after=(1, 5))
    assert run.start_iou == 0.0
    assert [(s.positive, s.iou) for s in run.steps] == [(False, 0.0), (True, 1.0)]
    assert not run.kept_masks[1].any()  # after the negative click nothing was selected
    assert np.array_equal(run.kept_masks[5] >= 0.5, truth)  # stopped after 2: last mask
    assert np.array_equal(run.final_mask >= 0.5, truth)


def test_clicks_to_reach_and_iou_after():
    ious = [0.5, 0.86, 0.91, 0.96]
    assert clicks_to_reach(ious, 0.85) == 1 and clicks_to_reach(ious, 0.95) == 3
    assert clicks_to_reach(ious, 0.97) is None and clicks_to_reach([0.9], 0.9) == 0
    assert iou_after(ious, 2) == 0.91 and iou_after(ious, 10) == 0.96


def test_summary_noc_nof_and_mean_iou_curve():
    runs = [
        [0.95],  # automatic mask already fine: 0 clicks everywhere
        [0.2, 0.87, 0.92, 0.96],
        [0.1, 0.3, 0.5, 0.6, 0.7],  # never reaches 0.85 within 4 clicks
    ]
    s = summarize_runs(runs, max_clicks=4, seconds=[0.1, 0.3, 0.2])
    assert s.count == 3
    assert s.noc[0.85] == pytest.approx((0 + 1 + 4) / 3)
    assert s.noc[0.90] == pytest.approx((0 + 2 + 4) / 3)
    assert s.noc[0.95] == pytest.approx((0 + 3 + 4) / 3)
    assert s.nof == 1 and s.failures[0.95] == 1
    assert s.mean_iou_after(0) == pytest.approx((0.95 + 0.2 + 0.1) / 3)
    assert s.mean_iou_after(4) == pytest.approx((0.95 + 0.96 + 0.7) / 3)  # carried forward
    assert s.mean_iou_after(10) is None
    assert s.seconds_stats() == pytest.approx((0.2, 0.2, 0.3))
    capped = summarize_runs(runs, max_clicks=1)
    assert capped.nof == 2 and len(capped.curve) == 2  # a smaller budget reads fewer clicks
    early = summarize_runs(runs, max_clicks=4, stop_iou=0.9)  # 0.95 cannot be told apart
    assert early.noc[0.95] is None and early.failures[0.95] is None
    assert early.noc[0.90] == s.noc[0.90]
    with pytest.raises(ValueError):
        summarize_runs([], max_clicks=3)
