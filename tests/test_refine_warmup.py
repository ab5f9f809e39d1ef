"""The editor compiles the matting kernels in the background at start-up."""

from __future__ import annotations

import threading

from bgeraser_gui.core import matting
from bgeraser_gui.services.refine import RefineService


def test_warm_up_runs_matting_warm_up_off_the_ui_thread(qtbot, monkeypatch):
    calls = []
    monkeypatch.setattr(matting, "warm_up", lambda: calls.append(threading.current_thread()))
    service = RefineService()
    with qtbot.waitSignal(service.warmup_runner.finished, timeout=10_000):
        assert service.warm_up() is not None
    assert len(calls) == 1 and calls[0] is not threading.main_thread()
    service.shutdown()
