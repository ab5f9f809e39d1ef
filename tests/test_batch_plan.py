"""Batch planning: input collection, output naming, resume validity, JSON-lines report."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest
from batch_fakes import write_photo
from PIL import Image

from bgeraser_gui.core.batch_plan import (
    BatchJob,
    BatchSummary,
    ReportRecord,
    ReportWriter,
    collect_jobs,
    is_uri,
    planned_output,
)
from bgeraser_gui.core.batch_resume import expected_output_size, output_is_complete, split_resumable
from bgeraser_gui.core.compose import ExportOptions
from bgeraser_gui.core.output_ledger import record_output


@pytest.fixture
def tree(tmp_path):
    root = tmp_path / "in"
    write_photo(root / "a.jpg")
    write_photo(root / "b.png")
    write_photo(root / "sub" / "a.jpg")
    (root / "notes.txt").write_text("not an image")
    (root / ".hidden.jpg").write_bytes(b"x")
    return root


def test_collect_non_recursive_takes_only_top_level_images(tree, tmp_path):
    jobs = collect_jobs([tree], tmp_path / "out", recursive=False)
    assert [j.name for j in jobs] == ["a.jpg", "b.png"]
    assert all(j.out_dir == str(tmp_path / "out") for j in jobs)


def test_collect_recursive_mirrors_subfolders(tree, tmp_path):
    jobs = collect_jobs([tree], tmp_path / "out", recursive=True)
    by_name = {j.name: j for j in jobs}
    assert set(by_name) == {"a.jpg", "b.png", "sub/a.jpg"}
    assert by_name["sub/a.jpg"].out_dir == str(tmp_path / "out" / "sub")
    outputs = {planned_output(j, ExportOptions()) for j in jobs}
    assert len(outputs) == 3  # the two a.jpg never collide


def test_same_name_in_two_roots_goes_to_a_root_subfolder(tmp_path):
    write_photo(tmp_path / "day1" / "img.jpg")
    write_photo(tmp_path / "day2" / "img.jpg")
    write_photo(tmp_path / "day2" / "img.png")
    jobs = collect_jobs([tmp_path / "day1", tmp_path / "day2"], tmp_path / "out", recursive=False)
    outputs = [planned_output(j, ExportOptions()) for j in jobs]
    assert len(set(outputs)) == 3
    assert outputs[0] == str(tmp_path / "out" / "img_cutout.png")
    assert str(tmp_path / "out" / "day2") in outputs[1]


def test_single_files_and_duplicates(tree, tmp_path):
    jobs = collect_jobs([tree / "a.jpg", tree / "a.jpg"], tmp_path / "out", recursive=True)
    assert len(jobs) == 1


def test_missing_input_is_a_clear_error(tmp_path):
    with pytest.raises(Exception, match="no such file"):
        collect_jobs([tmp_path / "nope"], tmp_path / "out", recursive=True)


def test_planned_output_follows_pattern_and_format(tmp_path):
    job = BatchJob(str(tmp_path / "cat.jpg"), str(tmp_path / "o"), "cat.jpg")
    options = ExportOptions(format="webp", name_pattern="cut-{stem}")
    assert planned_output(job, options) == str(tmp_path / "o" / "cut-cat.webp")
    uri_job = BatchJob("memory://in/cat.jpg", "memory://out/x", "cat.jpg")
    assert planned_output(uri_job, ExportOptions()) == "memory://out/x/cat_cutout.png"


def test_is_uri():
    assert is_uri("s3://bucket/x") and is_uri("memory://a")
    assert not is_uri("/tmp/x") and not is_uri(r"C:\photos") and not is_uri("C://x")


def test_expected_output_size():
    assert expected_output_size((400, 300), ExportOptions()) == (400, 300)
    assert expected_output_size((400, 300), ExportOptions(resize_long_side=200)) == (200, 150)
    assert expected_output_size((400, 300), ExportOptions(resize_long_side=800)) == (800, 600)
    assert expected_output_size((400, 300), ExportOptions(crop_to_subject=True)) is None


def _job_with_output(tmp_path, size=(64, 48), out_size=(64, 48)):
    src = write_photo(tmp_path / "in" / "p.jpg", size=size)
    job = BatchJob(str(src), str(tmp_path / "out"), "p.jpg")
    out = tmp_path / "out" / "p_cutout.png"
    out.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGBA", out_size, (1, 2, 3, 4)).save(out)
    record_output(out, out)  # as an export does: the ledger proves it is ours
    return job, out


def test_complete_output_is_valid(tmp_path):
    job, out = _job_with_output(tmp_path)
    assert output_is_complete(job, str(out), ExportOptions())


def test_truncated_output_is_not_complete(tmp_path):
    job, out = _job_with_output(tmp_path)
    data = out.read_bytes()
    out.write_bytes(data[: len(data) // 2])
    assert not output_is_complete(job, str(out), ExportOptions())


def test_wrong_size_output_is_not_complete(tmp_path):
    job, out = _job_with_output(tmp_path, out_size=(32, 24))
    assert not output_is_complete(job, str(out), ExportOptions())
    assert output_is_complete(job, str(out), ExportOptions(resize_long_side=32))


def test_split_resumable(tmp_path):
    job, _out = _job_with_output(tmp_path)
    other = BatchJob(str(write_photo(tmp_path / "in" / "q.jpg")), str(tmp_path / "out"), "q.jpg")
    todo, done = split_resumable([job, other], ExportOptions())
    assert todo == [other]
    assert [j for j, _ in done] == [job]
    broken = tmp_path / "out" / "q_cutout.png"
    Image.new("RGBA", (5, 5)).save(broken)
    record_output(broken, broken)  # ours, but not what this job makes (other options)
    todo, done = split_resumable([job, other], ExportOptions())
    assert todo == [replace(other, replace_output=str(broken))]  # ours: overwrite in place
    assert [j for j, _ in done] == [job]
    broken.write_bytes(b"\x89PNG truncated")  # no longer what we wrote: not ours to replace
    todo, _done = split_resumable([job, other], ExportOptions())
    assert todo == [other]


def test_report_lines_round_trip(tmp_path):
    report = tmp_path / "r" / "report.jsonl"
    records = [
        ReportRecord("a.jpg", "a_cutout.png", "ok", 1.25),
        ReportRecord("b.jpg", None, "failed", 0.1, "b.jpg: not an image"),
    ]
    with ReportWriter(report) as writer:
        for r in records:
            writer.write(r)
    lines = report.read_text(encoding="utf-8").splitlines()
    assert [ReportRecord.from_json(line) for line in lines] == records
    keys = {"input", "output", "status", "seconds", "error", "review_score"}
    assert set(json.loads(lines[1])) == keys
    old_line = '{"input": "c.jpg", "output": null, "status": "ok", "seconds": 1, "error": null}'
    assert ReportRecord.from_json(old_line).review_score is None  # reports from before


def test_summary_counts():
    summary = BatchSummary()
    for status in ("ok", "ok", "failed", "skipped", "cancelled"):
        summary.add(ReportRecord("x", None, status, 0.0))
    assert (summary.ok, summary.failed, summary.skipped, summary.cancelled) == (2, 1, 1, 1)


def test_collect_from_memory_uri(tmp_path):
    fsspec = pytest.importorskip("fsspec")
    fs = fsspec.filesystem("memory")
    src = write_photo(tmp_path / "x.jpg")
    fs.pipe("/plan-test/in/x.jpg", src.read_bytes())
    fs.pipe("/plan-test/in/deep/y.jpg", src.read_bytes())
    fs.pipe("/plan-test/in/readme.md", b"hi")
    jobs = collect_jobs(["memory://plan-test/in"], "memory://plan-test/out", recursive=True)
    assert [j.source for j in jobs] == [
        "memory://plan-test/in/deep/y.jpg",
        "memory://plan-test/in/x.jpg",
    ]
    assert jobs[0].out_dir == "memory://plan-test/out/deep"
