"""`POST /v1.0/removebg`: remove.bg's request and response for the common fields.

Accepted (multipart or url-encoded form): `image_file` or `image_file_b64` (`image_url` is
refused: this server fetches no URLs), `size`, `type`, `format` (auto/png/jpg/webp/zip),
`bg_color`, `bg_image_file`, `crop`, `crop_margin` (one value, px), `channels` (rgba/alpha).
Fields remove.bg has and this server has no use for (e.g. `type_level`, `roi`, `scale`,
`position`, `add_shadow`) are ignored. The answer is the image with `X-Width`, `X-Height`,
`X-Foreground-*` and `X-Credits-Charged: 0`, or with `Accept: application/json`, remove.bg's
`{"data": {"result_b64": ...}}`. Errors are remove.bg's `{"errors": [{"title": ...}]}`.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import io
import math
import re
import zipfile
from dataclasses import dataclass
from typing import Annotated

from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.responses import JSONResponse, Response
from PIL import ImageColor

from bgeraser_gui.core.compose import (
    ExportOptions,
    compose_image,
    parse_color,
    subject_box,
    to_alpha_u8,
)
from bgeraser_gui.core.image_io import LoadedImage
from bgeraser_gui.core.pipeline import CutoutResult, Pipeline
from bgeraser_gui.server.errors import Problem
from bgeraser_gui.server.jobs import (
    Answer,
    CutoutJob,
    CutoutTask,
    encoded_size,
    media_type,
    run_job,
)

router = APIRouter(tags=["remove.bg compatible"])

# remove.bg's `size` -> the most pixels of the result (None: the photo's own resolution)
SIZES = {
    "auto": None,
    "full": None,
    "4k": None,
    "50mp": None,
    "preview": 250_000,
    "small": 250_000,
    "regular": 250_000,
    "medium": 1_500_000,
    "hd": 4_000_000,
}
TYPES = ("auto", "person", "product", "car", "animal", "graphic", "transportation")
FORMATS = {
    "auto": "auto",
    "png": "png",
    "jpg": "jpeg",
    "jpeg": "jpeg",
    "webp": "webp",
    "zip": "zip",
}
MAX_CROP_MARGIN_PX = 500  # remove.bg's cap
WHITE = (255, 255, 255)


def _choice(name: str, value: str, allowed) -> str:
    value = value.strip().lower()
    if value not in allowed:
        raise Problem(400, f"{name} must be one of {', '.join(allowed)}", "invalid_parameters")
    return value


def parse_bg_color(text: str) -> tuple[int, int, int]:
    """remove.bg's `bg_color`: hex with or without '#' (6 or 3 digits) or a colour name."""
    value = text.strip()
    if re.fullmatch(r"#?[0-9a-fA-F]{6}", value):
        return parse_color(value)
    try:
        if re.fullmatch(r"#?[0-9a-fA-F]{3}", value):
            return ImageColor.getrgb("#" + value.lstrip("#"))[:3]
        return ImageColor.getrgb(value)[:3]
    except ValueError:
        title = f"bg_color {text!r} is not a hex colour (81d4fa) or a colour name"
        raise Problem(400, title, "invalid_parameters") from None


def parse_crop_margin(text: str) -> int:
    value = text.strip().lower().removesuffix("px")
    if not value.isdigit():
        title = f"crop_margin {text!r}: this server takes one margin in pixels, e.g. 30px"
        raise Problem(400, title, "invalid_parameters")
    return min(int(value), MAX_CROP_MARGIN_PX)


def fit_to_pixels(options: ExportOptions, alpha_u8, max_pixels: int | None) -> ExportOptions:
    """`options` scaled down so that the result has at most `max_pixels` (remove.bg `size`)."""
    if max_pixels is None:
        return options
    height, width = alpha_u8.shape
    box = subject_box(alpha_u8, options.crop_margin_px) if options.crop_to_subject else None
    if box is not None:
        width, height = box[2] - box[0], box[3] - box[1]
    if width * height <= max_pixels:
        return options
    long_side = max(1, math.floor(max(width, height) * math.sqrt(max_pixels / (width * height))))
    return dataclasses.replace(options, resize_long_side=long_side)


def foreground_headers(alpha_u8, options: ExportOptions, size: tuple[int, int]) -> dict:
    """remove.bg's X-Foreground-Top/Left/Width/Height: the subject's box in the result."""
    box = subject_box(alpha_u8)
    if box is None:
        return {}
    left, top = 0, 0
    base_width, base_height = alpha_u8.shape[1], alpha_u8.shape[0]
    crop = subject_box(alpha_u8, options.crop_margin_px) if options.crop_to_subject else None
    if crop is not None:
        left, top = crop[0], crop[1]
        base_width, base_height = crop[2] - crop[0], crop[3] - crop[1]
    sx, sy = size[0] / base_width, size[1] / base_height
    return {
        "X-Foreground-Top": str(round((box[1] - top) * sy)),
        "X-Foreground-Left": str(round((box[0] - left) * sx)),
        "X-Foreground-Width": str(round((box[2] - box[0]) * sx)),
        "X-Foreground-Height": str(round((box[3] - box[1]) * sy)),
    }


def _zip_answer(
    image: LoadedImage, alpha_u8, result: CutoutResult, options, pipeline
) -> tuple[bytes, tuple[int, int]]:
    """remove.bg's zip: color.jpg (the subject's colours, opaque) and alpha.png (the mask)."""
    colour_options = dataclasses.replace(
        options, background=None, mask_only=False, format="png", sixteen_bit=False
    )
    colours = compose_image(image, alpha_u8, colour_options, result.foreground).convert("RGB")
    jpeg = io.BytesIO()
    colours.save(jpeg, "JPEG", quality=95)
    mask = pipeline.encode(image, alpha_u8, options=dataclasses.replace(options, mask_only=True))
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_STORED) as bundle:
        bundle.writestr("color.jpg", jpeg.getvalue())
        bundle.writestr("alpha.png", mask)
    return archive.getvalue(), encoded_size(mask)


