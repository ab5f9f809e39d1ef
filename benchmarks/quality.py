"""Mask quality of the raw (rembg-exact) and improved pipelines on the shared evaluation sets.

    python benchmarks/quality.py --sets grabcut50 alphamatting_train27 \
        --variants raw improved float flip clean snap flip+clean
    python benchmarks/quality.py --sets davis345_sub coco_mval_sub --limit 10 \
        --variants raw float crop clean

Run from the repository root (defaults: ../models-cache/isnet_medium_fp16.onnx, ../shared/eval).

For every set and pipeline variant it prints mean IoU (alpha >= 0.5, ignore band excluded) and
mean SAD/1000 (ignore band excluded). Network outputs are memoised on disk (--cache), keyed by
a hash of the exact network input, so variants that share inferences cost one inference.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image

from bgeraser_gui.backends.loader import load_backend
from bgeraser_gui.backends.segmenter import IMPROVED, RAW, QualityOptions
from bgeraser_gui.core.metrics import iou, sad, scored_pixels

FLOAT = QualityOptions()
# raw = rembg 2.0.86 exactly; improved = the library default (segmenter.IMPROVED); the others
# switch on one step at a time on top of a float (not 8-bit) resize.
VARIANTS: dict[str, QualityOptions] = {
    "raw": RAW,
    "improved": IMPROVED,
    "float": FLOAT,
    "flip": FLOAT.replace(flip_tta=True),
    "crop": FLOAT.replace(crop_pass=True),
    "clean": FLOAT.replace(clean_regions=True),
    "snap": FLOAT.replace(snap_edges=True),
    "flip+crop": FLOAT.replace(flip_tta=True, crop_pass=True),
    "flip+clean": FLOAT.replace(flip_tta=True, clean_regions=True),
    "all": FLOAT.replace(flip_tta=True, crop_pass=True, clean_regions=True, snap_edges=True),
    # the network input at the photo's aspect (model_io "fit"), alone, with a flip pass at the
    # same size, and with a flip pass at a 768 px long side (issue 20)
    "fit": FLOAT.replace(fit_input=True),
    "fit+flip+clean": FLOAT.replace(fit_input=True, flip_tta=True, clean_regions=True),
    "fit+flip768+clean": FLOAT.replace(
        fit_input=True, flip_tta=True, flip_side=768, clean_regions=True
    ),
}


def memoise_runs(backend, cache_dir: Path) -> dict[str, int]:
    """Wrap backend._run with a disk cache keyed by the batch's bytes; returns hit counters."""
    cache_dir.mkdir(parents=True, exist_ok=True)
    run = backend._run
    tag = f"{backend.name}-{getattr(backend, 'runtime', '')}-{getattr(backend, 'precision', '')}"
    tag += f"-any{backend.any_input_size}"  # ONNX Runtime: the rewritten graph (onnx_any_size)
    counts = {"hits": 0, "runs": 0}

    def cached(batch: np.ndarray) -> np.ndarray:
        key = hashlib.sha1(f"{tag}{batch.shape}".encode() + batch.tobytes()).hexdigest()
        path = cache_dir / f"{key}.npy"
        if path.exists():
            counts["hits"] += 1
            return np.load(path)
        counts["runs"] += 1
        out = run(batch)
        np.save(path, out)
        return out

    backend._run = cached
    return counts


def load_pair(set_dir: Path, stem_path: Path):
    rgb = np.asarray(Image.open(stem_path).convert("RGB"))
    gt = np.asarray(Image.open(set_dir / "alpha" / f"{stem_path.stem}.png").convert("L"))
    ignore_path = set_dir / "ignore" / f"{stem_path.stem}.png"
    ignore = np.asarray(Image.open(ignore_path).convert("L")) if ignore_path.exists() else None
    return rgb, gt, ignore


def evaluate(args) -> dict:
    results: dict = {}
    for set_name in args.sets:
        set_dir = args.eval_dir / set_name
        images = sorted((set_dir / "images").iterdir())[: args.limit or None]
        sums = {v: {"iou": 0.0, "sad": 0.0} for v in args.variants}
        per_image: dict[str, dict[str, float]] = {}
        started = time.perf_counter()
        for index, image_path in enumerate(images):
            rgb, gt, ignore = load_pair(set_dir, image_path)
            valid = scored_pixels(gt.shape, ignore)
            per_image[image_path.stem] = {}
            for variant in args.variants:
                backend = args.backends[VARIANTS[variant].fit_input]
                backend.options = VARIANTS[variant]
                mask = backend.predict(rgb)
                score_iou, score_sad = iou(mask, gt, valid), sad(mask, gt, valid)
                sums[variant]["iou"] += score_iou
                sums[variant]["sad"] += score_sad
                per_image[image_path.stem][variant] = round(score_iou, 4)
            print(
                f"  {set_name} {index + 1}/{len(images)} {image_path.stem}: "
                + " ".join(f"{v}={per_image[image_path.stem][v]:.3f}" for v in args.variants),
                file=sys.stderr,
                flush=True,
            )
        count = max(len(images), 1)
        results[set_name] = {
            "images": len(images),
            "seconds": round(time.perf_counter() - started, 1),
            "mean": {v: {k: round(s / count, 4) for k, s in m.items()} for v, m in sums.items()},
            "per_image_iou": per_image,
        }
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=str(Path("../models-cache/isnet_medium_fp16.onnx")))
    parser.add_argument("--eval-dir", type=Path, default=Path("../shared/eval"))
    parser.add_argument("--sets", nargs="+", default=["grabcut50", "alphamatting_train27"])
    parser.add_argument(
        "--variants", nargs="+", default=["raw", "improved"], choices=list(VARIANTS)
    )
    parser.add_argument("--limit", type=int, default=0, help="first N images per set (0 = all)")
    parser.add_argument("--runtime", default="torch")
    parser.add_argument("--precision", default="channels_last")
    parser.add_argument("--cache", type=Path, default=Path("/tmp/bgeraser-quality-cache"))
    parser.add_argument("--json", type=Path, help="also write the full results here")
    args = parser.parse_args(argv)
    # ONNX Runtime: the file's own graph for the square input (`raw` is rembg's exactly), the
    # graph rewritten for any input size for the "fit" variants (backends/onnx_any_size.py)
    args.backends = {
        fit: load_backend(
            args.model, runtime=args.runtime, precision=args.precision,
            options=RAW.replace(fit_input=fit, rembg_exact=not fit),
        )
        for fit in (False, True)
    }  # fmt: skip
    tallies = [memoise_runs(backend, args.cache) for backend in args.backends.values()]
    results = evaluate(args)
    counts = {key: sum(tally[key] for tally in tallies) for key in ("hits", "runs")}
    print(
        f"model {args.model} runtime {args.runtime} precision {args.precision} "
        f"(network runs {counts['runs']}, cached {counts['hits']})"
    )
    print(f"{'set':22} {'variant':12} {'IoU':>7} {'SAD/1000':>9}")
    for set_name, result in results.items():
        for variant, metrics in result["mean"].items():
            print(f"{set_name:22} {variant:12} {metrics['iou']:7.4f} {metrics['sad']:9.3f}")
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
