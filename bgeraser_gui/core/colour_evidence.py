"""Colour evidence for the soft parts of a segmentation mask.

Where the model is unsure over a large area (a dark body under a light head, a leafy stem, a
patterned flank) its mask is a flat grey. Matting cannot fix that: the solver has no sure
sample inside such a region and pulls it towards whichever class happens to be nearer. The
pixels the model *is* sure about say more: a grey region that has the subject's colours is
probably subject. So before the trimap is built, every soft pixel is updated by Bayes' rule

    logit(posterior) = logit(mask) + log p(colour | subject) / p(colour | background)

with both likelihoods read from smoothed 16x16x16 colour histograms of the sure pixels.
Colours that neither class shows leave the mask as it was (`EPS` damps the ratio of two tiny
densities), sure pixels are never changed, and where the model leans to subject the colours can
only lower it a little, so this moves what the model left open without biting into the subject.
Evidence for the subject weighs more when the two classes' colours hardly overlap: then a
colour seen on the subject and never on the background is strong evidence, whereas in photos
whose subject and background share colours it is weak.
"""

from __future__ import annotations

import numpy as np
from scipy.ndimage import gaussian_filter

from bgeraser_gui.core.progress import CancelToken

BINS = 16  # per channel; 4096 colour cells
SMOOTH_BINS = 0.7  # histogram blur (in bins): neighbouring shades share evidence
EPS = 3e-4  # density floor: unseen colours give a ratio near 1, i.e. no evidence
MAX_LOG_RATIO = 6.0  # one colour never outweighs a very confident model
# Weight of the colour evidence against the model's own logit. Above 1 because the model's
# mid-range values are not calibrated probabilities: over large areas they mean "not sure"
# rather than "40% likely". Chosen on alphamatting_train27 (1.0 / 1.5 / 2.0 / 2.5) and
# checked on grabcut50; see the closing note of issue 5.
EVIDENCE_GAIN = 1.5
# Where the model leans to subject (mask > 0.5) colours may lower its logit by at most this:
# a dark sweater in front of dark trees is still the subject, and a bite out of the subject
# is a worse failure than a soft patch left for the brush.
MAX_EVIDENCE_AGAINST_SUBJECT = 1.0
# Evidence *for* the subject counts up to (1 + SUBJECT_BOOST) times more when the subject's and
# the background's sure colours barely overlap (Bhattacharyya coefficient 0), falling to no
# extra weight at an overlap of SEPARABLE_OVERLAP and above. A subject whose colours the
# background never shows (a teddy's dark sweater against sky and rock) is then settled as
# subject; in photos where both share colours (most video frames) nothing changes. Chosen on
# alphamatting_train27 and davis345_sub[:40] (boost 2 / 3 / 4, overlap 0.35 / 0.45 / 0.6),
# checked on grabcut50 and the rest of davis345_sub (docs/eval-summary.md, session 3).
SUBJECT_BOOST = 3.0
SEPARABLE_OVERLAP = 0.45
SAMPLE_PX = 2_000_000  # sure pixels looked at per image (strided), bounds the cost at 48 MP
MIN_SAMPLES = 64  # fewer sure pixels of a class than this: no colour model for it
CHUNK_ROWS = 512  # rows updated at once, keeps temporaries small on 24-48 MP photos


def colour_bins(rgb: np.ndarray) -> np.ndarray:
    """Histogram cell index (int32) of every pixel of a uint8 (..., 3) array."""
    q = rgb.astype(np.int32) * BINS >> 8
    return (q[..., 0] * BINS + q[..., 1]) * BINS + q[..., 2]


def colour_histogram(pixels: np.ndarray) -> np.ndarray:
    """Smoothed, normalised 16^3 histogram (float64) of uint8 (N, 3) colours."""
    counts = np.bincount(colour_bins(pixels), minlength=BINS**3).astype(np.float64)
    smooth = gaussian_filter(counts.reshape(BINS, BINS, BINS), SMOOTH_BINS, mode="constant")
    return smooth.ravel() / max(float(smooth.sum()), 1e-12)


def log_likelihood_ratio(fg_pixels: np.ndarray, bg_pixels: np.ndarray) -> np.ndarray:
    """log p(colour | fg) / p(colour | bg) per histogram cell (float32, clipped)."""
    return _ratio(colour_histogram(fg_pixels), colour_histogram(bg_pixels))


def _ratio(fg_density: np.ndarray, bg_density: np.ndarray) -> np.ndarray:
    ratio = np.log((fg_density + EPS) / (bg_density + EPS))
    return np.clip(ratio, -MAX_LOG_RATIO, MAX_LOG_RATIO).astype(np.float32)


def colour_overlap(fg_density: np.ndarray, bg_density: np.ndarray) -> float:
    """Bhattacharyya coefficient of two colour densities: 0 = disjoint, 1 = identical."""
    return float(np.sqrt(fg_density * bg_density).sum())


def evidence_table(fg_pixels: np.ndarray, bg_pixels: np.ndarray) -> np.ndarray:
    """Weighted log-likelihood ratio per colour cell, as added to the mask's logit.

    Positive entries (colours that speak for the subject) get the separability boost, so the
    table is EVIDENCE_GAIN * ratio below zero and up to (1 + SUBJECT_BOOST) times that above.
    """
    fg_density, bg_density = colour_histogram(fg_pixels), colour_histogram(bg_pixels)
    ratio = _ratio(fg_density, bg_density)
    separable = 1.0 - colour_overlap(fg_density, bg_density) / SEPARABLE_OVERLAP
    boost = 1.0 + SUBJECT_BOOST * float(np.clip(separable, 0.0, 1.0))
    return (EVIDENCE_GAIN * np.where(ratio > 0, boost * ratio, ratio)).astype(np.float32)


def colour_posterior(
    rgb: np.ndarray,
    mask: np.ndarray,
    fg_threshold: float = 0.95,
    bg_threshold: float = 0.05,
    cancel: CancelToken | None = None,
) -> np.ndarray:
    """The mask (float32 HxW in [0, 1]) with its soft pixels updated by colour evidence.

    Pixels at or above `fg_threshold` / at or below `bg_threshold` are the sure samples and
    come back unchanged; so does the whole mask when either class has too few sure pixels.
    """
    m = np.clip(np.asarray(mask, np.float32), 0.0, 1.0)
    h, w = m.shape
    stride = max(1, int(np.ceil(np.sqrt(h * w / SAMPLE_PX))))
    rgb_s, m_s = rgb[::stride, ::stride], m[::stride, ::stride]
    fg_pixels, bg_pixels = rgb_s[m_s >= fg_threshold], rgb_s[m_s <= bg_threshold]
    if min(len(fg_pixels), len(bg_pixels)) < MIN_SAMPLES:
        return m
    table = evidence_table(fg_pixels, bg_pixels)
    del fg_pixels, bg_pixels
    out = m.copy()
    for y0 in range(0, h, CHUNK_ROWS):
        if cancel is not None:
            cancel.check()
        rows = slice(y0, min(h, y0 + CHUNK_ROWS))
        chunk = m[rows]
        soft = (chunk > bg_threshold) & (chunk < fg_threshold)
        if not soft.any():
            continue
        p = np.clip(chunk[soft], 1e-4, 1.0 - 1e-4)
        evidence = table[colour_bins(rgb[rows][soft])]
        evidence = np.where(p > 0.5, np.maximum(evidence, -MAX_EVIDENCE_AGAINST_SUBJECT), evidence)
        logit = np.log(p / (1.0 - p)) + evidence
        out[rows][soft] = 1.0 / (1.0 + np.exp(-logit))
    return out
