"""What `bgeraser-cli serve` was told: the pipeline spec and the server's limits."""

from __future__ import annotations

from dataclasses import dataclass

from bgeraser_gui.assemble import PipelineSpec

LOOPBACK_HOSTS = ("127.0.0.1", "::1", "localhost")
SPARE_CONNECTIONS = 64  # uvicorn's own (plain-text) limit: this many above --max-connections


def uvicorn_connection_limit(max_connections: int) -> int:
    """uvicorn's limit counts idle keep-alive connections too and answers plain text: set it
    well above ours (`guards.RequestLimit`, JSON) so that ours answers first."""
    return 2 * max_connections + SPARE_CONNECTIONS


@dataclass(frozen=True)
class ServerConfig:
    spec: PipelineSpec  # the same spec `bgeraser-cli cutout` builds from the same flags
    workers: int = 1  # worker processes, each with its pipeline
    max_queue: int = 8  # jobs waiting for a worker before answering 503
    api_key: str | None = None  # None: no key needed (loopback use)
    max_upload_bytes: int = 25 * 2**20  # whole request body
    request_timeout_s: float = 120.0  # queue wait + processing; then 504 and the job cancelled
    shutdown_grace_s: float = 30.0  # in-flight work may finish this long after SIGTERM
    max_connections: int = 64  # requests in progress (uploads buffered at once) before 503
    cancel_grace_s: float = (
        10.0  # a cancelled job's worker process is replaced after this (--cancel-grace)
    )
