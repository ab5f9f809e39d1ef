"""The ASGI application: routes, error answers, guards, metrics and shutdown.

Middleware, outermost first: `MetricsMiddleware` (counts every request, refused ones too),
`RequestLimit` (requests in progress), `RequestGuard` (API key, request size), then FastAPI. Every exception a route raises becomes a
JSON error answer (`errors.problem_for`); the traceback of an unexpected one goes to the log.
On shutdown the worker pool finishes queued and running jobs for the grace period, then cancels.
"""

from __future__ import annotations

import asyncio
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import Request

from bgeraser_gui import __version__
from bgeraser_gui.core.errors import BgEraserError
from bgeraser_gui.server import api, removebg
from bgeraser_gui.server.config import ServerConfig
from bgeraser_gui.server.errors import Problem, error_response, problem_for
from bgeraser_gui.server.guards import RequestGuard, RequestLimit
from bgeraser_gui.server.metrics import Metrics, MetricsMiddleware
from bgeraser_gui.server.workers import WorkerPool

ROUTES = (
    "/v1.0/removebg",
    "/api/remove",
    "/health",
    "/metrics",
    "/docs",
    "/redoc",
    "/openapi.json",
)
DESCRIPTION = """Background removal on this machine with bgeraser's cutout pipeline (the same as
`bgeraser-cli cutout`): a local segmentation model, edge refinement with colour decontamination.

`POST /v1.0/removebg` speaks remove.bg's API for its common fields; `POST /api/remove` takes the
image as the raw body. With an API key configured, send it as `X-Api-Key` (or
`Authorization: Bearer`). Errors: `{"errors": [{"title": ..., "code": ...}]}`."""


def _status_code(exc: StarletteHTTPException) -> str:
    return {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")


def _validation_title(exc: RequestValidationError) -> str:
    first = exc.errors()[0] if exc.errors() else {}
    where = ".".join(str(part) for part in first.get("loc", ())[1:]) or "request"
    return f"{where}: {first.get('msg', 'invalid value')}"


def create_app(config: ServerConfig, pool: WorkerPool) -> FastAPI:
    """The server for a started `pool` (models loaded); closing the app closes the pool."""

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        app.state.stopping = False
        yield
        app.state.stopping = True
        await asyncio.to_thread(pool.close, config.shutdown_grace_s)

    app = FastAPI(
        title="bgeraser",
        version=__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
    )
    metrics = Metrics(ROUTES)
    app.state.config, app.state.pool, app.state.metrics = config, pool, metrics
    app.state.stopping = False
    app.include_router(removebg.router)
    app.include_router(api.router)

    async def answer_problem(request: Request, exc: Exception):
        return error_response(problem_for(exc))

    for kind in (Problem, BgEraserError, ValueError, MemoryError, Exception):
        app.add_exception_handler(kind, answer_problem)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException):
        title = str(exc.detail) if exc.detail else "error"
        return error_response(Problem(exc.status_code, title, _status_code(exc), exc.headers))

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, exc: RequestValidationError):
        return error_response(Problem(400, _validation_title(exc), "invalid_parameters"))

    app.add_middleware(RequestGuard, api_key=config.api_key, max_body_bytes=config.max_upload_bytes)
    app.add_middleware(
        RequestLimit, max_requests=config.max_connections, retry_after=pool.retry_after_s
    )
    app.add_middleware(MetricsMiddleware, metrics=metrics)
    return app
