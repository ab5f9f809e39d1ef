"""What edge refinement does to the model's mask on sets with binary ground truth.

For every image of each set: the raw ISNet mask, refine() without colour evidence, and
refine() as shipped (colour evidence + matting). Prints IoU (threshold 0.5), SAD/1000 and
gradient error/1000 against the ground truth, with the `ignore/` band excluded where a set
has one. Masks come from ISNet via onnxruntime (benchmarks/matting.py: isnet_mask, cached).

    nice -n 10 python benchmarks/refine_effect.py grabcut50 davis345_sub --limit 40
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from matting import isnet_mask  # noqa: E402  (benchmarks/matting.py)

from bgeraser_gui.core.matting import RefineOptions, refine  # noqa: E402
from bgeraser_gui.core.metrics import gradient_error, iou, sad  # noqa: E402

EVAL_DIR = Path(__file__).resolve().parents[2] / "shared" / "eval"
VARIANTS = ("raw", "matting only", "refined")


def variants(rgb: np.ndarray, mask: np.ndarray) -> dict[str, np.ndarray]:
    plain = RefineOptions(decontaminate=False, colour_evidence=False)
    return {
        "raw": mask,
        "matting only": refine(rgb, mask, options=plain).alpha,
        "refined": refine(rgb, mask, options=RefineOptions(decontaminate=False)).alpha,
    }


def score_set(set_dir: Path, limit: int) -> dict[str, np.ndarray]:
    rows: dict[str, list[tuple[float, float, float]]] = {v: [] for v in VARIANTS}
    for image_path in sorted((set_dir / "images").iterdir())[:limit]:
        rgb = cv2.cvtColor(cv2.imread(str(image_path)), cv2.COLOR_BGR2RGB)
        gt = cv2.imread(str(set_dir / "alpha" / f"{image_path.stem}.png"), 0) / 255.0
        ignore_path = set_dir / "ignore" / f"{image_path.stem}.png"
        valid = None
        if ignore_path.exists():
            valid = cv2.imread(str(ignore_path), cv2.IMREAD_GRAYSCALE) < 128
        for name, alpha in variants(rgb, isnet_mask(image_path, rgb)).items():
            rows[name].append(
                (iou(alpha, gt, valid), sad(alpha, gt, valid), gradient_error(alpha, gt, valid))
            )
    return {name: np.mean(values, axis=0) for name, values in rows.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sets", nargs="+", help="folder names under ../shared/eval or paths")
    parser.add_argument("--limit", type=int, default=10_000, help="images per set")
    args = parser.parse_args()
    print(f"{'set':22} {'variant':13} {'IoU':>7} {'SAD':>7} {'Grad':>7}")
    for name in args.sets:
        set_dir = Path(name) if Path(name).is_dir() else EVAL_DIR / name
        means = score_set(set_dir, args.limit)
        for variant, (m_iou, m_sad, m_grad) in means.items():
            print(f"{set_dir.name:22} {variant:13} {m_iou:7.4f} {m_sad:7.2f} {m_grad:7.2f}")
        raw_sad, refined_sad = means["raw"][1], means["refined"][1]
        print(f"{set_dir.name:22} refined vs raw SAD {100 * (refined_sad / raw_sad - 1):+.1f}%")


if __name__ == "__main__":
    main()
