"""Test helpers for the batch tests: a small deterministic backend and photo factory.

Importable by worker processes and Ray actors (put this folder on their PYTHONPATH).
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np
from PIL import Image


class EllipseBackend:
    """Implements the SegmentationBackend Protocol: a soft ellipse in the middle of the frame."""

    name = "fake-ellipse"
    device = "cpu"

    def __init__(self) -> None:
        self.calls = 0
        self.pid = os.getpid()

    def predict(self, rgb, progress=None, cancel=None):
        if cancel is not None:
            cancel.check()
        self.calls += 1
        h, w = rgb.shape[:2]
        yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
        d = ((xx - w / 2) / (w / 3)) ** 2 + ((yy - h / 2) / (h / 3)) ** 2
        mask = np.clip((1.2 - d) / 0.4, 0.0, 1.0).astype(np.float32)
        if progress is not None:
            progress(1.0, "segmented")
        return mask


class BrightnessBackend:
    """SegmentationBackend whose subject is whatever is bright: lets tests shape each mask."""

    name = "fake-brightness"
    device = "cpu"

    def predict(self, rgb, progress=None, cancel=None):
        if cancel is not None:
            cancel.check()
        luma = rgb.astype(np.float32).mean(axis=2)
        return np.clip((luma - 100.0) / 40.0, 0.0, 1.0).astype(np.float32)


def write_shapes(path: Path, boxes, size=(120, 90), speckles: int = 0, seed: int = 0) -> Path:
    """Dark photo with bright rectangles (x0, y0, x1, y1) and optional bright specks."""
    w, h = size
    rgb = np.full((h, w, 3), 30, np.uint8)
    for x0, y0, x1, y1 in boxes:
        rgb[y0:y1, x0:x1] = 220
    rng = np.random.default_rng(seed)
    for _ in range(speckles):
        x, y = int(rng.integers(2, w - 2)), int(rng.integers(2, h - 2))
        rgb[y, x] = 220
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(rgb).save(path)
    return path


LOAD_LOG_ENV = "BGERASER_TEST_LOAD_LOG"


def make_backend() -> EllipseBackend:
    """Backend factory for PipelineSpec; records each model load when LOAD_LOG_ENV names a folder."""
    backend = EllipseBackend()
    log_dir = os.environ.get(LOAD_LOG_ENV)
    if log_dir:
        Path(log_dir, f"load-{os.getpid()}-{id(backend)}").touch()
    return backend


def write_photo(path: Path, size: tuple[int, int] = (64, 48), seed: int = 0) -> Path:
    """A small JPEG with a bright square on a textured background."""
    rng = np.random.default_rng(seed)
    w, h = size
    rgb = rng.integers(0, 80, (h, w, 3), dtype=np.uint8)
    rgb[h // 4 : 3 * h // 4, w // 4 : 3 * w // 4] = (230, 120, 40)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(rgb).save(path, quality=90)
    return path


def write_corrupt(path: Path) -> Path:
    """A file named .jpg that is not an image at all."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"\xff\xd8\xff\xe0 this is not really a jpeg" * 4)
    return path


SLOW_SECONDS_ENV = "BGERASER_TEST_SLOW_S"


class SlowBackend(EllipseBackend):
    """EllipseBackend that takes `seconds` per image, polling the cancel token like a stage."""

    name = "fake-slow"

    def __init__(self, seconds: float = 1.0) -> None:
        super().__init__()
        self.seconds = seconds

    def predict(self, rgb, progress=None, cancel=None):
        steps = max(1, int(self.seconds / 0.05))
        for _ in range(steps):
            if cancel is not None:
                cancel.check()
            time.sleep(self.seconds / steps)
        return super().predict(rgb, progress, cancel)


def make_slow_backend() -> SlowBackend:
    """Backend factory for PipelineSpec: seconds per image from SLOW_SECONDS_ENV (default 1)."""
    return SlowBackend(float(os.environ.get(SLOW_SECONDS_ENV, "1.0")))
