"""Ctrl+C on `bgeraser-cli batch`: running images stop at their next cancel check, every
written file is in the report, the rest are reported cancelled, exit status 130."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from batch_fakes import SLOW_SECONDS_ENV, write_photo

TESTS_DIR = Path(__file__).resolve().parent

# Runs `batch` in a child process with the slow fake backend (the CLI entry point itself
# loads a real model, so the command is driven the way cli.py does, with a backend factory).
CHILD = """
import argparse, sys
from batch_fakes import make_slow_backend
from bgeraser_gui.commands import batch
parser = argparse.ArgumentParser(prog="bgeraser-cli")
batch.register(parser.add_subparsers(dest="command"))
args = parser.parse_args(["batch", *sys.argv[1:]])
sys.exit(batch.run(args, backend_factory=make_slow_backend))
"""


def _report(path: Path) -> list[dict]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


@pytest.mark.parametrize("pool", ["thread", "process"])
def test_sigint_cancels_reports_every_file_and_exits_130(tmp_path, pool):
    inputs = [write_photo(tmp_path / "in" / f"p{i:02d}.jpg", seed=i) for i in range(12)]
    out, report = tmp_path / "out", tmp_path / "report.jsonl"
    paths = [str(TESTS_DIR), *filter(None, [os.environ.get("PYTHONPATH")])]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(paths))
    env[SLOW_SECONDS_ENV] = "1.5"
    argv = [str(tmp_path / "in"), "-o", str(out), "--no-refine", "-q", "--report", str(report)]
    argv += ["--workers", "2", "--pool", pool]
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, *argv],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 120
        while not _report(report) and child.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)  # wait until the first image is done, then interrupt mid-batch
        assert child.poll() is None, child.communicate()
        child.send_signal(signal.SIGINT)
        _, err = child.communicate(timeout=120)
    finally:
        if child.poll() is None:
            child.kill()
    assert child.returncode == 130, err
    records = _report(report)
    by_input = {r["input"]: r for r in records}
    assert len(records) == len(by_input) == len(inputs)  # every file exactly once
    written = {str(p) for p in out.rglob("*.png")}
    reported_ok = {r["output"] for r in records if r["status"] == "ok"}
    assert written == reported_ok  # including the images that finished after Ctrl+C
    statuses = [r["status"] for r in records]
    assert set(statuses) <= {"ok", "cancelled"}
    assert statuses.count("cancelled") >= len(inputs) - 6  # the rest were not scheduled
    assert "written" in err and "cancelled" in err  # the summary line
