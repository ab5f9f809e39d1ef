"""Worker services: results on the UI thread, latest request wins, cancel, errors, warm-up."""

from __future__ import annotations

import threading

import numpy as np
import pytest
from app_fakes import GatedBackend

pytest.importorskip("pytestqt")


def test_job_runs_on_a_pool_thread_and_reports_on_the_ui_thread(qtbot):
    from bgeraser_gui.services.worker import JobRunner

    runner = JobRunner()
    seen = {}

    def job(progress, cancel):
        seen["worker"] = threading.get_ident()
        progress(1.0, "done")
        return 42

    received = []
    runner.finished.connect(lambda _id, value: received.append((value, threading.get_ident())))
    with qtbot.waitSignal(runner.finished):
        job_id = runner.submit(job)
    assert received == [(42, threading.get_ident())]
    assert seen["worker"] != threading.get_ident()
    assert job_id == 1 and not runner.busy


def test_latest_request_wins_and_older_jobs_are_cancelled(qtbot):
    from bgeraser_gui.services.worker import JobRunner

    runner = JobRunner()
    first_started, release_first = threading.Event(), threading.Event()
    first_token = {}

    def first(progress, cancel):
        first_token["t"] = cancel
        first_started.set()
        release_first.wait(5)
        return "old"

    results = []
    runner.finished.connect(lambda job_id, value: results.append((job_id, value)))
    old_id = runner.submit(first)
    assert first_started.wait(5)
    with qtbot.waitSignal(runner.finished):
        new_id = runner.submit(lambda progress, cancel: "new")
    assert first_token["t"].cancelled
    release_first.set()
    assert runner.wait(5000)
    qtbot.wait(20)
    assert results == [(new_id, "new")] and old_id != new_id


def test_cancel_and_errors_are_reported_not_raised(qtbot):
    from bgeraser_gui.core.errors import ModelError
    from bgeraser_gui.services.worker import JobRunner

    runner = JobRunner()
    started = threading.Event()

    def slow(progress, cancel):
        started.set()
        while True:
            cancel.check()
            threading.Event().wait(0.005)

    runner.submit(slow)
    assert started.wait(5)
    with qtbot.waitSignal(runner.cancelled):
        assert runner.cancel()
    assert not runner.busy and not runner.cancel()
    assert runner.wait(5000)

    def broken(progress, cancel):
        raise ModelError("weights are damaged")

    with qtbot.waitSignal(runner.failed) as blocker:
        runner.submit(broken)
    assert isinstance(blocker.args[1], ModelError)


def test_warm_up_and_segment_load_the_backend_once(qtbot):
    from bgeraser_gui.services.inference import InferenceService

    loads = []
    backend = GatedBackend()
    backend.release()

    def factory(name, device, progress=None):
        loads.append((name, device))
        return backend

    service = InferenceService(backend_factory=factory)
    with qtbot.waitSignal(service.backendReady):
        service.warm_up("fake", "cpu")
    rgb = np.zeros((6, 8, 3), np.uint8)
    with qtbot.waitSignal(service.runner.finished) as blocker:
        service.segment(rgb, "fake", "cpu", tag="doc")
    result = blocker.args[1]
    assert loads == [("fake", "cpu")]
    assert result.tag == "doc" and result.mask.shape == (6, 8) and result.mask.dtype == np.float32


def test_a_mask_of_the_wrong_size_is_an_error_not_a_crash(qtbot):
    from bgeraser_gui.services.inference import InferenceService

    class Wrong:
        name, device = "wrong", "cpu"

        def predict(self, rgb, progress=None, cancel=None):
            return np.zeros((3, 3), np.float32)

    service = InferenceService(backend_factory=lambda n, d, p=None: Wrong())
    with qtbot.waitSignal(service.runner.failed) as blocker:
        service.segment(np.zeros((6, 8, 3), np.uint8), "wrong", "cpu")
    assert "mask" in str(blocker.args[1])
