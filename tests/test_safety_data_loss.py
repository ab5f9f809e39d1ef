"""Issue 15, data loss: resume and `--existing overwrite` never replace a photo, the outputs of
one run never become inputs of the next, and a killed run leaves nothing that lasts (its
temporary files are cleaned at the next run, its process-pool workers die with it)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from batch_fakes import LOAD_LOG_ENV, SLOW_SECONDS_ENV, SlowBackend, write_photo
from PIL import Image
from safety_helpers import run_batch, run_cutout

TESTS_DIR = Path(__file__).resolve().parent


def _photo(path: Path, size=(64, 48), seed=0) -> bytes:
    write_photo(path, size, seed)
    return path.read_bytes()


def _images(folder: Path) -> list[str]:
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*.png"))


def test_resume_never_replaces_a_photo_named_like_an_output(tmp_path):
    folder = tmp_path / "shoot"
    _photo(folder / "e.jpg")
    photo = folder / "e_cutout.png"  # a photo, not an output (another size than e's cutout)
    Image.new("RGB", (40, 30), (200, 10, 10)).save(photo)
    before = photo.read_bytes()
    assert run_batch([str(folder), "-o", str(folder), "--resume", "--no-refine", "-q"]) == 0
    assert photo.read_bytes() == before
    assert (folder / "e_cutout-2.png").is_file()  # e.jpg's cutout, next to the photo


def test_outputs_of_a_run_are_not_inputs_of_the_next(tmp_path):
    folder = tmp_path / "shoot"
    _photo(folder / "a.jpg")
    _photo(folder / "sub" / "b.jpg", seed=1)
    for out in (folder / "out", folder):  # output folder inside the input, and the same
        argv = [str(folder), "-o", str(out), "--recursive", "--no-refine", "-q"]
        assert run_batch(argv) == 0
        assert run_batch(argv) == 0  # numbered copies of the two photos, nothing else
        assert run_batch([*argv, "--resume"]) == 0
        assert not [p for p in _images(folder) if "_cutout_cutout" in p]
    assert _images(folder / "out") == [
        "a_cutout-2.png",
        "a_cutout.png",
        "sub/b_cutout-2.png",
        "sub/b_cutout.png",
    ]


@pytest.mark.parametrize("command", ["cutout", "batch"])
def test_overwrite_never_replaces_another_input_of_the_run(tmp_path, monkeypatch, command):
    folder = tmp_path / "shoot"
    _photo(folder / "photo.jpg")
    png = _photo(folder / "photo.png", seed=3)
    argv = [str(folder), "-o", str(folder), "--name-pattern", "{stem}", "--existing", "overwrite"]
    argv += ["--no-refine", "-q"]
    code = run_cutout(argv, monkeypatch) if command == "cutout" else run_batch(argv)
    assert code == 1  # the refusal is a failed file, in one line
    assert (folder / "photo.png").read_bytes() == png


def test_overwrite_never_replaces_a_file_bgeraser_did_not_write(tmp_path, capsys):
    _photo(tmp_path / "in" / "a.jpg")
    out = tmp_path / "out"
    foreign = out / "a_cutout.png"
    foreign.parent.mkdir()
    Image.new("RGB", (64, 48), (1, 2, 3)).save(foreign)
    before = foreign.read_bytes()
    argv = [str(tmp_path / "in"), "-o", str(out), "--existing", "overwrite", "--no-refine", "-q"]
    assert run_batch(argv) == 1
    assert foreign.read_bytes() == before
    assert "did not write" in capsys.readouterr().err
    foreign.unlink()
    assert run_batch(argv) == 0  # ours now (ledger) ...
    assert run_batch(argv) == 0  # ... so overwriting it is allowed
    assert _images(out) == ["a_cutout.png"]


def test_resume_replaces_our_own_output_made_with_other_settings(tmp_path):
    _photo(tmp_path / "in" / "a.jpg", (64, 48))
    out = tmp_path / "out"
    base = [str(tmp_path / "in"), "-o", str(out), "--no-refine", "-q"]
    assert run_batch([*base, "--resize", "32"]) == 0
    assert run_batch([*base, "--resume"]) == 0
    assert _images(out) == ["a_cutout.png"]
    with Image.open(out / "a_cutout.png") as im:
        assert im.size == (64, 48)


# A child that runs `batch` and is killed with SIGKILL while a write is half done.
SLOW_WRITE_CHILD = """
import argparse, sys, time
from batch_fakes import make_backend
from bgeraser_gui.commands import batch
from bgeraser_gui.core import compose
def slow_save(result, tmp, image, options):
    tmp.write_bytes(b"\\x89PNG half")  # a large file on a slow disk, then killed
    time.sleep(60)
