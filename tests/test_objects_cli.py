"""`--objects each|largest` of `bgeraser-cli batch` and `cutout`: one file per object, listed
in the JSON-lines report."""

from __future__ import annotations

import argparse
import json

import numpy as np
from batch_fakes import BrightnessBackend, write_shapes
from PIL import Image

from bgeraser_gui.commands import batch

BOXES = [(10, 20, 50, 80), (70, 30, 110, 60)]  # a big and a smaller bright subject


def _run(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="bgeraser-cli")
    batch.register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["batch", *argv])
    return batch.run(args, backend_factory=BrightnessBackend)


def _alpha(path) -> np.ndarray:
    with Image.open(path) as im:
        return np.asarray(im.convert("RGBA"))[..., 3]


def test_each_object_is_its_own_cropped_file_listed_in_the_report(tmp_path):
    write_shapes(tmp_path / "in" / "two.png", BOXES, size=(120, 90))
    out, report = tmp_path / "out", tmp_path / "report.jsonl"
    argv = [str(tmp_path / "in"), "-o", str(out), "--no-refine", "-q", "--report", str(report)]
    code = _run([*argv, "--objects", "each", "--crop", "2", "--name-pattern", "{stem}"])
    assert code == 0
    assert sorted(p.name for p in out.glob("*.png")) == ["two_1.png", "two_2.png"]
    (record,) = [json.loads(line) for line in report.read_text().splitlines()]
    objects = record["objects"]
    assert [o["id"] for o in objects] == [1, 2]
    assert objects[0]["bbox"] == [10, 20, 50, 80] and objects[1]["bbox"] == [70, 30, 110, 60]
    assert objects[0]["name"] == "main subject" and objects[0]["output"].endswith("two_1.png")
    first, second = _alpha(out / "two_1.png"), _alpha(out / "two_2.png")
    assert first.shape == (60 + 4, 40 + 4) and second.shape == (30 + 4, 40 + 4)  # 2 px margin
    assert first[2:-2, 2:-2].min() == 255 and first[0].max() == 0


def test_largest_keeps_only_the_main_subject_under_the_usual_name(tmp_path):
    write_shapes(tmp_path / "in" / "two.png", BOXES, size=(120, 90))
    out = tmp_path / "out"
    assert _run([str(tmp_path / "in"), "-o", str(out), "--no-refine", "-q",
                 "--objects", "largest"]) == 0  # fmt: skip
    (written,) = list(out.glob("*.png"))
    assert written.name == "two_cutout.png"
    alpha = _alpha(written)
    assert alpha[20:80, 10:50].min() == 255 and alpha[30:60, 70:110].max() == 0


def test_resume_skips_photos_whose_objects_are_all_written(tmp_path):
    write_shapes(tmp_path / "in" / "two.png", BOXES, size=(120, 90))
    write_shapes(tmp_path / "in" / "one.png", BOXES[:1], size=(120, 90))
    write_shapes(tmp_path / "in" / "none.png", [], size=(120, 90))  # no subject: empty `_1`
    out, report = tmp_path / "out", tmp_path / "report.jsonl"
    argv = [str(tmp_path / "in"), "-o", str(out), "--no-refine", "-q", "--objects", "each",
            "--name-pattern", "{stem}"]  # fmt: skip
    assert _run(argv) == 0
    names = ["none_1.png", "one_1.png", "two_1.png", "two_2.png"]
    assert _alpha(out / "none_1.png").max() == 0
    assert sorted(p.name for p in out.glob("*.png")) == names
    before = {p.name: p.stat().st_mtime_ns for p in out.glob("*.png")}
    (out / "one_1.png").unlink()  # as if the run had stopped before "one" was done
    assert _run([*argv, "--resume", "--report", str(report)]) == 0
    assert sorted(p.name for p in out.glob("*.png")) == names  # nothing numbered or lost
    after = {p.name: p.stat().st_mtime_ns for p in out.glob("*.png")}
    for name in ("none_1.png", "two_1.png", "two_2.png"):
        assert after[name] == before[name], name
    records = {json.loads(line)["input"].rsplit("/", 1)[-1]: json.loads(line)
               for line in report.read_text().splitlines()}  # fmt: skip
    assert records["two.png"]["status"] != records["one.png"]["status"]
