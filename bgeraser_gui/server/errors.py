"""Every error answer of the server has remove.bg's JSON shape, a status that says whose fault it
is (4xx: the request; 5xx: the server), and a one-line title: never a traceback.

    {"errors": [{"title": "photo.jpg: damaged or truncated image data", "code": "invalid_image"}]}
"""

from __future__ import annotations

import logging

from starlette.responses import JSONResponse

from bgeraser_gui.core.errors import (
    BgEraserError,
    Cancelled,
    ExportError,
    ImageLoadError,
    ImageTooLargeError,
    UnsupportedFormatError,
    describe_error,
)

log = logging.getLogger("bgeraser.server")


class Problem(Exception):
    """An answer that is not an image: HTTP status, one-line title, machine-readable code."""

    def __init__(
        self, status: int, title: str, code: str, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(title)
        self.status = status
        self.title = title
        self.code = code
        self.headers = headers or {}


def error_body(title: str, code: str) -> dict:
    return {"errors": [{"title": title, "code": code}]}


def error_response(problem: Problem) -> JSONResponse:
    return JSONResponse(
        error_body(problem.title, problem.code), problem.status, headers=problem.headers
    )


def problem_for(exc: BaseException) -> Problem:
    """The answer for an exception raised while handling a request."""
    if isinstance(exc, Problem):
        return exc
    if isinstance(exc, ImageTooLargeError):
        return Problem(413, describe_error(exc), "image_too_large")
    if isinstance(exc, UnsupportedFormatError):
        return Problem(415, describe_error(exc), "unsupported_format")
    if isinstance(exc, ImageLoadError):
        return Problem(400, describe_error(exc), "invalid_image")
    if isinstance(exc, Cancelled):
        return Problem(503, "the request was cancelled (the server is shutting down)", "cancelled")
    if isinstance(exc, ExportError):
        return Problem(400, describe_error(exc), "cannot_encode")
    if isinstance(exc, ValueError):
        return Problem(400, str(exc) or "invalid parameter", "invalid_parameters")
    if isinstance(exc, MemoryError):
        return Problem(503, describe_error(exc), "out_of_memory", {"Retry-After": "30"})
    if isinstance(exc, BgEraserError):  # a model that cannot run: the server's fault
        return Problem(500, describe_error(exc), "processing_failed")
    log.error("internal error", exc_info=exc)  # the traceback goes to the log only
    return Problem(500, describe_error(exc), "internal_error")
