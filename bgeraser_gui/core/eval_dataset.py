"""Read an evaluation data set (read-only).

Layout: `DATASET/images/<stem>.<ext>` photos, `DATASET/alpha/<stem>.png` ground truth
(8-bit, 255 = foreground; binary masks allowed), optional `DATASET/trimap/<stem>.png`
(0/128/255) and `DATASET/ignore/<stem>.png` (255 = pixel excluded from every metric).
Photos without a ground-truth alpha are listed in `EvalDataset.missing_alpha` and skipped.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

from bgeraser_gui.core.errors import BgEraserError
from bgeraser_gui.core.image_io import SUPPORTED_EXTENSIONS, load_image

IMAGES_DIR, ALPHA_DIR, TRIMAP_DIR, IGNORE_DIR = "images", "alpha", "trimap", "ignore"


class DatasetError(BgEraserError):
    """A folder is not an evaluation data set, or one of its files cannot be used."""


@dataclass(frozen=True)
class EvalSample:
    """The files of one photo in a data set (optional parts are None when absent)."""

    dataset: str
    stem: str
    image_path: Path
    alpha_path: Path
    trimap_path: Path | None = None
    ignore_path: Path | None = None


@dataclass
class LoadedSample:
    """A sample decoded into arrays of the same HxW size."""

    sample: EvalSample
    rgb: np.ndarray  # HxWx3 uint8
    alpha: np.ndarray  # HxW uint8, 255 = foreground
    trimap: np.ndarray | None  # HxW uint8 0/128/255
    ignore: np.ndarray | None  # HxW bool, True = not scored


@dataclass
class EvalDataset:
    name: str
    root: Path
    samples: list[EvalSample] = field(default_factory=list)
    missing_alpha: list[Path] = field(default_factory=list)  # photos with no ground truth


def _index_by_stem(folder: Path, extensions: frozenset[str] | set[str]) -> dict[str, Path]:
    if not folder.is_dir():
        return {}
    found: dict[str, Path] = {}
    for path in sorted(folder.iterdir()):
        if path.is_file() and path.suffix.lower() in extensions and not path.name.startswith("."):
            found.setdefault(path.stem, path)
    return found


def scan_dataset(root: str | Path) -> EvalDataset:
    """List the samples of a data set folder; raise DatasetError if it has no `images/`."""
    root = Path(root)
    images_dir = root / IMAGES_DIR
    if not images_dir.is_dir():
        raise DatasetError(f"{root}: not a data set (no '{IMAGES_DIR}/' folder)")
    images = _index_by_stem(images_dir, SUPPORTED_EXTENSIONS)
    png = {".png"}
    alphas = _index_by_stem(root / ALPHA_DIR, png)
    trimaps = _index_by_stem(root / TRIMAP_DIR, png)
    ignores = _index_by_stem(root / IGNORE_DIR, png)
    dataset = EvalDataset(name=root.resolve().name, root=root)
    for stem, image_path in images.items():
        alpha_path = alphas.get(stem)
        if alpha_path is None:
            dataset.missing_alpha.append(image_path)
            continue
        dataset.samples.append(
            EvalSample(
                dataset=dataset.name,
                stem=stem,
                image_path=image_path,
                alpha_path=alpha_path,
                trimap_path=trimaps.get(stem),
                ignore_path=ignores.get(stem),
            )
        )
    return dataset


def _read_gray(path: Path, shape: tuple[int, int], what: str) -> np.ndarray:
    try:
        with Image.open(path) as im:
            if im.mode in ("I;16", "I;16B", "I;16L", "I"):
                arr = np.asarray(im, dtype=np.float64)
                arr = np.round(arr / (65535.0 if arr.max() > 255 else 1.0) * 255.0)
                gray = np.clip(arr, 0, 255).astype(np.uint8)
            else:
                gray = np.asarray(im.convert("L"), dtype=np.uint8)
    except (OSError, ValueError) as exc:
        raise DatasetError(f"{path.name}: cannot read {what} ({exc})") from None
    if gray.shape != shape:
        raise DatasetError(
            f"{path.name}: {what} is {gray.shape[1]}x{gray.shape[0]} but the photo is "
            f"{shape[1]}x{shape[0]}"
        )
    return gray


def load_sample(sample: EvalSample) -> LoadedSample:
    """Decode a sample; raise DatasetError (or an ImageLoadError) when it cannot be used."""
    rgb = load_image(sample.image_path).rgb
    shape = (int(rgb.shape[0]), int(rgb.shape[1]))
    alpha = _read_gray(sample.alpha_path, shape, "ground-truth alpha")
    trimap = _read_gray(sample.trimap_path, shape, "trimap") if sample.trimap_path else None
    ignore = None
    if sample.ignore_path is not None:
        ignore = _read_gray(sample.ignore_path, shape, "ignore mask") >= 128
    return LoadedSample(sample=sample, rgb=rgb, alpha=alpha, trimap=trimap, ignore=ignore)
