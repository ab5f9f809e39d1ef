"""Run batch jobs on this machine: a pool of threads or processes, one pipeline per worker.

Threads share the process (the model libraries release the GIL while computing) and work as
an assembly line: each worker's photos flow through its stages (decode, segment, refine,
write) with `LANES_PER_WORKER` photos in flight and one photo per stage at a time
(core/stage_gates.py), so decoding, matting and encoding overlap the network's passes.
Processes isolate workers completely (a crash in native code loses one job, not the batch)
at the cost of one model copy each; each runs one photo at a time. Results are yielded as
jobs finish, in completion order.
"""

from __future__ import annotations

import copy
import multiprocessing
import os
import signal
import threading
from collections.abc import Iterable, Iterator
from concurrent.futures import (
    FIRST_COMPLETED,
    Executor,
    Future,
    ProcessPoolExecutor,
    ThreadPoolExecutor,
    wait,
)
from concurrent.futures.process import BrokenProcessPool

from bgeraser_gui.assemble import PipelineSpec, build_pipeline
from bgeraser_gui.backends.ort_backend import prefer_throughput
from bgeraser_gui.core.batch_plan import STATUS_CANCELLED, STATUS_FAILED, BatchJob, ReportRecord
from bgeraser_gui.core.process_life import die_with_parent
from bgeraser_gui.core.progress import CancelToken
from bgeraser_gui.core.stage_gates import STAGE_NAMES, StageGates
from bgeraser_gui.engines.job import MODEL_LOAD_FAILED, run_job

POOL_KINDS = ("thread", "process")
POLL_S = 0.2  # how often the scheduler looks at the cancel token while jobs run
# Photos in flight per thread worker: one per stage, so every stage has work while the
# slowest one runs.
LANES_PER_WORKER = len(STAGE_NAMES)

# Per-process state of a process worker: it builds its pipeline once, on first use.
_worker_spec: PipelineSpec | None = None
_worker_cancel: CancelToken | None = None
_worker_pipeline_built = None


def _worker_pipeline(spec: PipelineSpec):
    global _worker_pipeline_built
    if _worker_pipeline_built is None:
        pipeline = build_pipeline(spec)
        pipeline.load()  # a missing model fails here, once per worker, not per image
        _worker_pipeline_built = pipeline
    return _worker_pipeline_built


def _process_init(spec: PipelineSpec, cancel_event, parent_pid: int) -> None:
    global _worker_spec, _worker_cancel
    die_with_parent(parent_pid)
    # Ctrl+C reaches the whole process group: the parent decides, workers see the token.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _worker_spec = spec
    _worker_cancel = CancelToken(cancel_event)
    prefer_throughput()


def _process_run(job: BatchJob) -> ReportRecord:
    assert _worker_spec is not None
    try:
        pipeline = _worker_pipeline(_worker_spec)
    except Exception as exc:  # noqa: BLE001 - reported per job, e.g. a missing model
        return ReportRecord(job.source, None, STATUS_FAILED, 0.0, f"{MODEL_LOAD_FAILED}: {exc}")
    return run_job(pipeline, job, _worker_cancel)


