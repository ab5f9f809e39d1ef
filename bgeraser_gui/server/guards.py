"""Checks made before a request body is parsed: requests in progress, the API key, the size.

`RequestLimit` answers 503 with Retry-After (remove.bg's JSON, like every error) once
`max_requests` requests are in progress (uploads being received or waiting for their cutout),
so a crowd of clients costs bounded memory; /health and /metrics always pass (monitoring must
see a busy server). uvicorn's own connection limit stays above it as a last resort.

`RequestGuard` is pure ASGI middleware. With an API key configured, a request without the key
(`X-Api-Key: KEY`, remove.bg's header, or `Authorization: Bearer KEY`) gets 401 before a byte of
its body is read. A declared `Content-Length` over the limit gets 413 at once; a body sent
without one (chunked) is counted as it arrives and cut off with 413 at the limit, so an upload
never costs more memory than the limit.
"""

from __future__ import annotations

import hmac
import json

from bgeraser_gui.server.errors import error_body


class _TooLarge(Exception):
    pass


def _header(scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key.lower() == name:
            return value.decode("latin-1")
    return None


def presented_key(scope) -> str | None:
    key = _header(scope, b"x-api-key")
    if key is not None:
        return key
    authorization = _header(scope, b"authorization") or ""
    scheme, _, token = authorization.partition(" ")
    return token.strip() if scheme.lower() == "bearer" else None


async def send_error(send, status: int, title: str, code: str, headers=()) -> None:
    body = json.dumps(error_body(title, code)).encode()
    raw_headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        (b"connection", b"close"),
        *((k.encode(), v.encode()) for k, v in headers),
    ]
    await send({"type": "http.response.start", "status": status, "headers": raw_headers})
    await send({"type": "http.response.body", "body": body})


class RequestGuard:
    def __init__(self, app, api_key: str | None, max_body_bytes: int) -> None:
        self.app = app
        self.api_key = api_key
        self.max_body_bytes = max_body_bytes

    def _key_ok(self, scope) -> bool:
        if not self.api_key:
            return True
        given = presented_key(scope)
        return given is not None and hmac.compare_digest(given.encode(), self.api_key.encode())

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if not self._key_ok(scope):
            title = "missing or wrong API key (send it as X-Api-Key or Authorization: Bearer)"
            await send_error(send, 401, title, "auth_failed", [("www-authenticate", "Bearer")])
            return
        limit = self.max_body_bytes
        too_large = f"request body over the {limit / 2**20:g} MiB limit (--max-upload-mb)"
        declared = _header(scope, b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            await send_error(send, 413, too_large, "request_too_large")
            return
        received = 0
        started = False

        async def counted_receive():
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise _TooLarge
            return message

        async def tracked_send(message) -> None:
            # a parser that turned the cut-off into its own error answer still answers 413
            nonlocal started
            if received > limit:
                if not started:
                    started = True
                    await send_error(send, 413, too_large, "request_too_large")
                return
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counted_receive, tracked_send)
        except _TooLarge:
            if not started:
                await send_error(send, 413, too_large, "request_too_large")


UNLIMITED_PATHS = frozenset({"/health", "/metrics"})


class RequestLimit:
    """At most `max_requests` HTTP requests in progress (monitoring paths excepted); beyond,
    503 with `Retry-After: retry_after()` seconds."""

    def __init__(self, app, max_requests: int, retry_after) -> None:
        self.app = app
        self.max_requests = max_requests
        self.retry_after = retry_after
        self.in_progress = 0  # only touched on the event loop: no lock needed

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http" or scope["path"] in UNLIMITED_PATHS:
            await self.app(scope, receive, send)
            return
        if self.in_progress >= self.max_requests:
            title = f"too many requests in progress ({self.max_requests}, --max-connections)"
            retry = [("retry-after", str(self.retry_after()))]
            await send_error(send, 503, title, "too_many_requests", retry)
            return
        self.in_progress += 1
        try:
            await self.app(scope, receive, send)
        finally:
            self.in_progress -= 1
