"""Refinement with and without the no-bites guard, from the one-pass and the flip-averaged mask.

The fp16 ISNet outputs (one pass and the flipped pass, at network size) are computed once per
photo through the product's backend and cached as .npz under --cache; the masks of `--quality
fast` (one pass) and `best` (average + clean-up) are rebuilt from them exactly as the segmenter
does (the detail pass of `best`, backends/detail_pass.py, runs only on photos at least 1.5x
the network's size, so on none of the shared sets). Every photo is refined once per mask
(matting without the guard, also cached), then the guard variants are applied. Reported per half (even / odd indices: choose on one, check on the
other) and over the whole set: mean / median IoU and SAD/1000, SAD > 50, images more than 10%
worse than the raw `best` mask, and the rule "refine the averaged mask; take the one-pass result
when the averaged one disputes more of the subject" (margin --margin).

    nice -n 5 python benchmarks/no_bites.py alphamatting_train27 grabcut50 --cache /tmp/nb
"""

from __future__ import annotations

import argparse
from pathlib import Path

import cv2
import numpy as np

from bgeraser_gui.backends import postprocess
from bgeraser_gui.backends.model_io import mask_from_output, network_input
from bgeraser_gui.core.colour_evidence import colour_posterior
from bgeraser_gui.core.compose import to_alpha_u8
from bgeraser_gui.core.matting import estimate_alpha
from bgeraser_gui.core.metrics import iou, sad
from bgeraser_gui.core.one_pass_fallback import MARGIN
from bgeraser_gui.core.subject_guard import guard_alpha
from bgeraser_gui.core.trimap import default_band_px, make_trimap

EVAL_DIR = Path(__file__).resolve().parents[2] / "shared" / "eval"
MODEL = Path(__file__).resolve().parents[2] / "models-cache" / "isnet_medium_fp16.onnx"


def network_passes(backend, rgb: np.ndarray, cache: Path) -> dict[str, np.ndarray]:
    if not cache.exists():
        batch = network_input(rgb, backend.input_spec)
        one = backend._run(batch)[0]
        flipped = backend._run(np.ascontiguousarray(batch[..., ::-1]))[0][:, ::-1]
        cache.parent.mkdir(parents=True, exist_ok=True)
        np.savez(cache, one=one, flipped=np.ascontiguousarray(flipped))
    z = np.load(cache)
    h, w = rgb.shape[:2]
    spec = (backend.spec.output, False, backend.input_spec.resize)
    average = mask_from_output((z["one"] + z["flipped"]) * 0.5, w, h, *spec)
    return {
        "fast": mask_from_output(z["one"], w, h, *spec),
        "best": postprocess.remove_small_regions(average),
    }


def unguarded(rgb: np.ndarray, mask: np.ndarray, cache: Path) -> tuple[np.ndarray, np.ndarray]:
    """(matted alpha, colour prior) as refine() computes them before the guard."""
    if not cache.exists():
        prior = colour_posterior(rgb, mask)
        alpha = estimate_alpha(rgb, make_trimap(prior), "cf", prior=prior)
        np.savez_compressed(cache, alpha=alpha, prior=prior)
    z = np.load(cache)
    return z["alpha"], z["prior"]


def score(alpha, gt, valid) -> tuple[float, float]:
    a = to_alpha_u8(alpha).astype(np.float32) / 255.0
    return float(iou(a, gt, valid)), float(sad(a, gt, valid))


def measure(set_dir: Path, backend, cache: Path, step: int) -> dict[str, list]:
    rows: dict[str, list] = {}
    for image_path in sorted((set_dir / "images").iterdir())[::step]:
        rgb = cv2.cvtColor(cv2.imread(str(image_path)), cv2.COLOR_BGR2RGB)
        gt = cv2.imread(str(set_dir / "alpha" / f"{image_path.stem}.png"), 0) / 255.0
        ignore = set_dir / "ignore" / f"{image_path.stem}.png"
        valid = cv2.imread(str(ignore), 0) < 128 if ignore.exists() else None
        base = cache / set_dir.name / image_path.stem
        masks = network_passes(backend, rgb, base.with_suffix(".net.npz"))
        raw_best = score(masks["best"], gt, valid)[1]
        edge = default_band_px(*gt.shape)
        for source, mask in masks.items():
            alpha, prior = unguarded(rgb, mask, base.with_suffix(f".{source}.npz"))
            guarded = guard_alpha(alpha, mask, prior, None, edge)
            for variant, a, disputed in (
                (f"raw {source}", mask, 0.0),
                (f"refined {source}, no guard", alpha, 0.0),
                (f"refined {source}, guard", guarded.alpha, guarded.disputed),
            ):
                rows.setdefault(variant, []).append((*score(a, gt, valid), raw_best, disputed))
    return rows


def per_image_rule(rows: dict[str, list], margin: float) -> list:
    """core/one_pass_fallback.py's rule (row[3]: the disputed fraction)."""
    fast, best = rows["refined fast, guard"], rows["refined best, guard"]
    return [f if b[3] > f[3] + margin else b for f, b in zip(fast, best, strict=True)]


def report(name: str, rows: dict[str, list]) -> None:
    for half, part in (
        ("even", slice(0, None, 2)),
        ("odd", slice(1, None, 2)),
        ("all", slice(None)),
    ):
        for variant, values in rows.items():
            v = np.array(values[part])
            i, s, raw = v[:, 0], v[:, 1], v[:, 2]
            print(
                f"{name:20} {half:4} {variant:26} n={len(v):3} IoU {i.mean():.4f} / "
                f"{np.median(i):.4f}  SAD {s.mean():6.2f} / {np.median(s):6.2f}  "
                f"SAD>50 {int((s > 50).sum()):2}  >10% worse than raw {int((s > 1.1 * raw).sum())}"
            )


def main() -> None:
    from bgeraser_gui.backends.loader import load_backend
    from bgeraser_gui.backends.segmenter import FAST

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sets", nargs="+", help="folder names under ../shared/eval or paths")
    parser.add_argument("--cache", type=Path, required=True, help="folder for network outputs")
    parser.add_argument("--step", type=int, default=1, help="every n-th photo (davis: 2)")
    parser.add_argument("--margin", type=float, default=MARGIN, help="per-image rule margin")
    args = parser.parse_args()
    backend = load_backend(str(MODEL), options=FAST)
    for name in args.sets:
        set_dir = Path(name) if Path(name).is_dir() else EVAL_DIR / name
        rows = measure(set_dir, backend, args.cache, args.step)
        rows[f"per-image rule ({args.margin:g})"] = per_image_rule(rows, args.margin)
        report(set_dir.name, rows)


if __name__ == "__main__":
    main()
