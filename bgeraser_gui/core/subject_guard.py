"""No bites: refinement may lower alpha only where the evidence lets it.

Matting decides the unknown band from colours alone, and colours lie: a dark sweater in front
of dark trees, a metal rotor over wooden planks. So after matting, two rules hold:

- **Solid stays solid.** A pixel that the model holds as subject (mask >= `SOLID`) more than
  `edge_px` inside its solid area, or that a keep stroke marks, never ends below its model
  value (keep strokes: 1). Within `edge_px` of the outline matting may still soften a hard
  model edge; there thin solid parts keep their core through the trimap (core/trimap.py).
- **Large disagreements keep the model's decision.** Where refinement turned pixels the model
  (or the colour evidence) leaned to subject into background, and those pixels form a
  connected area of at least `DISPUTE_MIN_FRACTION` of the subject, the area keeps the model's
  value. Such an area is either a bite or a real correction the model could not make; either
  way a person should look, so its size is reported (`GuardResult.disputed`) and raises the
  cutout's review score.
- **Small subjects keep the model's outline.** Where the matting band covers much of the
  subject (its inner `edge_px` ring is at least `OUTLINE_BAND_SHARE` of the subject: small or
  thin subjects, video frames) and refinement moved the 0.5 line over only a little of it (at
  most `OUTLINE_MAX_CHANGE`: scattered edge noise, not a coherent correction), the pixels
  refinement moved across 0.5 get the model's value back: matting softens the edge on either
  side of the model's outline but does not redraw it. On davis345_sub refinement had lowered
  IoU by moving that line in the band (benchmarks/no_bites.py).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from bgeraser_gui.core.trimap import KEEP, REMOVE

SOLID = 0.9  # model value from which a pixel counts as solid subject
# A disputed area at least this fraction of the subject's area keeps the model's decision.
DISPUTE_MIN_FRACTION = 0.01
# The outline rule's thresholds, chosen on the odd-numbered photos of alphamatting_train27,
# grabcut50 and every 2nd davis345_sub frame (band share 0.1 / 0.15 / 0.2 x change 0.03 to
# 0.15); checked on the even-numbered ones.
OUTLINE_BAND_SHARE = 0.15
OUTLINE_MAX_CHANGE = 0.10


@dataclass(frozen=True)
class GuardResult:
    alpha: np.ndarray  # float32 HxW in [0, 1]
    disputed: float  # restored disputed area / subject area (0 = refinement and model agree)


def subject_floor(
    mask: np.ndarray, touchups: np.ndarray | None, edge_px: float = 0.0
) -> np.ndarray:
    """The lowest alpha refinement may leave on each pixel (float32 HxW): the model's value
    where it is solid subject more than `edge_px` from the solid area's border, 1 under keep
    strokes, 0 elsewhere and under remove strokes."""
    m = np.asarray(mask, np.float32)
    solid = m >= SOLID
    if edge_px > 0:
        inside = cv2.distanceTransform(solid.view(np.uint8), cv2.DIST_L2, 3)
        solid &= inside > edge_px
        del inside
    floor = np.where(solid, m, np.float32(0.0))
    if touchups is not None:
        floor[touchups == KEEP] = 1.0
        floor[touchups == REMOVE] = 0.0
    return floor


def guard_alpha(
    alpha: np.ndarray,
    mask: np.ndarray,
    evidence: np.ndarray | None = None,
    touchups: np.ndarray | None = None,
    edge_px: float = 0.0,
) -> GuardResult:
    """`alpha` after the three rules of this module.

    mask: the model's soft mask; evidence: the mask after colour evidence (core.colour_evidence),
    whose lean to subject counts as much as the model's; touchups: the painted touch-ups;
    edge_px: how far inside the model's solid area matting may still lower alpha.
    """
    out = np.maximum(np.asarray(alpha, np.float32), subject_floor(mask, touchups, edge_px))
    result = _restore_disputes(out, mask, evidence, touchups)
    keep_model_outline(result.alpha, mask, touchups, edge_px)
    return result


def keep_model_outline(
    alpha: np.ndarray, mask: np.ndarray, touchups: np.ndarray | None, edge_px: float
) -> bool:
    """The outline rule of this module, in place on `alpha`; True when it applied."""
    if edge_px <= 0:
        return False
    model_side = np.asarray(mask, np.float32) >= 0.5
    subject_area = np.count_nonzero(model_side)
    if subject_area == 0:
        return False
    inside = cv2.distanceTransform(model_side.view(np.uint8), cv2.DIST_L2, 3)
    # the ring 0 < inside <= edge_px, counted without a second full-size bool temporary
    # (inside == 0 exactly off the subject)
    band = np.count_nonzero(inside <= edge_px) - (inside.size - subject_area)
    band_share = band / subject_area
    del inside
    if band_share < OUTLINE_BAND_SHARE:
        return False
    moved = model_side != (alpha >= 0.5)
    if touchups is not None:
        moved &= touchups == 0  # painted pixels are the user's decision
    if np.count_nonzero(moved) > OUTLINE_MAX_CHANGE * subject_area:
        return False
    alpha[moved] = np.asarray(mask, np.float32)[moved]
    return True


def _restore_disputes(
    out: np.ndarray,
    mask: np.ndarray,
    evidence: np.ndarray | None,
    touchups: np.ndarray | None,
) -> GuardResult:
    """The second rule of this module on the floored alpha `out` (in place)."""
    # Where the model or the evidence leans to subject (remove strokes: never), as bools: a
    # float copy of max(mask, evidence) costs 400 MB at 100 MP and is needed only where disputed.
    leans = np.asarray(mask, np.float32) >= 0.5
    if evidence is not None:
        leans |= np.asarray(evidence, np.float32) >= 0.5
    if touchups is not None:
        leans &= touchups != REMOVE
    subject_area = float(np.count_nonzero(leans | (out >= 0.5)))
    bitten = (leans & (out < 0.5)).view(np.uint8)
    del leans
    if subject_area == 0 or not bitten.any():
        return GuardResult(out, 0.0)
    count, labels, stats, _ = cv2.connectedComponentsWithStats(bitten, connectivity=8)
    large = np.flatnonzero(stats[1:, cv2.CC_STAT_AREA] >= DISPUTE_MIN_FRACTION * subject_area)
    if large.size == 0:
        return GuardResult(out, 0.0)
    is_large = np.zeros(count, bool)
    is_large[large + 1] = True
    disputed = is_large[labels]
    del labels
    held = np.asarray(mask, np.float32)[disputed]  # the model's value, or the evidence's
    if evidence is not None:
        held = np.maximum(held, np.asarray(evidence, np.float32)[disputed])
    if touchups is not None:
        held[touchups[disputed] == REMOVE] = 0.0
    out[disputed] = held
    return GuardResult(out, float(np.count_nonzero(disputed)) / subject_area)
