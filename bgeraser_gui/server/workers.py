"""The inference side of the server: a bounded queue and N worker threads.

Each worker thread builds its pipeline with `assemble.build_pipeline` from the server's spec
and loads (and warms up) its model before the server accepts requests; the loader shares one
network between the threads of a process. Requests that ask for another quality preset or
refinement get a variant pipeline built from the same spec (the loader shares the network with
it too). The queue holds at most `max_queue` waiting jobs: `submit` raises `QueueFull` beyond
that, so memory never grows with the load. Every job carries a cancel token that the model and
the matting poll; `close` finishes what runs within a grace period and cancels the rest.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import queue
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any

from bgeraser_gui.assemble import PipelineSpec, build_pipeline
from bgeraser_gui.core.errors import Cancelled
from bgeraser_gui.core.pipeline import Pipeline
from bgeraser_gui.core.progress import CancelToken

log = logging.getLogger("bgeraser.server")

Task = Callable[["Worker", CancelToken], Any]  # runs on a worker thread


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


class Worker:
    """One worker thread's pipelines: the spec's own, and variants for a request's quality preset
    or refinement (built on first use, from the same spec)."""

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


class WorkerPool:
    """`workers` threads taking jobs from a queue of at most `max_queue` waiting jobs."""

    def __init__(self, spec: PipelineSpec, workers: int = 1, max_queue: int = 8) -> None:
        if workers < 1:
            raise ValueError("--workers must be at least 1")
        if max_queue < 0:
            raise ValueError("--max-queue must be 0 or more")
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
        self._mean_seconds = 0.0  # moving average of one job's run time, for Retry-After

    # -- life cycle --------------------------------------------------------------------------
    def start(self) -> None:
        """Start the threads; return once every worker has loaded its model (or raise the first
        loading error, after stopping the others)."""
        ready: list[Future] = []
        for index in range(self.workers):
            loaded: Future = Future()
            thread = threading.Thread(
                target=self._serve, args=(loaded,), name=f"bgeraser-serve-{index}", daemon=True
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
            thread.join(timeout=max(1.0, grace_s))
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

    def retry_after_s(self) -> int:
        """Seconds until a slot is likely free: the queue ahead divided among the workers."""
        seconds = self._mean_seconds or 1.0
        ahead = self._waiting + len(self._running)
        return max(1, math.ceil(seconds * max(1, ahead) / self.workers))

    # -- the worker threads ------------------------------------------------------------------
    def _serve(self, loaded: Future) -> None:
        try:
            worker = Worker(self.spec)
            worker.warm_up()
        except BaseException as exc:  # noqa: BLE001 - reported to start()
            loaded.set_exception(exc)
            return
        loaded.set_result(None)
        while True:
            job = self._queue.get()
            if job is None:
                return
            self._run(worker, job)

    def _run(self, worker: Worker, job: Job) -> None:
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
            result = job.task(worker, job.cancel)
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
