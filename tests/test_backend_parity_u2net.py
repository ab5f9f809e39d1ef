"""Real U²-Net and U²-Netp weights (the upstream rembg files, md5-checked against the manifest):
the hand-written torch network with mapped weights against ONNX Runtime on the same file, on real
photos, plus the raw pipeline's IoU against ground truth.

The files are found in $BGERASER_EXTRA_MODELS (default ../models-extra); models/README.md says
which package-registry packages ship them. Missing files skip these tests.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from bgeraser_gui.backends.loader import load_backend
from bgeraser_gui.backends.model_io import network_input
from bgeraser_gui.backends.registry import get_spec
from bgeraser_gui.backends.segmenter import RAW
from bgeraser_gui.core.metrics import iou, scored_pixels

REPO = Path(__file__).resolve().parents[1]
EXTRA = Path(os.environ.get("BGERASER_EXTRA_MODELS", REPO.parent / "models-extra"))
PHOTOS = ("person1", "106024")


def _md5(path: Path) -> str:
    digest = hashlib.md5()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


@pytest.fixture(scope="module", params=["u2net", "u2netp"])
def model(request):
    spec = get_spec(request.param)
    path = EXTRA / spec.file_name
    if not path.is_file():
        pytest.skip(f"{spec.file_name} not found in {EXTRA} (see models/README.md)")
    return spec, path


def _photo(eval_dir: Path, name: str):
    folder = eval_dir / "grabcut50"
    rgb = np.asarray(Image.open(folder / "images" / f"{name}.jpg").convert("RGB"))
    gt = np.asarray(Image.open(folder / "alpha" / f"{name}.png").convert("L"))
    ignore = np.asarray(Image.open(folder / "ignore" / f"{name}.png").convert("L"))
    return rgb, gt, scored_pixels(gt.shape, ignore)


def test_file_is_the_upstream_release(model):
    spec, path = model
    assert _md5(path) == spec.md5


def test_torch_matches_onnxruntime_on_real_photos(model, eval_dir):
    pytest.importorskip("onnxruntime")
    spec, path = model
    ours = load_backend(str(path), runtime="torch", precision="fp32", options=RAW)
    reference = load_backend(str(path), runtime="onnxruntime", options=RAW)
    assert ours.name == spec.name and ours.spec.size == spec.input_size
    for name in PHOTOS:
        batch = network_input(_photo(eval_dir, name)[0], ours.spec)
        a, b = ours._run(batch)[0], reference._run(batch)[0]
        max_diff = float(np.abs(a - b).max())
        agreement = iou(a, (b >= 0.5).astype(np.float32))
        print(
            f"{spec.name} torch fp32 vs onnxruntime, grabcut50/{name} at "
            f"{spec.input_size}x{spec.input_size}: max abs diff {max_diff:.2e}, IoU {agreement:.6f}"
        )
        assert max_diff < 1e-3
        assert agreement > 0.999


def test_raw_pipeline_segments_the_person(model, eval_dir):
    spec, path = model
    backend = load_backend(str(path), runtime="torch", precision="fp32", options=RAW)
    rgb, gt, valid = _photo(eval_dir, "person1")
    mask = backend.predict(rgb)
    assert mask.shape == gt.shape and mask.dtype == np.float32
    score = iou(mask, gt, valid)
    print(f"raw {spec.name} IoU on grabcut50/person1: {score:.4f}")
    assert score > 0.8
