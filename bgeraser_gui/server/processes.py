"""Worker processes: each runs one pipeline (one model) away from the server's event loop.

The pipeline's Python and numba stages (refinement, compositing, encoding) hold the GIL for
seconds at a time; run in threads of the server process they would stall the event loop, and
with it timeouts, /health and /metrics. So every worker is a process of its own, started with
"spawn" (forking a process that runs model threads can deadlock), that loads its model once and
then runs tasks sent through a pipe. The parent keeps one `WorkerProcess` handle per worker:
`run` sends a task and waits for its answer, passing a cancel on through a shared event; a
process that does not stop within `cancel_grace_s` of the cancel, or dies (native crash, out of
memory), is replaced by a fresh one, so one bad job never takes a worker away for good.
"""

from __future__ import annotations

import contextlib
import dataclasses
import multiprocessing
import os
import pickle
import signal
import sys
import time
import traceback
from collections.abc import Callable
from typing import Any

from bgeraser_gui.assemble import PipelineSpec, build_pipeline
from bgeraser_gui.core.errors import BgEraserError, Cancelled
from bgeraser_gui.core.memory import release_free_memory
from bgeraser_gui.core.pipeline import Pipeline
from bgeraser_gui.core.process_life import die_with_parent
from bgeraser_gui.core.progress import CancelToken

# What a worker process runs: picklable (module-level classes or functions, data fields).
Task = Callable[["Worker", CancelToken], Any]
POLL_S = 0.05  # how often the parent looks for a cancel or a dead process while a task runs
EXPECTED_ERRORS = (BgEraserError, ValueError, MemoryError)  # a request's fault: no traceback


class WorkerDied(BgEraserError):
    """The worker process ended during a job (a crash in native code, killed for memory)."""


class Worker:
    """One worker's pipelines: the spec's own, and variants for a request's quality preset or
    refinement (built on first use, from the same spec; the loader shares the network)."""

    def __init__(self, spec: PipelineSpec) -> None:
        self.spec = spec
        self._pipelines: dict[tuple[str, bool], Pipeline] = {}
        self.main = self.pipeline()

    def pipeline(self, quality: str | None = None, refine: bool | None = None) -> Pipeline:
        spec = self.spec
        key = (
            quality or spec.quality,
            spec.refine_options.enabled if refine is None else bool(refine),
        )
        if key not in self._pipelines:
            refine_options = dataclasses.replace(spec.refine_options, enabled=key[1])
            variant = dataclasses.replace(spec, quality=key[0], refine=refine_options)
            self._pipelines[key] = build_pipeline(variant)
        return self._pipelines[key]

    def warm_up(self) -> None:
        """Load the model and run everything once, so the first request is not the slow one."""
        backend = self.main.load()
        warm = getattr(backend, "warm_up", None)
        if callable(warm):
            warm()
        if self.main.refine_options.enabled:
            from bgeraser_gui.core.matting import warm_up as warm_up_matting

            warm_up_matting()


def _portable(exc: BaseException) -> BaseException:
    """`exc` if it crosses the pipe intact, else a BgEraserError that says what it was."""
    try:
        pickle.loads(pickle.dumps(exc))
        return exc
    except Exception:  # noqa: BLE001 - any exception that cannot be rebuilt in the parent
        return BgEraserError(f"{type(exc).__name__}: {exc}")


def _serve_tasks(spec: PipelineSpec, conn, cancel_event, parent_pid: int) -> None:
    """The worker process: load the model, say "ready", then run tasks until told to stop."""
    die_with_parent(parent_pid)
    # Ctrl+C reaches the whole process group, and so does a SIGTERM from systemd
    # (KillMode=control-group), `timeout` or `kill -TERM -PGID`: the server decides, workers see
    # the cancel and end when it stops them (or with it: die_with_parent).
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    try:
        worker = Worker(spec)
        worker.warm_up()
    except BaseException as exc:  # noqa: BLE001 - reported to the parent's start()
        conn.send(("error", _portable(exc)))
        return
    conn.send(("ready", os.getpid()))
    cancel = CancelToken(cancel_event)
    while True:
        try:
            task = conn.recv()
        except (EOFError, OSError):
            return
        if task is None:
            return
        try:
            answer = ("ok", task(worker, cancel))
        except BaseException as exc:  # noqa: BLE001 - every failure goes back to the request
            if not isinstance(exc, EXPECTED_ERRORS):
                traceback.print_exception(exc, file=sys.stderr)  # the server's log only
            answer = ("error", _portable(exc))
        conn.send(answer)
        del answer, task  # the image and its answer: not kept until the next job arrives
        release_free_memory()  # what this job freed in the threads' arenas goes back now


class WorkerProcess:
    """The parent's handle on one worker process (used by one dispatcher thread at a time)."""

    def __init__(self, spec: PipelineSpec, name: str, cancel_grace_s: float = 10.0) -> None:
        self.spec = spec
        self.name = name
        self.cancel_grace_s = cancel_grace_s
        self._context = multiprocessing.get_context("spawn")
        self._process = None
        self._conn = None
        self._cancel = self._context.Event()
        self.restarts = -1  # starts after the first

    @property
    def pid(self) -> int | None:
        process = self._process
        return process.pid if process is not None and process.is_alive() else None

    def start(self) -> None:
        """Start the process and return once its model is loaded (or raise why it is not)."""
        self.stop(wait_s=0)
        parent_conn, child_conn = self._context.Pipe()
        self._process = self._context.Process(
            target=_serve_tasks,
            args=(self.spec, child_conn, self._cancel, os.getpid()),
            name=self.name,
            daemon=True,
        )
        self._process.start()
        child_conn.close()  # the parent's copy: a dead child then reads as EOF
        self._conn = parent_conn
        self.restarts += 1
        try:
            status, value = parent_conn.recv()
        except (EOFError, OSError):
            code = self._process.exitcode
            raise WorkerDied(f"the worker process ended while loading (exit code {code})") from None
        if status == "error":
            self.stop(wait_s=0)
            raise value

    def run(self, task: Task, cancel: CancelToken) -> Any:
        """Run `task` in the process and return its result (or raise its exception). A cancel
        is passed on; a process still busy `cancel_grace_s` later is killed (`Cancelled`), one
        that dies raises `WorkerDied`: either way, call `start()` before the next task."""
        if self._conn is None:
            self.start()
        self._cancel.clear()
        self._conn.send(task)
        cancelled_at = None
        while True:
            try:
                if self._conn.poll(POLL_S):
                    status, value = self._conn.recv()
                    if status == "error":
                        raise value
                    return value
            except (EOFError, OSError):
                self.stop(wait_s=0)
                raise WorkerDied("the worker process ended during the job") from None
            if not self._process.is_alive():
                self.stop(wait_s=0)
                raise WorkerDied("the worker process ended during the job")
            if cancel.cancelled and cancelled_at is None:
                self._cancel.set()
                cancelled_at = time.monotonic()
            if cancelled_at is not None and time.monotonic() - cancelled_at > self.cancel_grace_s:
                self.stop(wait_s=0)
                raise Cancelled(f"the job did not stop within {self.cancel_grace_s:g} s: restarted")

    def stop(self, wait_s: float = 5.0) -> None:
        """Ask the process to end after its task; kill it if it has not within `wait_s`."""
        process, conn = self._process, self._conn
        self._process = self._conn = None
        if conn is not None:
            with contextlib.suppress(OSError, ValueError):  # already gone
                conn.send(None)
        if process is not None:
            process.join(wait_s)
            if process.is_alive():
                process.kill()
                process.join(5)
        if conn is not None:
            conn.close()
