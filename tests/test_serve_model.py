"""The server runs the CLI's pipeline: with the real ISNet fp16 weights, an upload answers the
same alpha as `bgeraser-cli cutout` for the same photo and settings, bit for bit (the default
settings on /v1.0/removebg; another preset and no refinement through /api/remove's query)."""

from __future__ import annotations

import io
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from serve_process import start_server

from bgeraser_gui.cli import main as cli_main

pytestmark = pytest.mark.slow
pytest.importorskip("fastapi")
pytest.importorskip("uvicorn")


@pytest.fixture(scope="module")
def photo(tmp_path_factory, perf_dir: Path) -> Path:
    target = tmp_path_factory.mktemp("in") / "alpaca.jpg"
    shutil.copyfile(perf_dir / "alpaca_650x434.jpg", target)
    return target


def _cli_alpha(photo: Path, out: Path, *flags: str) -> np.ndarray:
    assert cli_main(["cutout", str(photo), "-o", str(out), "-q", *flags]) == 0
    with Image.open(out / "alpaca_cutout.png") as im:
        return np.asarray(im.getchannel("A"))


def _answer_alpha(response) -> np.ndarray:
    assert response.status_code == 200, response.text
    with Image.open(io.BytesIO(response.content)) as im:
        assert im.mode == "RGBA"
        return np.asarray(im.getchannel("A"))


def test_server_alpha_equals_cli_cutout(tmp_path, photo, isnet_fp16_path):
    model = ["--model", str(isnet_fp16_path)]
    server = start_server(tmp_path, model)
    try:
        with open(photo, "rb") as handle:
            served = server.client.post("/v1.0/removebg", files={"image_file": handle})
        fast = server.client.post(
            "/api/remove", params={"quality": "fast", "refine": "false"}, content=photo.read_bytes()
        )
    finally:
        assert server.stop() in (0, -15), server.output()
    reference = _cli_alpha(photo, tmp_path / "cli", *model)
    assert 0.05 < (reference > 127).mean() < 0.95  # a real cutout
    assert np.array_equal(_answer_alpha(served), reference)
    fast_reference = _cli_alpha(
        photo, tmp_path / "fast", *model, "--quality", "fast", "--no-refine"
    )
    assert np.array_equal(_answer_alpha(fast), fast_reference)
    assert not np.array_equal(fast_reference, reference)
