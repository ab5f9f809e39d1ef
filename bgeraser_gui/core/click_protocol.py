"""Simulated user for click-to-select: the standard NoC protocol of interactive segmentation.

As in RITM (Sofiiuk et al. 2022) and SimpleClick (Liu et al. 2023): after each click the
mask (alpha >= 0.5) is compared with the ground truth; the pixels the mask missed and the
pixels it took wrongly form error regions. The next click goes to the error pixel farthest
from its region's border (the image border counts as border), i.e. the interior point of the
largest error region measured by its inscribed radius: positive when that region is missed
subject, negative when it is false subject (a tie goes to negative, as in RITM). Pixels
already clicked are never chosen again. Pixels a data set marks as ignored (the grabcut
band) are neither errors nor scored, as in `metrics`.

Scores over a set: NoC@t, the mean number of clicks until IoU >= t (0 when the starting mask
already reaches t; N, the click budget, when it never does), NoF@t, the number of images that
never reach t within N clicks, and the mean IoU after k clicks. A run stops early once IoU
reaches `stop_iou` (0.95 as in RITM's evaluation, the highest NoC threshold); the IoU and
mask after later clicks are then those of the last click made.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from statistics import mean, median

import cv2
import numpy as np

from bgeraser_gui.core.metrics import BINARY_THRESHOLD, iou, scored_pixels, to_unit

NOC_THRESHOLDS = (0.85, 0.90, 0.95)
NOF_THRESHOLD = 0.90
IOU_AFTER_CLICKS = (1, 3, 5, 10)
DEFAULT_STOP_IOU = 0.95

ClickTarget = tuple[int, int, bool]  # (x, y, positive): where the simulated user clicks


def _depth(region: np.ndarray) -> np.ndarray:
    """Distance of every region pixel to the nearest non-region pixel or the image border."""
    padded = np.pad(region.astype(np.uint8), 1)
    return cv2.distanceTransform(padded, cv2.DIST_L2, cv2.DIST_MASK_PRECISE)[1:-1, 1:-1]


def next_click(
    mask: np.ndarray,
    truth: np.ndarray,
    ignore: np.ndarray | None = None,
    clicked: np.ndarray | None = None,
) -> ClickTarget | None:
    """Where the simulated user clicks next on `mask` (HxW soft or binary) given the
    ground-truth `truth`; None when the mask has no error left. `clicked` (HxW bool) marks
    pixels clicked before, which are not chosen again."""
    pred = to_unit(mask) >= BINARY_THRESHOLD
    gt = to_unit(truth) >= BINARY_THRESHOLD
    scored = scored_pixels(gt.shape, ignore)
    missed, extra = _depth(gt & ~pred & scored), _depth(pred & ~gt & scored)
    if clicked is not None:
        missed[clicked] = 0.0
        extra[clicked] = 0.0
    deepest_missed, deepest_extra = float(missed.max()), float(extra.max())
    if max(deepest_missed, deepest_extra) <= 0.0:
        return None
    positive = deepest_missed > deepest_extra
    depth = missed if positive else extra
    ys, xs = np.nonzero(depth == depth.max())
    return int(xs[0]), int(ys[0]), positive


@dataclass
class ClickStep:
    """One simulated click and its result."""

    x: int
    y: int
    positive: bool
    iou: float  # IoU after this click
    seconds: float  # time the engine took for it


@dataclass
class Trajectory:
    """One image's run: the starting IoU (automatic mask, or empty from scratch), each
    click, and the masks kept after the click counts asked for."""

    start_iou: float
    steps: list[ClickStep] = field(default_factory=list)
    kept_masks: dict[int, np.ndarray] = field(default_factory=dict)  # clicks -> mask
    final_mask: np.ndarray | None = None

    @property
    def ious(self) -> list[float]:
        """IoU after 0, 1, 2, ... clicks (index 0 = starting mask)."""
        return [self.start_iou] + [s.iou for s in self.steps]


def iou_after(ious: Sequence[float], clicks: int) -> float:
    """IoU after `clicks` clicks; past the last click made, the last IoU (the run stopped)."""
    return ious[min(clicks, len(ious) - 1)]


def clicks_to_reach(ious: Sequence[float], threshold: float) -> int | None:
    """Fewest clicks after which IoU >= threshold (0 = the starting mask), None if never."""
    for clicks, value in enumerate(ious):
        if value >= threshold:
            return clicks
    return None


def simulate(
    add_click: Callable[[int, int, bool], np.ndarray],
    start_mask: np.ndarray | None,
    truth: np.ndarray,
    ignore: np.ndarray | None = None,
    max_clicks: int = 20,
    stop_iou: float = DEFAULT_STOP_IOU,
    keep_after: Sequence[int] = (),
) -> Trajectory:
    """Run the protocol: `add_click(x, y, positive)` applies one click to the engine and
    returns its mask after it (which the engine may change in place later: kept masks are
    copies). `start_mask` None means starting from nothing."""
    shape = np.asarray(truth).shape
    valid = scored_pixels(shape, ignore)
    mask = np.zeros(shape, np.float32) if start_mask is None else start_mask
    run = Trajectory(start_iou=iou(mask, truth, valid))
    clicked = np.zeros(shape, dtype=bool)
    keep = set(keep_after)
    if 0 in keep:
        run.kept_masks[0] = np.array(mask, dtype=np.float32)
    value = run.start_iou
    for count in range(1, max_clicks + 1):
        target = None if value >= stop_iou else next_click(mask, truth, ignore, clicked)
        if target is None:
            break
        x, y, positive = target
        clicked[y, x] = True
        start = time.perf_counter()
        mask = add_click(x, y, positive)
        seconds = time.perf_counter() - start
        value = iou(mask, truth, valid)
        run.steps.append(ClickStep(x, y, positive, value, seconds))
        if count in keep:
            run.kept_masks[count] = mask.copy()
    run.final_mask = np.array(mask, dtype=np.float32)
    for count in keep:  # the user stopped: the mask after later clicks is the last one
        run.kept_masks.setdefault(count, run.final_mask)
    return run


@dataclass
class NocSummary:
    """NoC scores of one group of images (one data set and model)."""

    count: int
    max_clicks: int
    # threshold -> mean clicks (N for images never reaching it); None above the stop IoU
    noc: dict[float, float | None]
    failures: dict[float, int | None]  # threshold -> images never reaching it within N clicks
    curve: list[float]  # mean IoU after 0..N clicks
    seconds: list[float]  # every click's engine time

    @property
    def nof(self) -> int | None:
        return self.failures[NOF_THRESHOLD]

    def mean_iou_after(self, clicks: int) -> float | None:
        return self.curve[clicks] if clicks < len(self.curve) else None

    def seconds_stats(self) -> tuple[float, float, float] | None:
        """(mean, median, max) seconds per click, None when no click was made."""
        if not self.seconds:
            return None
        return mean(self.seconds), median(self.seconds), max(self.seconds)


def summarize_runs(
    runs: Sequence[Sequence[float]],
    max_clicks: int,
    seconds: Sequence[float] = (),
    thresholds: Sequence[float] = NOC_THRESHOLDS,
    stop_iou: float = DEFAULT_STOP_IOU,
) -> NocSummary:
    """Scores from each image's IoU after 0, 1, ... clicks (`Trajectory.ious`). Thresholds
    above `stop_iou` cannot be scored (a run stopped below them): their NoC and failures are
    None."""
    if not runs:
        raise ValueError("no image to summarize")
    noc, failures = {}, {}
    for threshold in dict.fromkeys([*thresholds, NOF_THRESHOLD]):
        if threshold > stop_iou:
            noc[threshold] = failures[threshold] = None
            continue
        reached = [clicks_to_reach(ious[: max_clicks + 1], threshold) for ious in runs]
        noc[threshold] = mean(max_clicks if r is None else r for r in reached)
        failures[threshold] = sum(r is None for r in reached)
    curve = [mean(iou_after(ious, k) for ious in runs) for k in range(max_clicks + 1)]
    return NocSummary(len(runs), max_clicks, noc, failures, curve, list(seconds))
