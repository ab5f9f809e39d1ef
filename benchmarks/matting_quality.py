"""Matting quality on alphamatting_train27: raw ISNet mask vs our refinement vs full solves.

Per image: SAD/1000, MSE (x1000) and gradient error (/1000) against the ground-truth alpha for
  raw     the ISNet mask itself (what you get without refinement)
  fixed   a fixed 10 px band around the mask edge, solved with our tiled closed-form solver
  ours    refine() with default options (adaptive trimap, tiled closed-form)
and, with the data set's own trimap (Trimap1):
  gt-full pymatting's estimate_alpha_cf on the whole image
  gt-ours our tiled band solver on the same trimap

    nice -n 10 python benchmarks/matting_quality.py [--skip-gt-trimap] [--only GT01,GT02]

Masks come from ISNet via onnxruntime (benchmarks/matting.py: isnet_mask), cached outside the
repo. Targets (issue 5): mean SAD of "ours" >= 30% below "raw", no image > 10% worse than raw.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from matting import isnet_mask  # noqa: E402  (benchmarks/matting.py)

from bgeraser_gui.core import matting as matting_module  # noqa: E402
from bgeraser_gui.core.matting import RefineOptions, estimate_alpha, refine  # noqa: E402
from bgeraser_gui.core.metrics import gradient_error, mse, sad  # noqa: E402
from bgeraser_gui.core.trimap import make_trimap  # noqa: E402

DEFAULT_SET = Path(__file__).resolve().parents[2] / "shared" / "eval" / "alphamatting_train27"


def load(set_dir: Path, stem: str):
    rgb = cv2.cvtColor(cv2.imread(str(set_dir / "images" / f"{stem}.png")), cv2.COLOR_BGR2RGB)
    gt = cv2.imread(str(set_dir / "alpha" / f"{stem}.png"), cv2.IMREAD_GRAYSCALE) / 255.0
    raw_trimap = cv2.imread(str(set_dir / "trimap" / f"{stem}.png"), cv2.IMREAD_GRAYSCALE)
    trimap = np.full(raw_trimap.shape, 128, np.uint8)
    trimap[raw_trimap > 200] = 255
    trimap[raw_trimap < 50] = 0
    return rgb, gt, trimap


def fmt(triple) -> str:
    return f"{triple[0]:.1f} / {triple[1]:.2f} / {triple[2]:.1f}"


def scores(pred: np.ndarray, gt: np.ndarray) -> tuple[float, float, float]:
    return sad(pred, gt), 1000.0 * mse(pred, gt), gradient_error(pred, gt)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--set", type=Path, default=DEFAULT_SET)
    parser.add_argument("--skip-gt-trimap", action="store_true")
    parser.add_argument("--only", default="", help="comma-separated stems")
    parser.add_argument("--no-fixed", action="store_true", help="skip the fixed-band variant")
    parser.add_argument("--band-px", type=int, default=None, help="override (tuning)")
    parser.add_argument("--prior-weight", type=float, default=None, help="override (tuning)")
    args = parser.parse_args()
    if args.prior_weight is not None:
        matting_module.PRIOR_WEIGHT = args.prior_weight
    stems = sorted(p.stem for p in (args.set / "images").glob("*.png"))
    if args.only:
        stems = [s for s in stems if s in args.only.split(",")]
    variants = (
        ["raw"]
        + ([] if args.no_fixed else ["fixed"])
        + ["ours"]
        + ([] if args.skip_gt_trimap else ["gt-full", "gt-ours"])
    )
    table: dict[str, dict[str, tuple[float, float, float]]] = {v: {} for v in variants}
    seconds: dict[str, float] = {v: 0.0 for v in variants}
    header = f"{'image':6} " + " ".join(f"{v + ' SAD/MSE/Grad':>24}" for v in variants)
    print(header, flush=True)
    for stem in stems:
        rgb, gt, gt_trimap = load(args.set, stem)
        mask = isnet_mask(args.set / "images" / f"{stem}.png", rgb)
        results = {"raw": mask}
        if "fixed" in variants:
            start = time.perf_counter()
            fixed_trimap = make_trimap(mask, band_px=10, adaptive=False)
            results["fixed"] = estimate_alpha(rgb, fixed_trimap, "cf", prior=mask)
            seconds["fixed"] += time.perf_counter() - start
        start = time.perf_counter()
        results["ours"] = refine(
            rgb, mask, options=RefineOptions(band_px=args.band_px, decontaminate=False)
        ).alpha
        seconds["ours"] += time.perf_counter() - start
        if not args.skip_gt_trimap:
            from pymatting import estimate_alpha_cf

            start = time.perf_counter()
            results["gt-full"] = estimate_alpha_cf(rgb / 255.0, gt_trimap / 255.0)
            seconds["gt-full"] += time.perf_counter() - start
            start = time.perf_counter()
            results["gt-ours"] = estimate_alpha(rgb, gt_trimap, "cf")
            seconds["gt-ours"] += time.perf_counter() - start
        row = f"{stem:6} "
        for v in variants:
            table[v][stem] = scores(results[v], gt)
            row += f"{fmt(table[v][stem]):>24} "
        print(row, flush=True)
    print("-" * len(header))
    means = {v: np.mean(list(table[v].values()), axis=0) for v in variants}
    print(f"{'mean':6} " + " ".join(f"{fmt(means[v]):>24}" for v in variants))
    print("seconds total: " + ", ".join(f"{v} {seconds[v]:.0f}" for v in variants if v != "raw"))
    raw, ours = means["raw"][0], means["ours"][0]
    print(f"mean SAD ours vs raw: {100 * (ours - raw) / raw:+.1f}% (target <= -30%)")
    worse = {s: table["ours"][s][0] / table["raw"][s][0] - 1 for s in stems}
    bad = {s: f"{100 * r:+.0f}%" for s, r in worse.items() if r > 0.10}
    print(f"images > 10% worse than raw: {len(bad)} {bad}")
    if not args.skip_gt_trimap:
        full, tiled = means["gt-full"][0], means["gt-ours"][0]
        print(f"GT trimap: full-image SAD {full:.2f}, ours tiled {tiled:.2f}")


if __name__ == "__main__":
    main()
