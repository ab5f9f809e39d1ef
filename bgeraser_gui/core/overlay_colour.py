"""The colour of the mask overlay: the user's choice, or one that stands out from the photo.

A red tint over removed areas is unreadable on a red subject (the bike's frame): tinted and
naturally red pixels look the same. `contrasting_colour` picks, among a few saturated tints,
the one whose hue the photo uses least (saturated, not too dark pixels within HUE_TOLERANCE
degrees count), preferring the earlier candidates (red first) when they are about as rare.
"""

from __future__ import annotations

import cv2
import numpy as np

# name -> RGB; yellow is left out: it marks "refine here" strokes
OVERLAY_COLOURS: dict[str, tuple[int, int, int]] = {
    "red": (255, 0, 0),
    "magenta": (255, 0, 255),
    "blue": (0, 80, 255),
    "cyan": (0, 230, 255),
    "green": (0, 220, 0),
}
AUTO = "auto"
HUE_TOLERANCE = 30.0  # degrees
SAMPLE_PIXELS = 65_536  # the photo is subsampled to about this many pixels
MIN_SATURATION, MIN_VALUE = 80, 60  # of 255: greys and near-black pixels have no usable hue
PREFERENCE_MARGIN = 0.02  # a later candidate must be rarer by this share of the photo to win


def _hue_degrees(rgb: tuple[int, int, int]) -> float:
    pixel = np.array([[rgb]], np.uint8)
    return float(cv2.cvtColor(pixel, cv2.COLOR_RGB2HSV_FULL)[0, 0, 0]) * 360.0 / 256.0


def hue_shares(rgb: np.ndarray) -> dict[str, float]:
    """Share of the photo's pixels whose hue is close to each overlay colour's."""
    h, w = rgb.shape[:2]
    step = max(1, int(np.sqrt(h * w / SAMPLE_PIXELS)))
    sample = np.ascontiguousarray(rgb[::step, ::step])
    hsv = cv2.cvtColor(sample, cv2.COLOR_RGB2HSV_FULL).reshape(-1, 3)
    coloured = (hsv[:, 1] >= MIN_SATURATION) & (hsv[:, 2] >= MIN_VALUE)
    hues = hsv[coloured, 0].astype(np.float32) * (360.0 / 256.0)
    total = max(1, hsv.shape[0])
    shares = {}
    for name, colour in OVERLAY_COLOURS.items():
        distance = np.abs(hues - _hue_degrees(colour))
        distance = np.minimum(distance, 360.0 - distance)
        shares[name] = float(np.count_nonzero(distance <= HUE_TOLERANCE)) / total
    return shares


def contrasting_colour(rgb: np.ndarray) -> tuple[int, int, int]:
    """The overlay colour that stands out most from `rgb` (uint8 HxWx3)."""
    shares = hue_shares(rgb)
    best = next(iter(OVERLAY_COLOURS))
    for name in OVERLAY_COLOURS:
        if shares[name] < shares[best] - PREFERENCE_MARGIN:
            best = name
    return OVERLAY_COLOURS[best]


def overlay_rgb(choice: str, rgb: np.ndarray | None) -> tuple[int, int, int]:
    """The tint for a setting: AUTO (contrasting with `rgb`), a name, or "#rrggbb"."""
    if choice == AUTO:
        return contrasting_colour(rgb) if rgb is not None else OVERLAY_COLOURS["red"]
    if choice in OVERLAY_COLOURS:
        return OVERLAY_COLOURS[choice]
    text = choice.lstrip("#")
    if len(text) == 6:
        try:
            return (int(text[0:2], 16), int(text[2:4], 16), int(text[4:6], 16))
        except ValueError:
            pass
    return OVERLAY_COLOURS["red"]
