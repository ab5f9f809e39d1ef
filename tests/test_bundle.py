"""Self-check of the built one-folder app (packaging/dist/bgeraser/, made by packaging/build.sh).

Skipped when the bundle has not been built. Runs the bundle's own executables the way a user
would: versions, a headless cutout of one real photo with a model file imported into a fresh
per-user cache, and a short start of the editor on Qt's offscreen platform.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import bgeraser_gui

REPO = Path(__file__).resolve().parents[1]
BUNDLE = Path(os.environ.get("BGERASER_BUNDLE", REPO / "packaging" / "dist" / "bgeraser"))
EXE_SUFFIX = ".exe" if sys.platform == "win32" else ""
GUI = BUNDLE / f"bgeraser{EXE_SUFFIX}"
CLI = BUNDLE / f"bgeraser-cli{EXE_SUFFIX}"

pytestmark = pytest.mark.skipif(
    not (GUI.is_file() and CLI.is_file()),
    reason=f"bundle not built (bash packaging/build.sh makes {BUNDLE})",
)


def _env(tmp_path: Path) -> dict[str, str]:
    """A user environment: no display, our own model cache, nothing from the dev venv."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "QT_", "VIRTUAL"))}
    env.pop("DISPLAY", None)
    env.pop("WAYLAND_DISPLAY", None)
    env["BGERASER_MODEL_DIR"] = str(tmp_path / "models")
    env["HOME"] = str(tmp_path / "home")
    env.setdefault("NUMBA_CACHE_DIR", str(tmp_path / "numba"))
    return env


def _run(args: list[str], env: dict[str, str], timeout: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(a) for a in args], env=env, capture_output=True, text=True, timeout=timeout
    )


def test_bundle_versions_match_the_package(tmp_path):
    env = _env(tmp_path)
    for exe in (GUI, CLI):
        result = _run([exe, "--version"], env, timeout=120)
        assert result.returncode == 0, result.stderr
        assert result.stdout.split() == ["bgeraser", bgeraser_gui.__version__], exe.name


def test_bundle_ships_no_models_and_no_torchvision():
    assert not [p for p in BUNDLE.rglob("*") if p.suffix in {".onnx", ".pth", ".safetensors"}]
    assert not [p for p in BUNDLE.rglob("torchvision") if p.is_dir()]
    # the resources travel inside the package, found through importlib.resources
    assert any(BUNDLE.rglob("bgeraser_gui/resources/icons/tools/keep.svg"))


def test_bundle_cuts_out_a_photo_with_an_imported_model(tmp_path, isnet_fp16_path, perf_dir):
    env = _env(tmp_path)
    photo = perf_dir / "alpaca_650x434.jpg"

    imported = _run(
        [CLI, "models", "import", isnet_fp16_path, "--name", "bundle-check", "--like",
         "isnet-general-use"],
        env,
    )  # fmt: skip
    assert imported.returncode == 0, imported.stdout + imported.stderr
    installed = list((tmp_path / "models").rglob("*.onnx"))
    assert [p.stat().st_size for p in installed] == [isnet_fp16_path.stat().st_size]

    out_dir = tmp_path / "out"
    result = _run([CLI, "cutout", photo, "-o", out_dir, "--model", "bundle-check", "-q"], env)
    assert result.returncode == 0, result.stdout + result.stderr
    outputs = list(out_dir.glob("*.png"))
    assert len(outputs) == 1, result.stdout + result.stderr
    with Image.open(outputs[0]) as cutout:
        assert cutout.mode == "RGBA"
        assert cutout.size == (650, 434)
        alpha = np.asarray(cutout)[:, :, 3]
    # a real cutout: clear background, solid subject, soft edge between them
    assert (alpha == 0).mean() > 0.2
    assert (alpha == 255).mean() > 0.1
    assert ((alpha > 0) & (alpha < 255)).any()

    # both inference engines work inside the bundle and find the same subject
    masks = {}
    for runtime in ("torch", "onnxruntime"):
        mask_dir = tmp_path / f"mask-{runtime}"
        args = [CLI, "cutout", photo, "-o", mask_dir, "--model", "bundle-check", "-q"]
        result = _run([*args, "--runtime", runtime, "--no-refine", "--mask-only"], env)
        assert result.returncode == 0, runtime + ": " + result.stdout + result.stderr
        (mask_file,) = mask_dir.glob("*.png")
        with Image.open(mask_file) as mask:
            masks[runtime] = np.asarray(mask.convert("L")) >= 128
    union = (masks["torch"] | masks["onnxruntime"]).sum()
    assert union > 0
    assert (masks["torch"] & masks["onnxruntime"]).sum() / union > 0.97


def test_bundle_editor_starts_offscreen(tmp_path):
    env = _env(tmp_path)
    env["QT_QPA_PLATFORM"] = "offscreen"
    settings = tmp_path / "settings.ini"
    proc = subprocess.Popen(
        [str(GUI), "--no-warm-up", "--settings", str(settings)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.5)
        crashed = proc.poll() is not None
    finally:
        proc.terminate()
        try:
            _, stderr = proc.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            _, stderr = proc.communicate()
    assert not crashed, f"the editor exited with {proc.returncode}: {stderr[-3000:]}"
    assert "Traceback" not in stderr, stderr[-3000:]
