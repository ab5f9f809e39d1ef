"""Run heavy jobs off the UI thread with progress, cancellation and latest-request-wins.

A `JobRunner` owns one kind of job (segmentation, refinement, export). `submit(fn)` cancels the
job that is still running (through its CancelToken) and starts `fn(progress, cancel)` on a pool
thread. Only the newest job's progress and result reach the UI: results of superseded jobs are
dropped on the UI thread, so a slow old request can never overwrite a newer one.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, QThreadPool, Signal, Slot

from bgeraser_gui.core.errors import Cancelled
from bgeraser_gui.core.progress import CancelToken, ProgressFn

Job = Callable[[ProgressFn, CancelToken], Any]
PROGRESS_INTERVAL_S = 0.05


class _Bridge(QObject):
    """Lives on the UI thread; signals emitted from pool threads arrive queued."""

    progress = Signal(int, float, str)
    done = Signal(int, str, object)  # job id, "ok" | "error" | "cancelled", payload


class JobRunner(QObject):
    started = Signal(int)
    progress = Signal(int, float, str)  # job id, fraction, message
    finished = Signal(int, object)  # job id, result
    failed = Signal(int, object)  # job id, exception
    cancelled = Signal(int)
    busyChanged = Signal(bool)

    def __init__(self, parent: QObject | None = None, name: str = "job") -> None:
        super().__init__(parent)
        self.name = name
        self._pool = QThreadPool(self)
        # a superseded job may still be inside an uninterruptible call; never make the
        # newest request wait for it
        self._pool.setMaxThreadCount(4)
        self._bridge = _Bridge()
        self._bridge.progress.connect(self._on_progress)
        self._bridge.done.connect(self._on_done)
        self._lock = threading.Lock()
        self._next_id = 0
        self._current_id: int | None = None
        self._tokens: dict[int, CancelToken] = {}

    @property
    def busy(self) -> bool:
        return self._current_id is not None

    @property
    def current_id(self) -> int | None:
        return self._current_id

    def submit(self, fn: Job) -> int:
        """Start `fn(progress, cancel)`; any job still running is cancelled and superseded."""
        with self._lock:
            for token in self._tokens.values():
                token.cancel()
            self._next_id += 1
            job_id = self._next_id
            token = CancelToken()
            self._tokens[job_id] = token
        was_busy = self.busy
        self._current_id = job_id
        self._pool.start(lambda: self._run(job_id, fn, token))
        self.started.emit(job_id)
        if not was_busy:
            self.busyChanged.emit(True)
        return job_id

    def cancel(self) -> bool:
        """Cancel the running job (if any). Returns True when something was cancelled."""
        job_id = self._current_id
        if job_id is None:
            return False
        with self._lock:
            token = self._tokens.get(job_id)
        if token is not None:
            token.cancel()
        self._current_id = None
        self.cancelled.emit(job_id)
        self.busyChanged.emit(False)
        return True

    def wait(self, timeout_ms: int = -1) -> bool:
        """Block until every started job returned (for shutdown and tests)."""
        return self._pool.waitForDone(timeout_ms)

    def shutdown(self, timeout_ms: int = 5000) -> None:
        with self._lock:
            for token in self._tokens.values():
                token.cancel()
        self._current_id = None
        self._pool.waitForDone(timeout_ms)

    # -- pool thread ------------------------------------------------------------------------
    def _run(self, job_id: int, fn: Job, token: CancelToken) -> None:
        last = [0.0, ""]  # time and message of the last progress passed on

        def progress(fraction: float, message: str) -> None:
            token.check()
            now = time.monotonic()
            # a new stage's message always passes: dropping it could leave the previous
            # stage's text on screen for the whole of a long step
            if now - last[0] >= PROGRESS_INTERVAL_S or fraction >= 1.0 or message != last[1]:
                last[0], last[1] = now, message
                with contextlib.suppress(RuntimeError):  # window closed meanwhile
                    self._bridge.progress.emit(job_id, float(fraction), str(message))

        try:
            token.check()
            result = fn(progress, token)
            token.check()
        except Cancelled:
            self._deliver(job_id, "cancelled", None)
        except BaseException as exc:  # reported to the user, never raised into Qt
            self._deliver(job_id, "error", exc)
        else:
            self._deliver(job_id, "ok", result)
        finally:
            with self._lock:
                self._tokens.pop(job_id, None)

    def _deliver(self, job_id: int, outcome: str, payload: object) -> None:
        with contextlib.suppress(RuntimeError):  # window closed while the job ran
            self._bridge.done.emit(job_id, outcome, payload)

    # -- UI thread --------------------------------------------------------------------------
    @Slot(int, float, str)
    def _on_progress(self, job_id: int, fraction: float, message: str) -> None:
        if job_id == self._current_id:
            self.progress.emit(job_id, fraction, message)

    @Slot(int, str, object)
    def _on_done(self, job_id: int, outcome: str, payload: object) -> None:
        if job_id != self._current_id:
            return  # superseded or already cancelled: the newest request wins
        self._current_id = None
        if outcome == "ok":
            self.finished.emit(job_id, payload)
        elif outcome == "error":
            self.failed.emit(job_id, payload)
        else:
            self.cancelled.emit(job_id)
        self.busyChanged.emit(False)
