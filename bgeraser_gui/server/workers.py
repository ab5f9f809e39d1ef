"""The inference side of the server: a bounded queue, and N dispatcher threads that each feed
one worker process (`processes.WorkerProcess`: one model per process, off the event loop).

Each worker process builds its pipeline with `assemble.build_pipeline` from the server's spec
and loads (and warms up) its model before the server accepts requests. The queue holds at most
`max_queue` waiting jobs: `submit` raises `QueueFull` beyond that, so memory never grows with
the load. Every job carries a cancel token that its dispatcher passes on to the process (the
model and the matting poll it; a process that does not stop is replaced); `close` finishes what
runs within a grace period and cancels the rest.
"""

from __future__ import annotations

import logging
import math
import queue
import threading
import time
from concurrent.futures import Future
from dataclasses import dataclass, field

from bgeraser_gui.assemble import PipelineSpec
from bgeraser_gui.core.errors import Cancelled
from bgeraser_gui.core.progress import CancelToken
from bgeraser_gui.server.processes import Task, WorkerDied, WorkerProcess

log = logging.getLogger("bgeraser.server")

__all__ = ["Job", "QueueFull", "ShuttingDown", "Task", "WorkerPool"]


class QueueFull(Exception):
    """Every worker is busy and the queue is full; try again after `retry_after_s`."""

    def __init__(self, retry_after_s: int) -> None:
        super().__init__(f"the server is busy: try again in {retry_after_s} s")
        self.retry_after_s = retry_after_s


class ShuttingDown(Exception):
    """The server is stopping and takes no new work."""


@dataclass(eq=False)  # hashed by identity: running jobs are kept in a set
class Job:
    task: Task
    cancel: CancelToken = field(default_factory=CancelToken)
    future: Future = field(default_factory=Future)
    submitted: float = field(default_factory=time.perf_counter)


class WorkerPool:
    """`workers` worker processes, each fed by a dispatcher thread taking jobs from a queue of
    at most `max_queue` waiting jobs. A cancelled job's process gets `cancel_grace_s` to stop."""

    def __init__(
        self, spec: PipelineSpec, workers: int = 1, max_queue: int = 8, cancel_grace_s: float = 10.0
    ) -> None:
        if workers < 1:
            raise ValueError("--workers must be at least 1")
        if max_queue < 0:
            raise ValueError("--max-queue must be 0 or more")
        if cancel_grace_s < 0:
            raise ValueError("--cancel-grace must be 0 or more")
        self.spec = spec
        self.workers = workers
        self.max_queue = max_queue
        self._queue: queue.Queue[Job | None] = queue.Queue()
        self._lock = threading.Condition()
        self._waiting = 0
        self._running: set[Job] = set()
        self._closing = False  # no new jobs
        self._abandon = False  # the grace period is over: cancel instead of starting
        self._threads: list[threading.Thread] = []
        self._processes = [
            WorkerProcess(spec, f"bgeraser-worker-{index}", cancel_grace_s)
            for index in range(workers)
        ]
        self._mean_seconds = 0.0  # moving average of one job's run time, for Retry-After

    # -- life cycle --------------------------------------------------------------------------
    def start(self) -> None:
        """Start the threads; return once every worker has loaded its model (or raise the first
        loading error, after stopping the others)."""
        ready: list[Future] = []
        for index, process in enumerate(self._processes):
            loaded: Future = Future()
            thread = threading.Thread(
                target=self._serve,
                args=(process, loaded),
                name=f"bgeraser-dispatch-{index}",
                daemon=True,
            )
            thread.start()
            self._threads.append(thread)
            ready.append(loaded)
        try:
            for loaded in ready:
                loaded.result()
        except BaseException:
            self.close(grace_s=0)
            raise

    def close(self, grace_s: float = 30.0) -> int:
        """Take no new jobs; let queued and running ones finish for up to `grace_s` seconds, then
        cancel what is left. Returns how many jobs were cancelled."""
        deadline = time.monotonic() + grace_s
        with self._lock:
            self._closing = True
            while (self._waiting or self._running) and time.monotonic() < deadline:
                self._lock.wait(timeout=max(0.0, min(0.1, deadline - time.monotonic())))
            self._abandon = True
            cancelled = self._waiting + len(self._running)
            for job in self._running:
                job.cancel.cancel()
        for _ in self._threads:
            self._queue.put(None)  # behind every waiting job: each is cancelled, then it ends
        for thread in self._threads:
            thread.join(timeout=max(1.0, grace_s) + self._processes[0].cancel_grace_s)
        for process in self._processes:  # a dispatcher that never started leaves its process
            process.stop(wait_s=1.0)
        return cancelled

    # -- jobs --------------------------------------------------------------------------------
    def submit(self, task: Task) -> Job:
        job = Job(task)
        with self._lock:
            if self._closing:
                raise ShuttingDown("the server is shutting down")
            if self._waiting + len(self._running) >= self.max_queue + self.workers:
                raise QueueFull(self.retry_after_s())
            self._waiting += 1
        self._queue.put(job)
        return job

    @property
    def queue_length(self) -> int:
        """Jobs waiting for a worker."""
        with self._lock:
            return self._waiting

    @property
    def busy(self) -> int:
        """Jobs running now."""
        with self._lock:
            return len(self._running)

    def worker_pids(self) -> list[int]:
        """Process ids of the worker processes alive now."""
        return [pid for pid in (p.pid for p in self._processes) if pid is not None]

    @property
    def restarts(self) -> int:
        """Worker processes replaced since the start (died, or did not stop when cancelled)."""
        return sum(max(0, p.restarts) for p in self._processes)

    def retry_after_s(self) -> int:
        """Seconds until a slot is likely free: the queue ahead divided among the workers."""
        seconds = self._mean_seconds or 1.0
        ahead = self._waiting + len(self._running)
        return max(1, math.ceil(seconds * max(1, ahead) / self.workers))

    # -- the worker threads ------------------------------------------------------------------
    def _serve(self, process: WorkerProcess, loaded: Future) -> None:
        try:
            process.start()
        except BaseException as exc:  # noqa: BLE001 - reported to start()
            loaded.set_exception(exc)
            return
        loaded.set_result(None)
        while True:
            job = self._queue.get()
            if job is None:
                process.stop()
                return
            self._run(process, job)

    def _run(self, process: WorkerProcess, job: Job) -> None:
        with self._lock:
            self._waiting -= 1
            skip = job.cancel.cancelled or self._abandon
            if skip:
                self._lock.notify_all()
            else:
                self._running.add(job)
        if skip:
            job.future.set_exception(Cancelled("cancelled before it started"))
            return
        started = time.perf_counter()
        try:
            result = process.run(job.task, job.cancel)
        except (WorkerDied, Cancelled) as exc:
            job.future.set_exception(exc)
            if process.pid is None and not self._abandon:  # replaced now: no worker is lost
                self._restart(process)
        except BaseException as exc:  # noqa: BLE001 - every failure goes back to the request
            job.future.set_exception(exc)
        else:
            job.future.set_result(result)
        finally:
            seconds = time.perf_counter() - started
            with self._lock:
                self._running.discard(job)
                weight = 0.2 if self._mean_seconds else 1.0
                self._mean_seconds += weight * (seconds - self._mean_seconds)
                self._lock.notify_all()

    def _restart(self, process: WorkerProcess) -> None:
        log.warning("restarting %s (died, or did not stop when cancelled)", process.name)
        try:
            process.start()
        except Exception:  # noqa: BLE001 - tried again before its next job (WorkerProcess.run)
            log.exception("cannot restart %s", process.name)