@dataclass(frozen=True)
class RemoveBgRender:
    """remove.bg's answer for a cutout (picklable: it runs in the worker process): the result
    fitted to `max_pixels` (remove.bg `size`), as an image or the zip, with its headers."""

    max_pixels: int | None
    as_zip: bool

    def __call__(
        self, pipeline: Pipeline, image: LoadedImage, result: CutoutResult, options: ExportOptions
    ) -> Answer:
        alpha_u8 = to_alpha_u8(result.alpha)
        options = fit_to_pixels(options, alpha_u8, self.max_pixels)
        if self.as_zip:
            body, size = _zip_answer(image, alpha_u8, result, options, pipeline)
            kind = "application/zip"
        else:
            body = pipeline.encode(image, alpha_u8, result.foreground, options)
            size, kind = encoded_size(body), media_type(options)
        headers = {"X-Width": str(size[0]), "X-Height": str(size[1]), "X-Credits-Charged": "0"}
        headers.update(foreground_headers(alpha_u8, options, size))
        return Answer(body, kind, size[0], size[1], headers)


async def _source(image_file, image_file_b64, image_url) -> tuple[bytes, str]:
    given = [x for x in (image_file, image_file_b64, image_url) if x not in (None, "")]
    if image_url:
        raise Problem(400, "image_url is not supported: upload the image", "url_disabled")
    if len(given) != 1:
        title = "send exactly one image: image_file (upload) or image_file_b64"
        raise Problem(400, title, "missing_source")
    if image_file is not None:
        return await image_file.read(), image_file.filename or "image_file"
    try:
        return base64.b64decode(image_file_b64, validate=True), "image_file_b64"
    except (binascii.Error, ValueError):
        raise Problem(400, "image_file_b64 is not valid base64", "invalid_image") from None


def _export_options(base: ExportOptions, fmt, bg_color, has_bg_image, crop, margin, channels):
    background = parse_bg_color(bg_color) if bg_color else None
    if background is not None and has_bg_image:
        raise Problem(400, "give bg_color or bg_image_file, not both", "invalid_parameters")
    flattened = background is not None or has_bg_image
    if fmt == "auto":
        fmt = "jpeg" if flattened else "png"
    if fmt == "jpeg" and background is None:
        background = WHITE  # JPEG has no transparency (a bg_image_file replaces it)
    return dataclasses.replace(
        base,
        format="png" if fmt == "zip" else fmt,
        background=background,
        mask_only=channels == "alpha",
        crop_to_subject=crop,
        crop_margin_px=parse_crop_margin(margin) if crop else 0,
        resize_long_side=None,
    )


@router.post(
    "/v1.0/removebg",
    summary="Remove the background (remove.bg-compatible)",
    response_class=Response,
    responses={200: {"content": {"image/png": {}, "image/jpeg": {}, "application/zip": {}}}},
)
async def removebg(
    request: Request,
    image_file: Annotated[UploadFile | None, File(description="the photo")] = None,
    image_file_b64: Annotated[str | None, Form(description="the photo, base64-encoded")] = None,
    image_url: Annotated[str | None, Form(description="not supported: upload instead")] = None,
    size: Annotated[
        str, Form(description="auto/full/4k: the photo's size; preview, medium, hd")
    ] = "auto",
    type: Annotated[
        str, Form(description="accepted; one general model serves every type")
    ] = "auto",
    format: Annotated[str, Form(description="auto, png, jpg, webp or zip")] = "auto",
    bg_color: Annotated[str | None, Form(description="hex (81d4fa) or colour name")] = None,
    bg_image_file: Annotated[UploadFile | None, File(description="background image")] = None,
    crop: Annotated[bool, Form(description="crop off empty regions")] = False,
    crop_margin: Annotated[
        str, Form(description="margin around the cropped subject, e.g. 30px")
    ] = "0",
    channels: Annotated[str, Form(description="rgba: the cutout; alpha: the mask only")] = "rgba",
) -> Response:
    config, pool = request.app.state.config, request.app.state.pool
    data, name = await _source(image_file, image_file_b64, image_url)
    max_pixels = SIZES[_choice("size", size, tuple(SIZES))]
    _choice("type", type, TYPES)
    fmt = FORMATS[_choice("format", format, tuple(FORMATS))]
    channels = _choice("channels", channels, ("rgba", "alpha"))
    background = await bg_image_file.read() if bg_image_file is not None else None
    options = _export_options(
        config.spec.export, fmt, bg_color, background is not None, crop, crop_margin, channels
    )
    job = CutoutJob(data, name, options, background=background or None)
    task = CutoutTask(job, RemoveBgRender(max_pixels, as_zip=fmt == "zip"))
    answer: Answer = await run_job(request, pool, task, config.request_timeout_s)
    if "application/json" in request.headers.get("accept", ""):
        box = {
            k.removeprefix("X-").lower().replace("-", "_"): int(v)
            for k, v in answer.headers.items()
            if k.startswith("X-Foreground")
        }
        data_b64 = base64.b64encode(answer.body).decode()
        return JSONResponse({"data": {"result_b64": data_b64, **box}}, headers=answer.headers)
    return Response(answer.body, media_type=answer.media_type, headers=answer.headers)
