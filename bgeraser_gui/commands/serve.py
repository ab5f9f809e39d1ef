"""`bgeraser-cli serve`: the cutout pipeline as an HTTP API (remove.bg-compatible).

The model and export flags are `bgeraser-cli cutout`'s, turned into the same `PipelineSpec` by
`spec_from_args`, so an answer's alpha is the CLI's for the same photo and settings. The models
load (one pipeline per worker process) before the server listens; a missing model is one message.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys

from bgeraser_gui.commands.common import add_export_options, add_model_options, fail, spec_from_args
from bgeraser_gui.core.errors import BgEraserError

API_KEY_ENV = "BGERASER_API_KEY"


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "serve",
        help="serve cutouts over HTTP (remove.bg-compatible API)",
        description="An HTTP server for background removal: POST /v1.0/removebg "
        "(remove.bg-compatible), POST /api/remove (raw image body), GET /health, GET /metrics, "
        "API docs at /docs. Listens on loopback unless --host says otherwise.",
    )
    group = parser.add_argument_group("server")
    group.add_argument("--host", default="127.0.0.1", help="address to bind (default: loopback)")
    group.add_argument("--port", type=int, default=7000)
    group.add_argument(
        "--workers",
        type=int,
        default=1,
        help="worker processes running cutouts in parallel, one model each (default: 1)",
    )
    group.add_argument(
        "--threads-per-worker",
        type=int,
        default=None,
        metavar="N",
        help="torch threads per worker (default: the CPU count divided by --workers)",
    )
    group.add_argument(
        "--api-key",
        default=None,
        help=f"require this key (X-Api-Key or Authorization: Bearer); default: ${API_KEY_ENV}",
    )
    group.add_argument(
        "--max-queue",
        type=int,
        default=8,
        help="requests waiting for a worker before the server answers 503 (default: 8)",
    )
    group.add_argument(
        "--max-upload-mb", type=float, default=25.0, help="largest request body (default: 25)"
    )
    group.add_argument(
        "--timeout", type=float, default=120.0, help="seconds per request, queue included"
    )
    group.add_argument(
        "--shutdown-grace",
        type=float,
        default=30.0,
        help="seconds in-flight requests may finish after Ctrl+C or SIGTERM (default: 30)",
    )
    group.add_argument(
        "--cancel-grace",
        type=float,
        default=10.0,
        metavar="SECONDS",
        help="seconds a cancelled request's worker process may take to stop (timeout, client "
        "gone) before it is replaced by a fresh one (default: 10)",
    )
    group.add_argument(
        "--max-connections",
        type=int,
        default=64,
        help="requests in progress (uploads included) before answering 503 (default: 64)",
    )
    group.add_argument(
        "--log-level", choices=("critical", "error", "warning", "info", "debug"), default="info"
    )
    # Tests and embedders: a segmentation backend factory "module:function" instead of a model.
    group.add_argument("--backend-factory", default=None, help=argparse.SUPPRESS)
    add_model_options(parser)
    add_export_options(parser)
    parser.set_defaults(func=run)


def _factory(text: str):
    module_name, _, attribute = text.partition(":")
    try:
        return getattr(importlib.import_module(module_name), attribute)
    except (ImportError, AttributeError, ValueError) as exc:
        raise ValueError(f"--backend-factory {text!r}: {exc}") from None


def run(args: argparse.Namespace) -> int:
    try:
        import uvicorn

        from bgeraser_gui.server.app import create_app
        from bgeraser_gui.server.config import (
            LOOPBACK_HOSTS,
            ServerConfig,
            uvicorn_connection_limit,
        )
        from bgeraser_gui.server.workers import WorkerPool
    except ImportError as exc:
        return fail(f"the server needs its extra: pip install 'bgeraser-gui[serve]' ({exc})")
    api_key = args.api_key or os.environ.get(API_KEY_ENV) or None
    if args.threads_per_worker is None and args.workers > 1:
        args.threads_per_worker = max(1, (os.cpu_count() or 1) // args.workers)
    try:
        factory = _factory(args.backend_factory) if args.backend_factory else None
        spec = spec_from_args(args, factory)
        config = ServerConfig(
            spec=spec,
            workers=args.workers,
            max_queue=args.max_queue,
            api_key=api_key,
            max_upload_bytes=int(args.max_upload_mb * 2**20),
            request_timeout_s=args.timeout,
            shutdown_grace_s=args.shutdown_grace,
            max_connections=args.max_connections,
            cancel_grace_s=args.cancel_grace,
        )
        pool = WorkerPool(spec, args.workers, args.max_queue, config.cancel_grace_s)
        print(f"loading {spec.model or 'the model'} in {args.workers} worker(s)", file=sys.stderr)
        pool.start()
    except (ValueError, BgEraserError) as exc:
        return fail(str(exc))
    except Exception as exc:  # noqa: BLE001 - a damaged model file must not print a traceback
        return fail(f"cannot load the model: {type(exc).__name__}: {exc}")
    if args.host not in LOOPBACK_HOSTS and not api_key:
        print(
            f"warning: listening on {args.host} without an API key: anyone who can reach this "
            f"port can use it (set --api-key or ${API_KEY_ENV})",
            file=sys.stderr,
        )
    uvicorn.run(
        create_app(config, pool),
        host=args.host,
        port=args.port,
        log_level=args.log_level,
        limit_concurrency=uvicorn_connection_limit(config.max_connections),
        timeout_graceful_shutdown=int(config.shutdown_grace_s),
    )
    return 0
