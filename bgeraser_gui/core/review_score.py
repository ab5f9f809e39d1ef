"""How much a finished mask needs a human look: 0 = looks clean, 1 = review first.

The score mixes three cheap signals that correlate with bad cutouts:
- the uncertain band: pixels that are neither clearly subject nor clearly background,
  relative to the subject's size (fuzzy or hesitant masks);
- small islands: detached specks of subject (or holes) away from the main body;
- frame contact: the subject touches the picture border, so it may be cut off
  or the model may have grabbed background that runs off the frame.
An empty or almost empty mask is always worth a look, so it scores 1.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import cv2
import numpy as np

UNCERTAIN_LOW = 0.05
UNCERTAIN_HIGH = 0.95
MIN_SUBJECT_FRACTION = 0.002  # below this the mask is treated as empty
ISLAND_MAX_FRACTION = 0.02  # a component smaller than 2 % of the subject is a "small island"
WORK_LONG_SIDE = 512  # score on a downscaled copy: the signals are global, not pixel-exact

WEIGHTS = {"uncertain": 0.45, "islands": 0.30, "edge": 0.25}


@dataclass(frozen=True)
class ReviewScore:
    """The overall score plus the parts it is made of (each in [0, 1])."""

    score: float
    uncertain: float  # uncertain-band area / subject area, clipped to 1
    islands: float  # small islands and holes, saturating at 10
    edge: float  # fraction of the frame border covered by subject
    island_count: int
    empty: bool

    def as_dict(self) -> dict:
        return asdict(self)

    def reasons(self) -> list[str]:
        """Short human words for the tooltips: why this item is worth a look."""
        if self.empty:
            return ["no subject found"]
        out = []
        if self.uncertain >= 0.25:
            out.append(f"wide uncertain edge ({self.uncertain:.0%} of subject)")
        if self.island_count:
            out.append(f"{self.island_count} small island(s) or hole(s)")
        if self.edge >= 0.05:
            out.append(f"subject touches the frame ({self.edge:.0%} of border)")
        return out


def _as_unit_float(alpha: np.ndarray) -> np.ndarray:
    if alpha.ndim != 2:
        raise ValueError(f"alpha must be HxW, got shape {alpha.shape}")
    if alpha.dtype == np.uint8:
        unit = alpha.astype(np.float32)
        unit /= 255.0  # in place: one full-size float array, not two
        return unit
    return np.clip(alpha.astype(np.float32), 0.0, 1.0)


def _downscale(alpha: np.ndarray) -> np.ndarray:
    h, w = alpha.shape
    scale = WORK_LONG_SIDE / max(h, w)
    if scale >= 1.0:
        return alpha
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    return cv2.resize(alpha, size, interpolation=cv2.INTER_AREA)


def _small_components(binary: np.ndarray, reference_area: float) -> int:
    """Components (8-connected) of `binary` other than the largest and below the island size."""
    count, _labels, stats, _ = cv2.connectedComponentsWithStats(binary, connectivity=8)
    areas = stats[1:, cv2.CC_STAT_AREA]  # label 0 is the other side
    if areas.size <= 1:
        return 0
    areas = np.sort(areas)[:-1]  # the largest is the body itself
    return int(np.count_nonzero(areas < ISLAND_MAX_FRACTION * reference_area))


def _edge_fraction(subject: np.ndarray) -> float:
    border = np.concatenate([subject[0, :], subject[-1, :], subject[1:-1, 0], subject[1:-1, -1]])
    return float(np.count_nonzero(border)) / max(border.size, 1)


def score_mask(alpha: np.ndarray) -> ReviewScore:
    """Score a finished mask (HxW, uint8 0..255 or float in [0, 1])."""
    a = _downscale(_as_unit_float(alpha))
    subject = (a >= 0.5).astype(np.uint8)
    subject_area = float(subject.sum())
    if subject_area < MIN_SUBJECT_FRACTION * a.size:
        return ReviewScore(1.0, 1.0, 1.0, 0.0, 0, True)

    band = np.count_nonzero((a > UNCERTAIN_LOW) & (a < UNCERTAIN_HIGH))
    uncertain = min(1.0, band / subject_area)

    islands = _small_components(subject, subject_area)
    # Holes: background components enclosed by subject, i.e. not touching the border.
    background = 1 - subject
    padded = cv2.copyMakeBorder(background, 1, 1, 1, 1, cv2.BORDER_CONSTANT, value=1)
    holes = _small_components(padded, subject_area)
    island_count = islands + holes
    island_part = min(1.0, island_count / 10.0)

    edge = _edge_fraction(subject)
    score = (
        WEIGHTS["uncertain"] * uncertain
        + WEIGHTS["islands"] * island_part
        + WEIGHTS["edge"] * min(1.0, edge * 4.0)
    )
    return ReviewScore(
        score=round(float(min(1.0, score)), 4),
        uncertain=round(float(uncertain), 4),
        islands=round(float(island_part), 4),
        edge=round(float(edge), 4),
        island_count=island_count,
        empty=False,
    )
