"""Issue 19 (3, 9): progress never looks hung; status messages never overlap the hint."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtWidgets import QMainWindow

from bgeraser_gui.core import kernel_cache, matting
from bgeraser_gui.gui.status import STALL_S, StatusPanel
from bgeraser_gui.services.worker import JobRunner

pytest.importorskip("pytestqt")


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def _panel(qtbot) -> tuple[QMainWindow, StatusPanel, Clock]:
    window = QMainWindow()
    qtbot.addWidget(window)
    clock = Clock()
    panel = StatusPanel(window.statusBar(), clock)
    window.resize(1100, 300)
    window.show()
    return window, panel, clock


def test_a_stage_without_progress_shows_a_busy_bar_and_its_elapsed_time(qtbot):
    _window, panel, clock = _panel(qtbot)
    panel.set_progress(0.03, "Running the model")
    assert panel.progress.maximum() == 1000 and panel.progress_label.text() == "Running the model"
    clock.now += STALL_S + 11.2
    panel.tick()
    assert panel.progress.maximum() == 0  # Qt's busy indicator, not a bar stuck at 3 %
    assert panel.progress_label.text() == "Running the model · 12 s"
    panel.set_progress(0.5, "Running the model")  # real progress again: a real bar
    assert panel.progress.maximum() == 1000 and panel.progress.value() == 500
    panel.set_progress(0.5, "Compiling the edge solver (first run only)…")
    clock.now += 3.0
    panel.tick()  # a new stage counts its own time
    assert panel.progress_label.text() == "Compiling the edge solver (first run only)… · 3 s"
    panel.finish_progress()
    assert not panel.running and panel.progress.isHidden()


def test_a_status_message_takes_the_hints_place_instead_of_overlapping_it(qtbot):
    window, panel, _clock = _panel(qtbot)
    panel.set_hint("No mask yet — Ctrl+R to find the subject")
    assert panel.hint_label.isVisible()
    window.statusBar().showMessage("Model ISNet failed: could not download model — details")
    assert panel.hint_label.isHidden()
    window.statusBar().clearMessage()
    assert panel.hint_label.isVisible()


def test_a_new_stage_message_is_never_dropped_by_the_progress_throttle(qtbot):
    runner = JobRunner()
    seen: list[str] = []
    runner.progress.connect(lambda _id, _f, message: seen.append(message))

    def job(progress, cancel):
        progress(0.0, "Refining edges…")
        progress(0.0, "Compiling the edge solver (first run only)…")  # within 50 ms

    with qtbot.waitSignal(runner.finished, timeout=5000):
        runner.submit(job)
    qtbot.waitUntil(lambda: len(seen) == 2, timeout=2000)
    assert seen == ["Refining edges…", "Compiling the edge solver (first run only)…"]
    runner.shutdown()


def test_the_first_refinement_says_it_compiles_then_only_once(monkeypatch, tmp_path):
    # a numba cache folder that was never filled by us (numba itself keeps its own)
    monkeypatch.setenv("NUMBA_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(matting._KERNELS, "ready", False)
    yy, xx = np.mgrid[0:40, 0:40]
    mask = ((yy - 20) ** 2 + (xx - 20) ** 2 < 150).astype(np.float32)
    rgb = np.dstack([mask * 200 + 20, xx * 5, yy * 5]).astype(np.uint8)
    messages: list[str] = []
    matting.refine(rgb, mask, progress=lambda _f, m: messages.append(m))
    assert messages[0] == kernel_cache.COMPILING_MESSAGE
    matting.warm_up()  # waits for the background compile, which may end after the refinement
    assert kernel_cache.cache_filled()
    messages.clear()
    matting.refine(rgb, mask, progress=lambda _f, m: messages.append(m))
    assert kernel_cache.COMPILING_MESSAGE not in messages
    monkeypatch.setattr(matting._KERNELS, "ready", False)  # a new process on a filled cache
    messages.clear()
    matting.refine(rgb, mask, progress=lambda _f, m: messages.append(m))
    assert messages[0] == kernel_cache.LOADING_MESSAGE


def test_stages_say_compiling_while_the_background_compile_runs_then_not(monkeypatch, tmp_path):
    import threading

    monkeypatch.setenv("NUMBA_CACHE_DIR", str(tmp_path))  # never filled: "compiling"
    started, release = threading.Event(), threading.Event()
    compiled_on: list[threading.Thread] = []

    def slow_compile() -> None:
        compiled_on.append(threading.current_thread())
        started.set()
        assert release.wait(10)

    warmth = kernel_cache.KernelWarmth(slow_compile)
    seen: list[str] = []
    progress = warmth.start(lambda _f, message: seen.append(message))  # returns at once
    progress(0.3, "Refining edges")
    assert seen == [kernel_cache.COMPILING_MESSAGE,
                    "Refining edges · compiling (first run only)"]  # fmt: skip
    assert started.wait(10)  # compiling on the background thread
    assert warmth.start(lambda _f, _m: None) is not None  # a second caller starts no 2nd thread
    release.set()
    warmth.ensure(lambda _f, _m: None)  # waits for the background thread
    assert warmth.ready and len(compiled_on) == 1
    assert compiled_on[0] is not threading.current_thread()
    progress(0.6, "Refining edges")
    assert seen[-1] == "Refining edges"
    assert kernel_cache.cache_filled()


def test_pymatting_parts_import_without_compiling_the_whole_package():
    import sys

    if "pymatting" in sys.modules:
        pytest.skip("pymatting was imported whole earlier in this process")
    cg = kernel_cache.pymatting_part("solver.cg")
    assert callable(cg.cg)
    assert "pymatting.alpha.estimate_alpha_sm" not in sys.modules
    assert "pymatting" not in sys.modules  # placeholders removed: `import pymatting` still
    # runs the real package __init__ (the knn / lkm / rw methods), which finds this module


def test_the_editor_s_first_ctrl_m_says_it_compiles_with_a_busy_bar_and_elapsed_time(
    qtbot, tmp_path, monkeypatch
):
    import threading

    from app_fakes import InstantBackend, make_window, write_photo
    from PySide6.QtCore import Qt

    monkeypatch.setenv("NUMBA_CACHE_DIR", str(tmp_path / "numba"))  # a fresh install
    release = threading.Event()
    real_refine = matting._refine

    def kernels_still_compiling(rgb, mask, touchups, options, progress, cancel):
        progress(0.05, "Refining edges")  # then waits, as on numba's compiler lock
        assert release.wait(20)
        return real_refine(rgb, mask, touchups, options, progress, cancel)

    monkeypatch.setattr(matting, "_KERNELS", kernel_cache.KernelWarmth(lambda: release.wait(20)))
    monkeypatch.setattr(matting, "_refine", kernels_still_compiling)
    window = make_window(qtbot, tmp_path / "s.ini", {"fake": InstantBackend()})
    window.resize(1000, 420)
    window.open_paths([write_photo(tmp_path / "a.png", 64, 48)])
    qtbot.waitUntil(lambda: window.session.document is not None)
    doc = window.session.document
    qtbot.waitUntil(lambda: doc.model_mask is not None)
    qtbot.keyClick(window.canvas, Qt.Key.Key_M, Qt.KeyboardModifier.ControlModifier)
    status = window.status
    note = "Refining edges · compiling (first run only)"
    qtbot.waitUntil(lambda: status.progress_label.text().startswith(f"{note} · "), timeout=5000)
    assert status.progress.maximum() == 0 and status.progress.isVisible()  # busy, not stuck
    qtbot.wait(100)  # the status bar lays the longer text out
    label = status.progress_label
    assert label.width() >= label.sizeHint().width()  # the elapsed time is not cut off
    assert window.statusBar().currentMessage() == ""  # no stale "Subject found" underneath
    shot = tmp_path / "first-refine-status.png"
    window.grab().save(str(shot))
    release.set()
    qtbot.waitUntil(lambda: doc.refined_alpha is not None, timeout=20_000)
    qtbot.waitUntil(lambda: status.progress.isHidden())
    assert "compiling" not in status.progress_label.text() or status.progress_label.isHidden()
