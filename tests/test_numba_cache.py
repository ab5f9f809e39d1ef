"""Compiled matting kernels are cached in the per-user folder, never inside the package.

Without NUMBA_CACHE_DIR numba caches a `cache=True` kernel next to its source file, i.e. in the
installed package, which may be read-only or shared between users. The folder is chosen when a
kernel is created, so it must be set before any of our (or pymatting's) kernels exist.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from importlib.util import find_spec
from pathlib import Path

import pytest

import bgeraser_gui

PACKAGES = [Path(bgeraser_gui.__file__).parent]
if find_spec("pymatting") is not None:
    PACKAGES.append(Path(find_spec("pymatting").origin).parent)

REFINE_A_SMALL_PHOTO = textwrap.dedent(
    """
    import numpy as np
    from bgeraser_gui.core.matting import refine

    yy, xx = np.mgrid[:64, :64]
    distance = np.hypot(yy - 32, xx - 32)
    mask = np.clip((20 - distance) / 4 + 0.5, 0, 1).astype(np.float32)
    rgb = np.zeros((64, 64, 3), np.uint8)
    rgb[..., 0] = (255 * mask).astype(np.uint8)
    rgb[..., 2] = 120
    result = refine(rgb, mask)
    assert result.alpha.shape == (64, 64)
    """
)


def _cache_files(folder: Path) -> dict[Path, float]:
    return {p: p.stat().st_mtime for p in folder.rglob("*") if p.suffix in (".nbi", ".nbc")}


@pytest.mark.slow  # compiles the matting kernels into an empty cache (~5-15 s)
def test_refinement_without_numba_cache_dir_writes_nothing_inside_the_package(tmp_path):
    before = {package: _cache_files(package) for package in PACKAGES}
    env = {k: v for k, v in os.environ.items() if k != "NUMBA_CACHE_DIR"}
    env.update(
        HOME=str(tmp_path / "home"),
        XDG_CACHE_HOME=str(tmp_path / "cache"),
        LOCALAPPDATA=str(tmp_path / "localappdata"),
    )
    run = subprocess.run(
        [sys.executable, "-c", REFINE_A_SMALL_PHOTO],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert run.returncode == 0, run.stderr
    for package in PACKAGES:
        assert _cache_files(package) == before[package], f"numba wrote into {package}"
    user_cache = _cache_files(tmp_path)
    assert any("matting_tiles" in p.name for p in user_cache), sorted(user_cache)
    assert any("matting_kernels" in p.name for p in user_cache), sorted(user_cache)
    # only our fast-compiling kernels: pymatting's ichol / foreground cost ~10 s to compile
    assert not any("pymatting" in str(p) for p in user_cache), sorted(user_cache)
    assert all(tmp_path / "cache" in p.parents for p in user_cache)
