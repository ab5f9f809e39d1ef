"""Issue 15, tracebacks: each of these was a traceback or a wrong count; now one line each and
the run goes on (symlink loop, report on a read-only or full disk, a bad name pattern with
--resume, one input by two spellings, two inputs with one output name)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from batch_fakes import write_photo
from PIL import Image
from safety_helpers import run_batch, run_cutout


def _no_traceback(err: str) -> None:
    assert "Traceback" not in err and "Error:" not in err.replace("error:", "")


@pytest.mark.parametrize("command", ["cutout", "batch"])
def test_a_symlink_loop_is_one_line_and_the_run_goes_on(tmp_path, monkeypatch, capsys, command):
    monkeypatch.chdir(tmp_path)
    Path("l.jpg").symlink_to("l.jpg")
    write_photo(tmp_path / "ok.jpg")
    argv = ["l.jpg", "ok.jpg", "-o", "out", "--no-refine", "-q"]
    code = run_cutout(argv, monkeypatch) if command == "cutout" else run_batch(argv)
    err = capsys.readouterr().err
    assert code == 1
    _no_traceback(err)
    assert [line for line in err.splitlines() if line.startswith("failed:")] == [
        line for line in err.splitlines() if "l.jpg" in line and line.startswith("failed:")
    ]
    assert len([line for line in err.splitlines() if "l.jpg" in line]) == 1
    assert (tmp_path / "out" / "ok_cutout.png").is_file()


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_a_report_in_a_read_only_folder_is_one_line(tmp_path, capsys):
    write_photo(tmp_path / "in" / "a.jpg")
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        argv = [str(tmp_path / "in"), "-o", str(tmp_path / "out"), "--no-refine", "-q"]
        assert run_batch([*argv, "--report", str(locked / "r.jsonl")]) == 2
    finally:
        locked.chmod(0o700)
    err = capsys.readouterr().err
    _no_traceback(err)
    assert "cannot write the report" in err


def test_a_report_that_cannot_be_opened_is_one_line(tmp_path, capsys):
    write_photo(tmp_path / "in" / "a.jpg")
    (tmp_path / "file").write_text("a file, not a folder")
    argv = [str(tmp_path / "in"), "-o", str(tmp_path / "out"), "--no-refine", "-q"]
    assert run_batch([*argv, "--report", str(tmp_path / "file" / "r.jsonl")]) == 2
    err = capsys.readouterr().err
    _no_traceback(err)
    assert len(err.strip().splitlines()) == 1 and "cannot write the report" in err


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full")
def test_a_report_on_a_full_disk_warns_once_and_the_run_goes_on(tmp_path, capsys):
    for i in range(3):
        write_photo(tmp_path / "in" / f"p{i}.jpg", seed=i)
    argv = [str(tmp_path / "in"), "-o", str(tmp_path / "out"), "--no-refine", "-q"]
    assert run_batch([*argv, "--report", "/dev/full"]) == 1
    err = capsys.readouterr().err
    _no_traceback(err)
    assert err.count("cannot write the report") == 1 and "3 written" in err
    assert len(list((tmp_path / "out").glob("*.png"))) == 3


def test_resume_with_a_path_as_name_pattern_is_one_line(tmp_path, capsys):
    write_photo(tmp_path / "in" / "a.jpg")
    argv = [str(tmp_path / "in"), "-o", str(tmp_path / "out"), "--no-refine", "-q"]
    assert run_batch([*argv, "--resume", "--name-pattern", "../x"]) == 2
    err = capsys.readouterr().err
    _no_traceback(err)
    assert len(err.strip().splitlines()) == 1 and "plain file name" in err
    assert not (tmp_path / "x.png").exists()


def test_one_input_by_two_spellings_is_processed_once(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    write_photo(tmp_path / "in" / "b.jpg")
    report = tmp_path / "r.jsonl"
    spellings = ["in/b.jpg", str(tmp_path / "in" / "b.jpg"), "in/../in/b.jpg"]
    assert run_batch([*spellings, "-o", "out", "--no-refine", "-q", "--report", str(report)]) == 0
    assert len(report.read_text().splitlines()) == 1
    assert sorted(p.name for p in (tmp_path / "out").glob("*.png")) == ["b_cutout.png"]
    assert run_cutout([*spellings, "-o", "out2", "--no-refine", "-q"], monkeypatch) == 0
    assert "1 written" in capsys.readouterr().err


def test_two_inputs_with_one_output_name_both_land(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    rgb = Image.open(write_photo(tmp_path / "x.jpg")).convert("RGB")
    rgb.save("x.gif")
    rgb.save("x.webp", lossless=True)
    argv = ["x.gif", "x.webp", "-o", "out", "--existing", "overwrite", "--no-refine", "-q"]
    assert run_cutout(argv, monkeypatch) == 0
    assert "2 written" in capsys.readouterr().err
    assert sorted(p.name for p in (tmp_path / "out").glob("*.png")) == [
        "x_cutout-2.png",
        "x_cutout.png",
    ]
    report = tmp_path / "r.jsonl"
    assert run_batch([*argv[:2], "-o", "bout", "--no-refine", "-q", "--report", str(report)]) == 0
    outputs = [json.loads(line)["output"] for line in report.read_text().splitlines()]
    assert len(set(outputs)) == 2 and all(Path(o).is_file() for o in outputs)
