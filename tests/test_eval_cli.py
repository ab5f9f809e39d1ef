"""`bgeraser-cli eval` on a synthetic data set made here, with a tiny fake model."""

from __future__ import annotations

import csv
import sys
import types
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from bgeraser_gui.commands import eval as eval_command

H, W = 32, 40


def main(argv: list[str]) -> int:
    """`bgeraser-cli ARGV` with only the eval command registered (as cli.main dispatches it),
    so these tests do not depend on the other commands."""
    import argparse

    parser = argparse.ArgumentParser(prog="bgeraser-cli")
    eval_command.register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return int(args.func(args) or 0)


class RedIsForeground:
    """Fake backend: a pixel is foreground when it is mostly red."""

    name = "fake-red"
    device = "cpu"

    def __init__(self) -> None:
        self.calls = 0

    def predict(self, rgb, progress=None, cancel=None):
        self.calls += 1
        return (rgb[..., 0] > 128).astype(np.float32)


@dataclass
class FakeMattingResult:
    alpha: np.ndarray
    foreground: np.ndarray | None = None
    notes: list | None = None


@pytest.fixture
def fake_model(monkeypatch):
    """Replace the model loader and the matting step with fast fakes (the real ones are
    exercised by their own tests); refinement here inverts the mask so its rows differ."""
    backend = RedIsForeground()
    loads: list[tuple[str, str]] = []

    def load_backend(name_or_path="isnet-general-use", device="auto"):
        loads.append((name_or_path, device))
        return backend

    loader = types.ModuleType("bgeraser_gui.backends.loader")
    loader.load_backend = load_backend
    monkeypatch.setitem(sys.modules, "bgeraser_gui.backends.loader", loader)

    refine_calls = []

    def refine(rgb, mask, touchups=None, options=None, progress=None, cancel=None):
        refine_calls.append(mask.shape)
        return FakeMattingResult(alpha=1.0 - mask)

    matting = types.ModuleType("bgeraser_gui.core.matting")
    matting.RefineOptions = lambda **kw: types.SimpleNamespace(**kw)
    matting.refine = refine
    monkeypatch.setitem(sys.modules, "bgeraser_gui.core.matting", matting)
    return types.SimpleNamespace(backend=backend, loads=loads, refine_calls=refine_calls)


def _photo(box: tuple[int, int, int, int]) -> np.ndarray:
    """Blue photo with a red rectangle (y0, y1, x0, x1)."""
    rgb = np.zeros((H, W, 3), dtype=np.uint8)
    rgb[..., 2] = 200
    y0, y1, x0, x1 = box
    rgb[y0:y1, x0:x1] = (220, 30, 30)
    return rgb


def _mask(box: tuple[int, int, int, int]) -> np.ndarray:
    alpha = np.zeros((H, W), dtype=np.uint8)
    y0, y1, x0, x1 = box
    alpha[y0:y1, x0:x1] = 255
    return alpha


def _save(path: Path, array: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array).save(path)


@pytest.fixture
def dataset(tmp_path: Path) -> Path:
    """3 photos: 'exact' (model is right), 'short' (ground truth 4 columns wider than the
    red area, with an ignore band and a trimap), 'orphan' (no alpha)."""
    root = tmp_path / "synthetic"
    box = (8, 24, 10, 30)
    _save(root / "images" / "exact.png", _photo(box))
    _save(root / "alpha" / "exact.png", _mask(box))
    _save(root / "images" / "short.jpg", _photo(box))  # JPEG: red stays > 128
    wide = (8, 24, 10, 34)
    _save(root / "alpha" / "short.png", _mask(wide))
    ignore = np.zeros((H, W), dtype=np.uint8)
    ignore[:, 32:34] = 255  # 2 of the 4 missing columns are not scored
    _save(root / "ignore" / "short.png", ignore)
    trimap = _mask(wide)
    trimap[:, 28:36] = np.where(trimap[:, 28:36] > 0, 128, 0)
    _save(root / "trimap" / "short.png", trimap)
    _save(root / "images" / "orphan.png", _photo(box))
    return root


def _rows(out: Path) -> list[dict]:
    with (out / "results.csv").open(newline="") as f:
        return list(csv.DictReader(f))