compose._save = slow_save
parser = argparse.ArgumentParser(prog="bgeraser-cli")
batch.register(parser.add_subparsers(dest="command"))
sys.exit(batch.run(parser.parse_args(["batch", *sys.argv[1:]]), backend_factory=make_backend))
"""


def _child_env(**extra: str) -> dict[str, str]:
    paths = [str(TESTS_DIR), *filter(None, [os.environ.get("PYTHONPATH")])]
    return dict(os.environ, PYTHONPATH=os.pathsep.join(paths), **extra)


def _wait_for(predicate, child: subprocess.Popen, seconds: float = 120) -> None:
    deadline = time.monotonic() + seconds
    while not predicate():
        assert child.poll() is None, child.communicate()
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_a_killed_write_leaves_a_part_file_the_next_run_removes(tmp_path):
    _photo(tmp_path / "in" / "a.jpg")
    out = tmp_path / "out"
    argv = [str(tmp_path / "in"), "-o", str(out), "--no-refine", "-q"]
    child = subprocess.Popen([sys.executable, "-c", SLOW_WRITE_CHILD, *argv], env=_child_env())
    try:
        _wait_for(lambda: any(out.glob(".*part*")), child)
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait()
    assert [p.name for p in out.iterdir() if ".part" in p.name]  # what SIGKILL leaves
    assert run_batch([*argv, "--resume"]) == 0
    assert sorted(p.name for p in out.iterdir() if not p.name.startswith(".bgeraser")) == [
        "a_cutout.png"
    ]


def make_logged_slow_backend() -> SlowBackend:
    """Backend factory for process workers: a slow backend that leaves its pid in a folder."""
    Path(os.environ[LOAD_LOG_ENV], str(os.getpid())).touch()
    return SlowBackend(float(os.environ[SLOW_SECONDS_ENV]))


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state not in ("Z", "X")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_process_pool_workers_die_when_the_parent_is_killed(tmp_path):
    for i in range(8):
        _photo(tmp_path / "in" / f"p{i}.jpg", seed=i)
    out, loads = tmp_path / "out", tmp_path / "loads"
    loads.mkdir()
    argv = [str(tmp_path / "in"), "-o", str(out), "--no-refine", "-q", "--workers", "2"]
    argv += ["--pool", "process"]
    child_code = SLOW_WRITE_CHILD.replace(
        "from batch_fakes import make_backend",
        "from test_safety_data_loss import make_logged_slow_backend as make_backend",
    ).replace("compose._save = slow_save", "")
    env = _child_env(**{SLOW_SECONDS_ENV: "1.0", LOAD_LOG_ENV: str(loads)})
    child = subprocess.Popen([sys.executable, "-c", child_code, *argv], env=env)
    try:
        _wait_for(lambda: len(list(loads.iterdir())) >= 2, child)  # both workers run a model
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait()
    workers = [int(p.name) for p in loads.iterdir()]
    deadline = time.monotonic() + 10
    while any(_alive(pid) for pid in workers) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not [pid for pid in workers if _alive(pid)]
    written = _images(out) if out.exists() else []
    time.sleep(2.5)  # a surviving worker would finish its next image in this time
    assert (_images(out) if out.exists() else []) == written
    report = tmp_path / "r.jsonl"
    assert run_batch([*argv[:4], "--resume", "--report", str(report)]) == 0
    records = [json.loads(line) for line in report.read_text().splitlines()]
    assert len(records) == 8 and len(_images(out)) == 8  # every input once, no duplicates
