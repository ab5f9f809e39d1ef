"""No bites on a real photo with the real fp16 ISNet weights (skips without them)."""

from __future__ import annotations

import cv2
import pytest

from bgeraser_gui.core.matting import RefineOptions, refine
from bgeraser_gui.core.metrics import sad


@pytest.mark.slow
def test_gt23_sweater_disputed_area_keeps_the_models_decision_and_is_flagged(
    isnet_fp16_path, eval_dir
):
    """alphamatting GT23 with the default (flip-averaged) mask: matting used to turn most of
    the bear's sweater transparent (SAD 122.6 raw -> 106.8 refined). The guard keeps the
    model's value over the disputed area (about a fifth of the subject) and reports it."""
    from bgeraser_gui.backends.loader import load_backend
    from bgeraser_gui.backends.segmenter import IMPROVED
    from bgeraser_gui.core.image_io import load_image

    rgb = load_image(eval_dir / "alphamatting_train27" / "images" / "GT23.png").rgb
    gt = cv2.imread(str(eval_dir / "alphamatting_train27" / "alpha" / "GT23.png"), 0) / 255.0
    mask = load_backend(str(isnet_fp16_path), options=IMPROVED).predict(rgb)
    result = refine(rgb, mask, options=RefineOptions(decontaminate=False))
    raw, refined = sad(mask, gt), sad(result.alpha, gt)
    print(f"GT23 SAD/1000 raw {raw:.1f}, refined {refined:.1f}, disputed {result.disputed:.3f}")
    assert result.disputed > 0.1
    assert refined < 0.65 * raw