class LocalEngine:
    """`workers` threads or processes on this machine, each with its own loaded pipeline."""

    def __init__(self, spec: PipelineSpec, workers: int = 1, pool: str = "thread") -> None:
        if workers < 1:
            raise ValueError("workers must be >= 1")
        if pool not in POOL_KINDS:
            raise ValueError(f"pool must be one of {', '.join(POOL_KINDS)}")
        self.spec = spec
        self.workers = workers
        self.pool = pool
        self._lanes = threading.local()  # thread pool: each thread's pipeline (its lane)
        self._lanes_lock = threading.Lock()
        self._bases: dict[int, object] = {}  # thread pool: worker index -> loaded pipeline
        self._lanes_made = 0
        self._gates = StageGates(capacity=workers)  # a run's own, with its cancel token

    @property
    def threads(self) -> int:
        """Threads of the thread pool: `LANES_PER_WORKER` lanes per worker."""
        return self.workers * LANES_PER_WORKER

    def _executor(self, cancel_event) -> Executor:
        if self.pool == "process":
            # spawn: forking a process that already runs model threads can deadlock
            return ProcessPoolExecutor(
                self.workers,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=_process_init,
                initargs=(self.spec, cancel_event, os.getpid()),
            )
        return ThreadPoolExecutor(self.threads, thread_name_prefix="bgeraser-batch")

    def _load_workers(self) -> str | None:
        """Build and load each thread worker's pipeline, once per engine (a missing model
        fails here, not per image); the error when a model cannot load."""
        previous = prefer_throughput()  # for the sessions opened here, not the process's
        try:
            for worker in range(self.workers):
                if worker not in self._bases:
                    base = build_pipeline(self.spec)
                    base.load()
                    self._bases[worker] = base
        except Exception as exc:  # noqa: BLE001 - reported per job, e.g. a missing model
            return f"{MODEL_LOAD_FAILED}: {exc}"
        finally:
            prefer_throughput(previous)
        return None

    def _lane_pipeline(self):
        """This thread's pipeline: a copy of its worker's loaded pipeline (the model is
        shared by the worker's lanes; `last_result` is the lane's own), entering the run's
        stage gates."""
        lane = getattr(self._lanes, "pipeline", None)
        if lane is None:
            with self._lanes_lock:
                worker = self._lanes_made % self.workers
                self._lanes_made += 1
            lane = copy.copy(self._bases[worker])
            lane.stages = self._gates
            self._lanes.pipeline = lane
        return lane

    def _thread_run(self, job: BatchJob, cancel: CancelToken) -> ReportRecord:
        return run_job(self._lane_pipeline(), job, cancel)

    @staticmethod
    def _all_failed(jobs: list[BatchJob], error: str, cancel: CancelToken):
        """Records for jobs no worker can run: failed, or cancelled once the caller cancels
        (e.g. after the first model error)."""
        for job in jobs:
            status = STATUS_CANCELLED if cancel.cancelled else STATUS_FAILED
            yield ReportRecord(job.source, None, status, 0.0, None if cancel.cancelled else error)

    def run(
        self, jobs: Iterable[BatchJob], cancel: CancelToken | None = None
    ) -> Iterator[ReportRecord]:
        """Yield one record per job as it finishes; after `cancel`, the rest come back cancelled.

        Cancelling (e.g. from a SIGINT handler) stops scheduling at once; queued jobs come
        back cancelled, running ones stop at their next cancel check and are reported as
        they end (written, if they were already past it), so every output is in a record.
        """
        cancel = cancel or CancelToken()
        pending_jobs = list(jobs)
        if not pending_jobs:
            return
        if self.pool == "thread":
            error = self._load_workers()
            if error is not None:
                yield from self._all_failed(pending_jobs, error, cancel)
                return
        self._gates = StageGates(capacity=self.workers, cancel=cancel)
        queue = iter(pending_jobs)
        in_flight: dict[Future, BatchJob] = {}
        broken = False
        cancel_event = (
            multiprocessing.get_context("spawn").Event() if self.pool == "process" else None
        )
        executor = self._executor(cancel_event)

        def submit_next() -> bool:
            job = next(queue, None)
            if job is None:
                return False
            if self.pool == "process":
                in_flight[executor.submit(_process_run, job)] = job
            else:
                in_flight[executor.submit(self._thread_run, job, cancel)] = job
            return True

        try:
            # Keep a short queue so cancelling stops quickly.
            ahead = 2 * self.workers if self.pool == "process" else self.threads + self.workers
            for _ in range(ahead):
                if not submit_next():
                    break
            while in_flight:
                done, _ = wait(in_flight, timeout=POLL_S, return_when=FIRST_COMPLETED)
                if cancel.cancelled:
                    if cancel_event is not None:
                        cancel_event.set()
                    for future, job in list(in_flight.items()):
                        if future.cancel():  # queued, never started
                            del in_flight[future]
                            yield ReportRecord(job.source, None, STATUS_CANCELLED, 0.0, None)
                for future in done:
                    if future not in in_flight:
                        continue
                    job = in_flight.pop(future)
                    yield self._result(future, job)
                    if cancel.cancelled or broken:
                        continue
                    try:
                        submit_next()
                    except BrokenProcessPool:
                        broken = True
            for job in queue:  # never started
                if broken:
                    yield ReportRecord(job.source, None, STATUS_FAILED, 0.0, "worker pool crashed")
                else:
                    yield ReportRecord(job.source, None, STATUS_CANCELLED, 0.0, None)
        finally:
            if cancel_event is not None and in_flight:
                cancel_event.set()  # abandoned early (e.g. a second Ctrl+C): stop the workers
            executor.shutdown(wait=not in_flight, cancel_futures=True)

    @staticmethod
    def _result(future: Future, job: BatchJob) -> ReportRecord:
        try:
            return future.result()
        except BrokenProcessPool:
            return ReportRecord(job.source, None, STATUS_FAILED, 0.0, f"{job.name}: worker crashed")
        except Exception as exc:  # noqa: BLE001
            return ReportRecord(job.source, None, STATUS_FAILED, 0.0, f"{job.name}: {exc}")
