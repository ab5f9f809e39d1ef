"""Shared fixtures: real model weights, real evaluation photos, a Qt-free default env."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("BGERASER_SHARED", REPO.parent / "shared"))
MODELS_DIR = Path(os.environ.get("BGERASER_TEST_MODELS", REPO.parent / "models-cache"))
REQUIRE_REAL_DATA = os.environ.get("BGERASER_REQUIRE_MODELS") == "1"


def _need(path: Path, what: str) -> Path:
    if path.exists():
        return path
    setting = "BGERASER_SHARED" if path.is_relative_to(SHARED) else "BGERASER_TEST_MODELS"
    message = f"{what} not found: no {path.name} in {path.parent} (set {setting} to its folder)"
    if REQUIRE_REAL_DATA:
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture(scope="session")
def isnet_fp16_path() -> Path:
    """Real ISNet general-use weights (fp16 ONNX), assembled by get-isnet.sh."""
    return _need(MODELS_DIR / "isnet_medium_fp16.onnx", "ISNet fp16 weights")


@pytest.fixture(scope="session")
def isnet_quint8_path() -> Path:
    return _need(MODELS_DIR / "isnet_small_quint8.onnx", "ISNet quint8 weights")


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    return _need(SHARED, "the shared data folder")


@pytest.fixture(scope="session")
def eval_dir(shared_dir: Path) -> Path:
    return _need(shared_dir / "eval", "the evaluation photos")


@pytest.fixture(scope="session")
def perf_dir(shared_dir: Path) -> Path:
    return _need(shared_dir / "perf", "the benchmark photos")
