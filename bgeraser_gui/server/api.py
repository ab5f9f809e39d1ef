"""`POST /api/remove` (the image as the raw body, the answer as the image), `GET /health` and
`GET /metrics`.

Query parameters of /api/remove are the CLI's flags: `refine`, `quality`, `mask_only`,
`background` (transparent or #RRGGBB; never a file path on the server), `format`, `crop`
(margin in pixels) and `resize` (longest side). Omitted ones keep the server's settings.
"""

from __future__ import annotations

import dataclasses
from typing import Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response

from bgeraser_gui.core.compose import FORMATS, ExportOptions, parse_color
from bgeraser_gui.server.errors import Problem
from bgeraser_gui.server.jobs import Answer, CutoutJob, CutoutTask, run_job

router = APIRouter()

IMAGE_BODY = {
    "requestBody": {
        "required": True,
        "content": {"image/*": {"schema": {"type": "string", "format": "binary"}}},
    }
}


def parse_background(text: str):
    """transparent (or none) -> None; '#RRGGBB' -> a colour. Server paths are not accepted."""
    if text.strip().lower() in ("", "transparent", "none"):
        return None
    try:
        return parse_color(text)
    except ValueError as exc:
        raise Problem(400, f"background: {exc}", "invalid_parameters") from None


def request_options(base: ExportOptions, changes: dict) -> ExportOptions:
    """`base` (the server's export settings) with the request's own values."""
    try:
        return dataclasses.replace(base, **changes)
    except ValueError as exc:  # e.g. JPEG without a background
        raise Problem(400, str(exc), "invalid_parameters") from None


@router.post(
    "/api/remove",
    tags=["simple"],
    summary="Cut out the image sent as the request body",
    response_class=Response,
    responses={200: {"content": {"image/png": {}}}},
    openapi_extra=IMAGE_BODY,
)
async def remove(
    request: Request,
    refine: bool | None = Query(None, description="alpha matting of the edges"),
    quality: Literal["best", "fast", "rembg"] | None = Query(None),
    mask_only: bool | None = Query(None, description="answer the 8-bit mask"),
    background: str | None = Query(None, description="transparent or #RRGGBB"),
    format: Literal[tuple(FORMATS)] | None = Query(None),  # type: ignore[valid-type]
    crop: int | None = Query(None, ge=0, description="crop to the subject with this margin"),
    resize: int | None = Query(None, ge=1, description="longest side of the result"),
) -> Response:
    config, pool = request.app.state.config, request.app.state.pool
    data = await request.body()
    if not data:
        raise Problem(400, "empty body: send the image bytes as the request body", "no_image")
    changes: dict = {}
    if format is not None:
        changes["format"] = format
    if background is not None:
        changes["background"] = parse_background(background)
    if mask_only is not None:
        changes["mask_only"] = mask_only
    if crop is not None:
        changes.update(crop_to_subject=True, crop_margin_px=crop)
    if resize is not None:
        changes["resize_long_side"] = resize
    options = request_options(config.spec.export, changes)
    job = CutoutJob(data, "image", options, quality=quality, refine=refine)
    answer: Answer = await run_job(request, pool, CutoutTask(job), config.request_timeout_s)
    headers = {"X-Width": str(answer.width), "X-Height": str(answer.height)}
    return Response(answer.body, media_type=answer.media_type, headers=headers)


@router.get("/health", tags=["operations"], summary="Is the server up and how busy is it")
async def health(request: Request) -> JSONResponse:
    config, pool = request.app.state.config, request.app.state.pool
    stopping = request.app.state.stopping
    body = {
        "status": "shutting_down" if stopping else "ok",
        "model": config.spec.model,
        "quality": config.spec.quality,
        "refine": config.spec.refine_options.enabled,
        "workers": pool.workers,
        "jobs_running": pool.busy,
        "queue_length": pool.queue_length,
        "max_queue": pool.max_queue,
    }
    return JSONResponse(body, status_code=503 if stopping else 200)


@router.get(
    "/metrics",
    tags=["operations"],
    summary="Prometheus metrics",
    response_class=PlainTextResponse,
)
async def metrics(request: Request) -> PlainTextResponse:
    text = request.app.state.metrics.render(request.app.state.pool)
    return PlainTextResponse(text, media_type="text/plain; version=0.0.4; charset=utf-8")
