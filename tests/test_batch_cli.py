"""`bgeraser-cli batch` end to end with a fake backend: outputs, failures, report, resume."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import pytest
from batch_fakes import BrightnessBackend, make_backend, write_corrupt, write_photo, write_shapes
from PIL import Image

from bgeraser_gui.commands import batch
from bgeraser_gui.core.review_score import score_mask


def build_parser() -> argparse.ArgumentParser:
    """Only the batch command, the way cli.py registers it."""
    parser = argparse.ArgumentParser(prog="bgeraser-cli")
    batch.register(parser.add_subparsers(dest="command"))
    return parser


def _run(argv: list[str]) -> int:
    args = build_parser().parse_args(["batch", *argv])
    return batch.run(args, backend_factory=make_backend)


def _report(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


@pytest.fixture
def photos(tmp_path):
    root = tmp_path / "in"
    write_photo(root / "one.jpg", (80, 60), seed=1)
    write_photo(root / "two.jpg", (60, 80), seed=2)
    write_photo(root / "nested" / "three.png", (50, 50), seed=3)
    write_corrupt(root / "broken.jpg")
    return root


def test_batch_writes_cutouts_reports_failures_and_exits_1(photos, tmp_path):
    out, report = tmp_path / "out", tmp_path / "report.jsonl"
    code = _run(
        [str(photos), "-o", str(out), "--recursive", "--no-refine", "-q", "--report", str(report)]
    )
    assert code == 1  # one file failed, the others were still processed
    records = {Path(r["input"]).name: r for r in _report(report)}
    assert set(records) == {"one.jpg", "two.jpg", "three.png", "broken.jpg"}
    assert (
        records["broken.jpg"]["status"] == "failed"
        and "broken.jpg" in records["broken.jpg"]["error"]
    )
    for name, size in (("one", (80, 60)), ("two", (60, 80))):
        rec = records[f"{name}.jpg"]
        assert rec["status"] == "ok" and rec["error"] is None and rec["seconds"] >= 0
        with Image.open(rec["output"]) as im:
            assert im.mode == "RGBA" and im.size == size
            alpha = im.getchannel("A")
            assert alpha.getpixel((size[0] // 2, size[1] // 2)) == 255  # subject kept
            assert alpha.getpixel((0, 0)) == 0  # background removed
    assert Path(records["three.png"]["output"]) == out / "nested" / "three_cutout.png"


def test_all_good_exits_0_and_presets_apply(tmp_path):
    write_photo(tmp_path / "in" / "a.jpg", (120, 90))
    out = tmp_path / "out"
    argv = [str(tmp_path / "in"), "-o", str(out), "--no-refine", "-q"]
    argv += ["--format", "jpeg", "--background", "#ffffff", "--resize", "60"]
    argv += ["--name-pattern", "{stem}-white"]
    assert _run(argv) == 0
    with Image.open(out / "a-white.jpg") as im:
        assert im.mode == "RGB" and im.size == (60, 45)
        assert im.getpixel((0, 0)) == (255, 255, 255)


def test_resume_skips_complete_outputs_and_redoes_broken_ones(photos, tmp_path):
    out, report = tmp_path / "out", tmp_path / "r.jsonl"
    base = [str(photos), "-o", str(out), "--recursive", "--no-refine", "-q"]
    _run(base)
    one = out / "one_cutout.png"
    two = out / "two_cutout.png"
    # What a run killed while writing two_cutout.png leaves: no output, a stale temp file
    part = out / ".two_cutout.999999999-0123abcd.part.png"
    part.write_bytes(two.read_bytes()[:100])
    two.unlink()
    one_mtime = one.stat().st_mtime_ns
    code = _run([*base, "--resume", "--existing", "overwrite", "--report", str(report)])
    assert code == 1  # broken.jpg still fails
    records = {Path(r["input"]).name: r for r in _report(report)}
    assert records["one.jpg"]["status"] == "skipped"
    assert records["three.png"]["status"] == "skipped"
    assert records["two.jpg"]["status"] == "ok"
    assert one.stat().st_mtime_ns == one_mtime  # untouched
    with Image.open(two) as im:
        im.load()
        assert im.size == (60, 80)
    assert not list(out.glob("*-2.png"))  # nothing numbered: complete files were skipped
    assert not part.exists()  # the killed run's temp file is cleaned


def test_resume_replaces_our_output_but_keeps_a_damaged_file_it_cannot_prove_it_wrote(
    tmp_path, capsys
):
    write_photo(tmp_path / "in" / "a.jpg", (64, 48))
    out = tmp_path / "out"
    base = [str(tmp_path / "in"), "-o", str(out), "--no-refine", "-q"]
    assert _run([*base, "--resize", "32"]) == 0  # ours (the ledger says so), other settings
    target = out / "a_cutout.png"
    capsys.readouterr()
    assert _run([*base, "--resume", "--report", str(tmp_path / "1.jsonl")]) == 0
    first = _report(tmp_path / "1.jsonl")[0]
    assert first["status"] == "ok" and first["output"] == str(target)
    assert f"replacing our earlier output {target}" in capsys.readouterr().err
    assert sorted(p.name for p in out.glob("*.png")) == ["a_cutout.png"]  # no a_cutout-2.png
    with Image.open(target) as im:
        im.load()
        assert im.size == (64, 48)
    assert _run([*base, "--resume", "--report", str(tmp_path / "2.jsonl")]) == 0
    assert _report(tmp_path / "2.jsonl")[0]["status"] == "skipped"
    damaged = target.read_bytes()[:120]
    target.write_bytes(damaged)  # damaged after we wrote it: no longer provably ours
    assert _run([*base, "--resume", "--report", str(tmp_path / "3.jsonl")]) == 0
    assert _report(tmp_path / "3.jsonl")[0]["output"] == str(out / "a_cutout-2.png")
    assert target.read_bytes() == damaged


def test_resume_accepts_a_complete_numbered_copy(tmp_path):
    write_photo(tmp_path / "in" / "a.jpg", (64, 48))
    out = tmp_path / "out"
    out.mkdir()
    (out / "a_cutout.png").write_bytes(b"broken")  # an older file the number policy keeps
    base = [str(tmp_path / "in"), "-o", str(out), "--no-refine", "-q"]
    assert _run(base) == 0
    assert (out / "a_cutout-2.png").is_file()
    assert _run([*base, "--resume", "--report", str(tmp_path / "r.jsonl")]) == 0
    record = _report(tmp_path / "r.jsonl")[0]
    assert record["status"] == "skipped" and record["output"].endswith("a_cutout-2.png")
    assert not (out / "a_cutout-3.png").exists()
    assert (out / "a_cutout.png").read_bytes() == b"broken"


def test_report_has_the_review_score_of_each_written_image(tmp_path):
    write_shapes(tmp_path / "in" / "clean.png", [(40, 25, 80, 65)])
    write_shapes(tmp_path / "in" / "messy.png", [(0, 10, 70, 90)], speckles=25, seed=3)
    write_corrupt(tmp_path / "in" / "zz_broken.jpg")
    out, report = tmp_path / "out", tmp_path / "r.jsonl"
    argv = ["batch", str(tmp_path / "in"), "-o", str(out), "--no-refine", "-q"]
    argv += ["--report", str(report)]
    assert batch.run(build_parser().parse_args(argv), backend_factory=BrightnessBackend) == 1
    records = {Path(r["input"]).stem: r for r in _report(report)}
    assert records["zz_broken"]["review_score"] is None
    for name in ("clean", "messy"):
        with Image.open(records[name]["output"]) as im:
            expected = score_mask(np.asarray(im.getchannel("A"))).score
        assert records[name]["review_score"] == pytest.approx(expected, abs=1e-4)
    assert records["messy"]["review_score"] > records["clean"]["review_score"] + 0.2
    # a resumed run makes no new image, so it gives no score
    resume_args = build_parser().parse_args([*argv, "--resume"])
    assert batch.run(resume_args, backend_factory=BrightnessBackend) == 1
    resumed = [r for r in _report(report)[3:] if r["status"] == "skipped"]
    assert len(resumed) == 2 and all(r["review_score"] is None for r in resumed)


def test_two_workers_produce_the_same_outputs(photos, tmp_path):
    _run([str(photos), "-o", str(tmp_path / "a"), "--recursive", "--no-refine", "-q"])
    _run(
        [
            str(photos),
            "-o",
            str(tmp_path / "b"),
            "--recursive",
            "--no-refine",
            "-q",
            "--workers",
            "2",
        ]
    )
    files_a = sorted(p.relative_to(tmp_path / "a") for p in (tmp_path / "a").rglob("*.png"))
    files_b = sorted(p.relative_to(tmp_path / "b") for p in (tmp_path / "b").rglob("*.png"))
    assert files_a == files_b and len(files_a) == 3
    for rel in files_a:
        with Image.open(tmp_path / "a" / rel) as a, Image.open(tmp_path / "b" / rel) as b:
            assert a.tobytes() == b.tobytes()


def test_missing_model_stops_early_with_one_clear_error(tmp_path, capsys):
    for i in range(5):
        write_photo(tmp_path / "in" / f"p{i}.jpg", seed=i)
    args = build_parser().parse_args(
        ["batch", str(tmp_path / "in"), "-o", str(tmp_path / "out"), "-q"]
        + ["--model", str(tmp_path / "nope.onnx"), "--report", str(tmp_path / "r.jsonl")]
    )
    assert batch.run(args) == 1
    statuses = [r["status"] for r in _report(tmp_path / "r.jsonl")]
    assert len(statuses) == 5 and statuses[0] == "failed"
    assert statuses.count("cancelled") >= 3  # not five identical model errors
    assert "nope.onnx" in capsys.readouterr().err


def test_no_images_is_a_usage_error(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    assert _run([str(tmp_path / "empty"), "-o", str(tmp_path / "out")]) == 2
    assert "no images found" in capsys.readouterr().err


def test_bad_preset_is_a_usage_error(tmp_path, capsys):
    write_photo(tmp_path / "in" / "a.jpg")
    code = _run([str(tmp_path / "in"), "-o", str(tmp_path / "o"), "--format", "jpeg"])
    assert code == 2
    assert "background" in capsys.readouterr().err


def test_memory_uris_in_and_out(tmp_path):
    fsspec = pytest.importorskip("fsspec")
    fs = fsspec.filesystem("memory")
    fs.pipe("/cli-uri/in/a.jpg", write_photo(tmp_path / "a.jpg", (40, 30)).read_bytes())
    fs.pipe("/cli-uri/in/sub/b.jpg", write_photo(tmp_path / "b.jpg", (30, 40)).read_bytes())
    code = _run(
        ["memory://cli-uri/in", "-o", "memory://cli-uri/out", "--recursive", "--no-refine", "-q"]
    )
    assert code == 0
    with fs.open("/cli-uri/out/sub/b_cutout.png", "rb") as fh:
        im = Image.open(fh)
        im.load()
    assert im.size == (30, 40) and im.mode == "RGBA"
    assert fs.exists("/cli-uri/out/a_cutout.png")
    # resume works on URIs too: the second run writes nothing new
    assert (
        _run(["memory://cli-uri/in", "-o", "memory://cli-uri/out", "--recursive", "--resume", "-q"])
        == 0
    )
    assert not fs.exists("/cli-uri/out/a_cutout-2.png")
    # without --resume the existing-file policy applies on the remote store as well
    base = ["memory://cli-uri/in", "-o", "memory://cli-uri/out", "--no-refine", "-q"]
    assert _run(base) == 0  # default policy "number"
    assert fs.exists("/cli-uri/out/a_cutout-2.png")
    before = fs.cat("/cli-uri/out/a_cutout.png")
    assert _run([*base, "--existing", "skip"]) == 0
    assert not fs.exists("/cli-uri/out/a_cutout-3.png")
    assert fs.cat("/cli-uri/out/a_cutout.png") == before


@pytest.mark.slow
def test_real_model_batch(eval_dir, isnet_fp16_path, tmp_path):
    """The real ISNet weights through the real loader, two photos, no fake anywhere."""
    import shutil

    images = sorted((eval_dir / "davis345_sub" / "images").glob("*.jpg"))[:2]
    for image in images:
        shutil.copy(image, tmp_path / image.name)
    out, report = tmp_path / "out", tmp_path / "r.jsonl"
    args = build_parser().parse_args(
        [
            "batch",
            str(tmp_path),
            "-o",
            str(out),
            "--model",
            str(isnet_fp16_path),
            "--no-refine",
            "-q",
            "--report",
            str(report),
        ]
    )
    assert batch.run(args) == 0
    records = _report(report)
    assert [r["status"] for r in records] == ["ok", "ok"]
    for r in records:
        with Image.open(r["output"]) as im:
            alpha = im.getchannel("A")
            lo, hi = alpha.getextrema()
            assert lo == 0 and hi == 255  # a real subject and a real background
