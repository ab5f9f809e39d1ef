"""`bgeraser-cli cutout` end to end with the real ISNet model and the bad-input corpus."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from bgeraser_gui.cli import main
from bgeraser_gui.core.compose import to_alpha_u8
from bgeraser_gui.core.image_io import load_image


@pytest.fixture(scope="module")
def isnet(isnet_fp16_path):
    from bgeraser_gui.backends.loader import load_backend

    return load_backend(str(isnet_fp16_path), device="cpu")


def test_cutout_real_photo_alpha_matches_model_mask(tmp_path, eval_dir, isnet_fp16_path, isnet):
    photo = eval_dir / "grabcut50" / "images" / "person1.jpg"  # head and shoulders
    code = main(["cutout", str(photo), "-o", str(tmp_path), "--model", str(isnet_fp16_path),
                 "--device", "cpu", "--no-refine", "-q"])  # fmt: skip
    assert code == 0
    out = tmp_path / "person1_cutout.png"
    with Image.open(out) as written:
        assert written.mode == "RGBA"
        rgba = np.asarray(written)
    image = load_image(photo)
    np.testing.assert_array_equal(rgba[..., :3], image.rgb)
    expected = to_alpha_u8(isnet.predict(image.rgb))
    assert np.abs(rgba[..., 3].astype(int) - expected.astype(int)).max() <= 1
    truth = np.asarray(Image.open(eval_dir / "grabcut50" / "alpha" / "person1.png")) > 127
    scored = np.asarray(Image.open(eval_dir / "grabcut50" / "ignore" / "person1.png")) < 128
    cut = rgba[..., 3] > 127
    iou = (cut & truth & scored).sum() / ((cut | truth) & scored).sum()
    print(f"person1 IoU vs ground truth: {iou:.3f}")
    assert iou > 0.9


def test_cutout_refined_on_background_colour(tmp_path, eval_dir, isnet_fp16_path, isnet):
    photo = eval_dir / "alphamatting_train27" / "images" / "GT07.png"  # fluffy sheep
    code = main(["cutout", str(photo), "-o", str(tmp_path), "--model", str(isnet_fp16_path),
                 "--device", "cpu", "--background", "#00ff00", "--format", "jpeg", "-q"])  # fmt: skip
    assert code == 0
    with Image.open(tmp_path / "GT07_cutout.jpg") as written:
        flat = np.asarray(written)
    assert flat.shape[2] == 3
    assert flat[2, 2, 1] > 200 and flat[2, 2, 0] < 60  # corner is green background


def test_cli_over_bad_input_corpus(tmp_path, shared_dir, isnet_fp16_path):
    corpus, out = tmp_path / "corpus", tmp_path / "out"
    subprocess.run([sys.executable, str(shared_dir / "tools" / "make-bad-inputs.py"), str(corpus)],
                   check=True, capture_output=True)  # fmt: skip
    result = subprocess.run(
        [sys.executable, "-m", "bgeraser_gui", "cutout", str(corpus), "-o", str(out),
         "--model", str(isnet_fp16_path), "--device", "cpu", "--no-refine"],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    files = sorted(p.name for p in corpus.iterdir())
    bad = [f for f in files if f.startswith("bad_")]
    ok = [f for f in files if f.startswith("ok_")]
    assert len(bad) >= 6 and len(ok) >= 10
    failures = [line for line in result.stderr.splitlines() if line.startswith("failed: ")]
    assert sorted(line.split(": ")[1] for line in failures) == bad  # one line per bad file
    written = sorted(p.name for p in out.iterdir() if not p.name.startswith("."))
    assert written == sorted(f.rsplit(".", 1)[0] + "_cutout.png" for f in ok)
    for name in ok:
        source = load_image(corpus / name)
        with Image.open(out / (name.rsplit(".", 1)[0] + "_cutout.png")) as cut:
            assert cut.size == (source.width, source.height) and cut.mode == "RGBA"
    assert f"{len(ok)} written, 0 skipped, {len(bad)} failed" in result.stderr


def test_damaged_model_file_is_one_line_not_a_traceback(tmp_path, capsys):
    photo = tmp_path / "p.png"
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(photo)
    model = tmp_path / "broken.onnx"
    model.write_bytes(b"\x08\x07garbage that is not a protobuf" * 10)
    code = main(["cutout", str(photo), "-o", str(tmp_path / "out"), "--model", str(model)])
    err = capsys.readouterr().err
    assert code == 3  # the model cannot be used; 2 is bad usage
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert "model" in err
    assert not (tmp_path / "out" / "p_cutout.png").exists()


@pytest.mark.parametrize("quality", ["best", "fast", "rembg"])
def test_quality_option_selects_the_segmentation_preset(tmp_path, monkeypatch, quality):
    from batch_fakes import EllipseBackend, write_photo

    from bgeraser_gui.backends import loader
    from bgeraser_gui.backends.segmenter import FAST, IMPROVED, RAW

    captured = {}

    def fake_load_backend(model, device="auto", runtime="auto", options=None, **kwargs):
        captured["options"] = options
        return EllipseBackend()

    monkeypatch.setattr(loader, "load_backend", fake_load_backend)
    photo = write_photo(tmp_path / "p.jpg")
    args = ["cutout", str(photo), "-o", str(tmp_path / "out"), "--model", "m.onnx"]
    assert main([*args, "--quality", quality, "--no-refine", "-q"]) == 0
    assert captured["options"] == {"best": IMPROVED, "fast": FAST, "rembg": RAW}[quality]