def _listing(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def test_eval_scores_reports_and_skips_missing_alpha(dataset, tmp_path, fake_model, capsys):
    before = _listing(dataset)
    out = tmp_path / "out"
    code = main(["eval", str(dataset), "--model", "fake.onnx", "--out", str(out)])
    assert code == 0
    err = capsys.readouterr().err
    assert "orphan.png" in err and "without alpha" in err

    rows = {(r["stem"], r["mode"]): r for r in _rows(out)}
    assert set(rows) == {(s, m) for s in ("exact", "short") for m in ("raw", "refined")}
    exact = rows[("exact", "raw")]
    assert exact["model"] == "fake" and exact["dataset"] == "synthetic"
    assert float(exact["iou"]) == 1.0 and float(exact["sad"]) == 0.0
    assert float(exact["bf"]) == 1.0
    short = rows[("short", "raw")]
    # gt 16x24 = 384 px, of which 16x2 ignored; prediction 16x20 = 320 px, all correct
    assert float(short["iou"]) == pytest.approx(320 / 352)
    assert float(short["sad"]) == pytest.approx(32 / 1000)
    assert short["band"] == "trimap" and exact["band"].startswith("contour")
    # refinement (inverted by the fake) is scored separately
    assert float(rows[("exact", "refined")]["iou"]) == 0.0
    assert fake_model.backend.calls == 2  # one prediction per image for both modes
    assert len(fake_model.refine_calls) == 2
    assert fake_model.loads == [("fake.onnx", "auto")]

    summary = (out / "summary.md").read_text()
    assert "| synthetic | fake | raw | 2 |" in summary
    assert "| synthetic | fake | refined | 2 |" in summary
    assert "orphan.png" in summary
    for mode in ("raw", "refined"):
        sheet = Image.open(out / f"worst_fake_{mode}.png")
        assert sheet.width > 4 * 20 and sheet.height > 2 * 20
        html = (out / f"worst_fake_{mode}.html").read_text()
        assert "synthetic/short" in html and "synthetic/exact" in html
        assert (out / f"worst_fake_{mode}_files" / "row_001.png").exists()
    assert (out / "predictions" / "fake" / "raw" / "synthetic" / "exact.png").exists()
    assert _listing(dataset) == before  # read-only


def test_worst_rows_order_contact_sheet(dataset, tmp_path, fake_model):
    out = tmp_path / "out"
    assert main(["eval", str(dataset), "--model", "m", "--no-refine", "--out", str(out)]) == 0
    html = (out / "worst_m_raw.html").read_text()
    assert html.index("synthetic/short") < html.index("synthetic/exact")


def test_no_refine_limit_and_device(dataset, tmp_path, fake_model):
    out = tmp_path / "out"
    args = ["eval", str(dataset), "--model", "m", "--no-refine", "--limit", "1"]
    assert main([*args, "--out", str(out), "--device", "cpu"]) == 0
    rows = _rows(out)
    assert [(r["stem"], r["mode"]) for r in rows] == [("exact", "raw")]
    assert fake_model.refine_calls == []
    assert fake_model.loads == [("m", "cpu")]
    assert float(rows[0]["seconds"]) >= 0.0


def test_refine_only_and_refine_modes(dataset, tmp_path, fake_model):
    out = tmp_path / "a"
    assert main(["eval", str(dataset), "--model", "m", "--refine", "--out", str(out)]) == 0
    assert {r["mode"] for r in _rows(out)} == {"refined"}
    out = tmp_path / "b"
    modes = ["--refine-modes", "refined,raw"]
    assert main(["eval", str(dataset), "--model", "m", *modes, "--out", str(out)]) == 0
    assert {r["mode"] for r in _rows(out)} == {"raw", "refined"}
    bad = ["--refine-modes", "sharp"]
    assert main(["eval", str(dataset), "--model", "m", *bad, "--out", str(tmp_path / "c")]) == 2
    bad = ["--limit", "0"]
    assert main(["eval", str(dataset), "--model", "m", *bad, "--out", str(tmp_path / "c")]) == 2


def test_resume_reuses_saved_predictions(dataset, tmp_path, fake_model):
    out = tmp_path / "out"
    base = ["eval", str(dataset), "--model", "m", "--out", str(out)]
    assert main(base) == 0
    first = _rows(out)
    calls = fake_model.backend.calls
    assert main([*base, "--resume"]) == 0
    assert fake_model.backend.calls == calls
    assert len(fake_model.refine_calls) == 2
    again = _rows(out)
    assert [r["iou"] for r in again] == [r["iou"] for r in first]
    # the timings measured when the predictions were made are carried over
    assert [r["seconds"] for r in again] == [r["seconds"] for r in first]
    assert all(r["seconds"] != "" for r in again)


def test_resume_refines_a_fresh_prediction_not_the_saved_8_bit_raw_mask(
    dataset, tmp_path, fake_model, monkeypatch
):
    """A resumed run that still has to refine predicts again: refinement starts from the
    model's float mask (and its first pass, core/one_pass_fallback.py) as the pipeline's
    does, never from the raw mask reloaded from its 8-bit file."""
    soft = 0.3  # a value 8 bits cannot hold: 0.3 * 255 = 76.5
    monkeypatch.setattr(
        fake_model.backend,
        "predict",
        lambda rgb, progress=None, cancel=None: np.where(
            rgb[..., 0] > 128, np.float32(1.0), np.float32(soft)
        ),
    )
    refined: list[np.ndarray] = []
    matting = sys.modules["bgeraser_gui.core.matting"]
    monkeypatch.setattr(
        matting, "refine", lambda rgb, mask, **kw: refined.append(mask) or FakeMattingResult(mask)
    )
    out = tmp_path / "out"
    base = ["eval", str(dataset), "--model", "m", "--out", str(out)]
    assert main([*base, "--no-refine"]) == 0
    assert main([*base, "--resume"]) == 0
    assert len(refined) == 2
    assert all(np.float32(soft) in np.unique(mask) for mask in refined)


def test_several_models_side_by_side(dataset, tmp_path, fake_model):
    out = tmp_path / "out"
    args = ["eval", str(dataset), "--model", "a", "--model", "b.onnx", "--no-refine"]
    assert main([*args, "--out", str(out)]) == 0
    summary = (out / "summary.md").read_text()
    assert "| synthetic | a | raw | 2 |" in summary and "| synthetic | b | raw | 2 |" in summary


def test_out_inside_dataset_is_refused(dataset, fake_model, capsys):
    before = _listing(dataset)
    code = main(["eval", str(dataset), "--model", "m", "--out", str(dataset / "results")])
    assert code == 2
    assert "read-only" in capsys.readouterr().err
    assert _listing(dataset) == before


def test_not_a_dataset_and_nothing_to_score(tmp_path, fake_model, capsys):
    assert main(["eval", str(tmp_path / "nowhere"), "--out", str(tmp_path / "o")]) == 2
    assert "not a data set" in capsys.readouterr().err
    only_orphans = tmp_path / "orphans"
    _save(only_orphans / "images" / "a.png", _photo((1, 5, 1, 5)))
    assert main(["eval", str(only_orphans), "--out", str(tmp_path / "o")]) == 1
    err = capsys.readouterr().err
    assert "a.png" in err and "no images with ground-truth alpha" in err


def test_unreadable_sample_is_skipped_not_fatal(dataset, tmp_path, fake_model, capsys):
    (dataset / "alpha" / "exact.png").write_bytes(b"not a png")
    out = tmp_path / "out"
    assert main(["eval", str(dataset), "--model", "m", "--no-refine", "--out", str(out)]) == 0
    assert [r["stem"] for r in _rows(out)] == ["short"]
    assert "exact" in capsys.readouterr().err
    assert "exact" in (out / "summary.md").read_text()


def test_summary_mean_median_failures_and_all_sets():
    from bgeraser_gui.core.eval_report import render_markdown, summarize

    def row(dataset, mode, sad, iou):
        metrics = {k: 0.0 for k in ("mse", "grad", "conn", "bf")}
        band = {f"band_{k}": 0.0 for k in ("iou", "sad", "mse", "grad", "conn", "bf")}
        return {"dataset": dataset, "stem": "x", "model": "m", "mode": mode, "seconds": 2.0,
                "sad": sad, "iou": iou, **metrics, **band}  # fmt: skip

    rows = [row("a", "raw", 10.0, 0.9), row("a", "raw", 20.0, 0.8), row("a", "raw", 90.0, 0.1)]
    rows += [row("b", "refined", 60.0, 0.5)]
    groups = {(s.dataset, s.mode): s for s in summarize(rows)}
    a = groups[("a", "raw")]
    assert a.count == 3 and a.sad_failures == 1
    assert a.mean["sad"] == pytest.approx(40.0) and a.median["sad"] == pytest.approx(20.0)
    assert a.median["iou"] == pytest.approx(0.8) and a.seconds_mean == pytest.approx(2.0)
    assert groups[("all sets", "raw")].count == 3
    assert groups[("all sets", "refined")].sad_failures == 1
    text = render_markdown(summarize(rows), command="bgeraser-cli eval a b")
    assert "| a | m | raw | 3 | 0.600 / 0.800 | 40.00 / 20.00 |" in text
    assert "bgeraser-cli eval a b" in text
    only_a = summarize(rows[:3])
    assert [s.dataset for s in only_a] == ["a"]  # no 'all sets' repeat of a single set


def test_interrupted_run_still_reports_and_sets_are_visited_in_turns(
    dataset, tmp_path, fake_model, monkeypatch
):
    second = tmp_path / "second"
    for stem in ("p", "q"):
        _save(second / "images" / f"{stem}.png", _photo((8, 24, 10, 30)))
        _save(second / "alpha" / f"{stem}.png", _mask((8, 24, 10, 30)))
    predict = fake_model.backend.predict

    def stop_on_third(rgb, progress=None, cancel=None):
        if fake_model.backend.calls == 2:
            raise KeyboardInterrupt
        return predict(rgb, progress, cancel)

    monkeypatch.setattr(fake_model.backend, "predict", stop_on_third)
    out = tmp_path / "out"
    args = ["eval", str(dataset), str(second), "--model", "m", "--no-refine", "--out", str(out)]
    assert main(args) == 130
    # one image of each set before the stop, not two of the first set
    assert [(r["dataset"], r["stem"]) for r in _rows(out)] == [
        ("synthetic", "exact"),
        ("second", "p"),
    ]
    summary = (out / "summary.md").read_text()
    assert "Interrupted after 2 of 4 images" in summary
    assert (out / "worst_m_raw.png").exists()
    # with several sets, one sheet per set as well
    assert "second/p" in (out / "worst_m_raw_second.html").read_text()
    assert "second/p" not in (out / "worst_m_raw_synthetic.html").read_text()


@pytest.mark.slow
def test_real_model_on_one_grabcut_photo(eval_dir, isnet_fp16_path, tmp_path):
    """End to end with the real loader and ISNet weights: the first GrabCut photo (a penguin
    on rocks) is an easy subject, so a sane pipeline scores a high IoU on it."""
    out = tmp_path / "out"
    args = ["eval", str(eval_dir / "grabcut50"), "--model", str(isnet_fp16_path)]
    assert main([*args, "--no-refine", "--limit", "1", "--out", str(out)]) == 0
    (row,) = _rows(out)
    assert row["dataset"] == "grabcut50" and row["model"] == "isnet_medium_fp16"
    assert float(row["iou"]) > 0.9
    assert float(row["bf"]) > 0.8


def test_model_failing_on_one_photo_skips_it(dataset, tmp_path, fake_model, monkeypatch):
    from bgeraser_gui.core.errors import ModelError

    predict = fake_model.backend.predict

    def fail_on_first(rgb, progress=None, cancel=None):
        if fake_model.backend.calls == 0:
            fake_model.backend.calls += 1
            raise ModelError("out of memory")
        return predict(rgb, progress, cancel)

    monkeypatch.setattr(fake_model.backend, "predict", fail_on_first)
    out = tmp_path / "out"
    assert main(["eval", str(dataset), "--model", "m", "--out", str(out)]) == 0
    assert {r["stem"] for r in _rows(out)} == {"short"}
    assert "exact: prediction failed: out of memory" in (out / "summary.md").read_text()


def test_model_that_cannot_load_stops_with_one_line(dataset, tmp_path, monkeypatch, capsys):
    from bgeraser_gui.core.errors import ModelError

    def load_backend(name_or_path=None, device="auto"):
        raise ModelError(f"model file not found: {name_or_path}")

    loader = types.ModuleType("bgeraser_gui.backends.loader")
    loader.load_backend = load_backend
    monkeypatch.setitem(sys.modules, "bgeraser_gui.backends.loader", loader)
    out = tmp_path / "out"
    assert main(["eval", str(dataset), "--model", "gone.onnx", "--out", str(out)]) == 2
    assert "error: model file not found: gone.onnx" in capsys.readouterr().err


def test_eval_without_model_uses_the_installed_variant_of_the_default(
    fake_model, dataset, tmp_path, monkeypatch
):
    from bgeraser_gui.backends.model_cache import model_path
    from bgeraser_gui.backends.registry import get_spec

    monkeypatch.setenv("BGERASER_MODEL_DIR", str(tmp_path / "models"))
    installed = model_path(get_spec("isnet-general-use-fp16"))
    installed.parent.mkdir(parents=True)
    installed.write_bytes(b"placeholder: the loader is faked")
    assert main(["eval", str(dataset), "--out", str(tmp_path / "out")]) == 0
    assert {name for name, _device in fake_model.loads} == {"isnet-general-use-fp16"}
