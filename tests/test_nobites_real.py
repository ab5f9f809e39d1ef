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


@pytest.mark.slow
def test_gt23_sweater_kept_in_batch_and_after_ctrl_m_with_default_settings(
    isnet_fp16_path, eval_dir
):
    """The pipeline users run (default quality `best`, refinement on, fp16 ISNet): the
    averaged mask's refinement disputes the sweater, so the first pass's mask is refined
    instead (core/one_pass_fallback.py); the editor's Ctrl+M on the model mask does the same.
    Issue 17's target: SAD/1000 <= 30 in both (raw mask 122.6)."""
    from bgeraser_gui.assemble import PipelineSpec, build_pipeline
    from bgeraser_gui.core.document import prepare_mask
    from bgeraser_gui.core.image_io import load_image

    image = load_image(eval_dir / "alphamatting_train27" / "images" / "GT23.png")
    gt = cv2.imread(str(eval_dir / "alphamatting_train27" / "alpha" / "GT23.png"), 0) / 255.0
    pipeline = build_pipeline(PipelineSpec(model=str(isnet_fp16_path), device="cpu"))
    batch = pipeline.cutout(image)
    model_mask = prepare_mask(batch.mask, batch.mask.shape).array  # the document's copy
    ctrl_m = pipeline.refine(image, model_mask, touchups=None)
    raw = sad(batch.mask, gt)
    scores = sad(batch.alpha_u8 / 255.0, gt), sad(ctrl_m.alpha, gt)
    print(f"GT23 SAD/1000 raw {raw:.1f}, batch {scores[0]:.1f}, Ctrl+M {scores[1]:.1f}")
    assert any("single-pass" in note for note in batch.notes)
    assert max(scores) <= 30.0 < raw


@pytest.mark.slow
def test_gt04_dress_print_stays_opaque_with_default_settings(isnet_fp16_path, eval_dir):
    """alphamatting GT04, the small troll's printed dress: the model leaves much of the print
    grey (about two thirds of the dress below 0.9); the default cutout must not make it
    semi-transparent. Measured: 2.5 % of the dress below 0.9, 0.06 % below 0.5."""
    from bgeraser_gui.assemble import PipelineSpec, build_pipeline
    from bgeraser_gui.core.image_io import load_image

    image = load_image(eval_dir / "alphamatting_train27" / "images" / "GT04.png")
    gt = cv2.imread(str(eval_dir / "alphamatting_train27" / "alpha" / "GT04.png"), 0) / 255.0
    result = build_pipeline(PipelineSpec(model=str(isnet_fp16_path), device="cpu")).cutout(image)
    box = (slice(380, 563), slice(480, 700))  # the right troll's dress, below its collar
    dress = gt[box] > 0.99
    alpha = result.alpha_u8[box][dress] / 255.0
    print(f"GT04 dress: below 0.9 {(alpha < 0.9).mean():.3f}, below 0.5 {(alpha < 0.5).mean():.4f}")
    assert (alpha < 0.9).mean() <= 0.08
    assert (alpha < 0.5).mean() <= 0.01


def rotor_rim(shape: tuple[int, int]):
    """The front brake rotor's rim in bike_3000x2000.jpg: a ring around the hub, where it is
    not behind the fork (the upper left quarter). Drawn by hand on the photo."""
    import numpy as np

    cy, cx = 1287, 2142
    yy, xx = np.mgrid[0 : shape[0], 0 : shape[1]]
    r = np.hypot(yy - cy, xx - cx)
    return (r >= 142) & (r <= 156) & ((yy >= cy) | (xx >= cx))


@pytest.mark.slow
def test_bike_front_rotor_is_opaque_in_the_default_export(isnet_fp16_path, perf_dir, tmp_path):
    """The 6 MP bike cut out as users do (default quality `best`, refinement on, fp16 ISNet,
    PNG): the first look at 1024 px holds the front rotor at 0.2-0.4, so it came out mostly
    transparent (rim median 0.09, 70 % below 0.5); the detail pass (backends/detail_pass.py)
    looks again at twice the resolution. Measured: median 0.84, 21 % below 0.5."""
    import numpy as np
    from PIL import Image

    from bgeraser_gui.assemble import PipelineSpec, build_pipeline

    pipeline = build_pipeline(PipelineSpec(model=str(isnet_fp16_path), device="cpu"))
    written = pipeline.process_file(perf_dir / "bike_3000x2000.jpg", tmp_path)
    alpha = np.asarray(Image.open(written))[..., 3] / 255.0
    rim = alpha[rotor_rim(alpha.shape)]
    print(f"rotor rim: median {np.median(rim):.2f}, below 0.5 {(rim < 0.5).mean():.3f}")
    assert np.median(rim) >= 0.7
    assert (rim < 0.5).mean() <= 0.3
