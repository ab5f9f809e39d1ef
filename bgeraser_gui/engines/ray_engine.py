"""Run batch jobs over a Ray cluster: one actor per worker, each loading the model once.

Locally (no address) a private Ray instance with exactly `workers` CPUs is started, bound to
the loopback interface, and shut down afterwards. With `address` ("auto", "ray://head:10001", "10.0.0.5:6379") the jobs go
to an existing cluster; every node then needs bgeraser installed and must see the inputs
and outputs under the same paths, or use URIs on shared storage (s3://, gs://, ...).
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
from collections.abc import Iterable, Iterator

from bgeraser_gui.assemble import PipelineSpec, build_pipeline
from bgeraser_gui.backends.ort_backend import prefer_throughput
from bgeraser_gui.core.batch_plan import STATUS_CANCELLED, STATUS_FAILED, BatchJob, ReportRecord
from bgeraser_gui.core.errors import BgEraserError
from bgeraser_gui.core.progress import CancelToken
from bgeraser_gui.engines.job import MODEL_LOAD_FAILED, run_job

CPUS_PER_WORKER = 1
# Ray has no authentication: a local instance must not listen on the network (docs/scaling.md
# says how to run a secured cluster).
LOOPBACK = "127.0.0.1"
# Ray replaces a loopback node address by the machine's network address (and its servers
# listen there) unless it thinks multi-node clusters are unsupported, as on macOS/Windows.
# This switch, in our process and inherited by the Ray processes it starts, keeps a local
# instance on loopback.
_RAY_CLUSTER_SWITCH = "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"


@contextlib.contextmanager
def _loopback_only():
    """While active, a Ray instance started here binds and advertises 127.0.0.1 only."""
    try:
        from ray._private import ray_constants
    except ImportError:  # pragma: no cover - another Ray layout: the env var still applies
        ray_constants = None
    saved_env = os.environ.get(_RAY_CLUSTER_SWITCH)
    saved = getattr(ray_constants, "ENABLE_RAY_CLUSTER", None)
    os.environ[_RAY_CLUSTER_SWITCH] = "0"
    if saved is not None:
        ray_constants.ENABLE_RAY_CLUSTER = False
    try:
        yield
    finally:
        if saved is not None:
            ray_constants.ENABLE_RAY_CLUSTER = saved
        if saved_env is None:
            os.environ.pop(_RAY_CLUSTER_SWITCH, None)
        else:
            os.environ[_RAY_CLUSTER_SWITCH] = saved_env


class _PipelineWorker:
    """Body of the Ray actor: builds the pipeline once, then processes job after job."""

    def __init__(self, spec: PipelineSpec) -> None:
        self.error: str | None = None
        prefer_throughput()  # an actor runs photo after photo
        try:
            self.pipeline = build_pipeline(spec)
            self.pipeline.load()
        except Exception as exc:  # noqa: BLE001 - reported per job instead of killing the actor
            self.pipeline = None
            self.error = f"{MODEL_LOAD_FAILED}: {exc}"

    def process(self, job: BatchJob) -> ReportRecord:
        if self.pipeline is None:
            return ReportRecord(job.source, None, STATUS_FAILED, 0.0, self.error)
        return run_job(self.pipeline, job)


def _import_ray():
    try:
        import ray
    except ImportError as exc:
        raise BgEraserError("--engine ray needs Ray: pip install 'bgeraser-gui[ray]'") from exc
    return ray


class RayEngine:
    def __init__(
        self,
        spec: PipelineSpec,
        workers: int = 1,
        address: str | None = None,
        cpus_per_worker: float = CPUS_PER_WORKER,
        gpus_per_worker: float = 0,
        runtime_env: dict | None = None,
    ) -> None:
        if workers < 1:
            raise ValueError("workers must be >= 1")
        if spec.torch_threads is None:  # each actor uses the CPUs Ray reserved for it
            spec = dataclasses.replace(spec, torch_threads=max(1, int(cpus_per_worker)))
        self.spec = spec
        self.workers = workers
        self.address = address
        self.cpus_per_worker = cpus_per_worker
        self.gpus_per_worker = gpus_per_worker
        self.runtime_env = runtime_env  # e.g. {"env_vars": {...}} or {"pip": [...]} for clusters

    def _init(self, ray) -> bool:
        """Connect or start Ray; True when we started it (and so must shut it down)."""
        if ray.is_initialized():
            return False
        try:
            if self.address:
                ray.init(address=self.address, log_to_driver=False, runtime_env=self.runtime_env)
            else:
                ray.init(  # private, on this machine: reachable from this machine only
                    num_cpus=int(max(1, self.workers * self.cpus_per_worker)),
                    _node_ip_address=LOOPBACK,
                    include_dashboard=False,
                    log_to_driver=False,
                    runtime_env=self.runtime_env,
                )
        except Exception as exc:  # noqa: BLE001 - connection errors come in many types
            where = self.address or "a local instance"
            raise BgEraserError(f"cannot start Ray ({where}): {exc}") from exc
        return True

    def run(
        self, jobs: Iterable[BatchJob], cancel: CancelToken | None = None
    ) -> Iterator[ReportRecord]:
        """Yield one record per job as it finishes; after `cancel`, the rest come back cancelled."""
        cancel = cancel or CancelToken()
        pending = list(jobs)
        if not pending:
            return
        ray = _import_ray()
        with contextlib.ExitStack() as stack:
            if not self.address and not ray.is_initialized():
                stack.enter_context(_loopback_only())
            started_here = self._init(ray)
            try:
                yield from self._dispatch(ray, pending, cancel)
            finally:
                if started_here:
                    ray.shutdown()

    def _dispatch(
        self, ray, pending: list[BatchJob], cancel: CancelToken
    ) -> Iterator[ReportRecord]:
        worker_cls = ray.remote(num_cpus=self.cpus_per_worker, num_gpus=self.gpus_per_worker)(
            _PipelineWorker
        )
        spec_ref = ray.put(self.spec)
        actors = [worker_cls.remote(spec_ref) for _ in range(min(self.workers, len(pending)))]
        queue = iter(pending)
        in_flight: dict = {}  # object ref -> (actor, job)

        def submit(actor) -> None:
            job = next(queue, None)
            if job is not None:
                in_flight[actor.process.remote(job)] = (actor, job)

        for actor in actors:
            submit(actor)
        while in_flight:
            ready, _ = ray.wait(list(in_flight), num_returns=1)
            ref = ready[0]
            actor, job = in_flight.pop(ref)
            try:
                yield ray.get(ref)
            except Exception as exc:  # noqa: BLE001 - an actor died: report and replace it
                yield ReportRecord(job.source, None, STATUS_FAILED, 0.0, f"{job.name}: {exc}")
                actor = worker_cls.remote(spec_ref)
            if not cancel.cancelled:
                submit(actor)
        for job in queue:  # never started
            yield ReportRecord(job.source, None, STATUS_CANCELLED, 0.0, None)
        for actor in actors:
            ray.kill(actor)
