"""One request's cutout as a worker job, and waiting for it without blocking the event loop.

`CutoutTask(job, render)` is what a worker process runs: decode the uploaded bytes under the
pipeline's size guard (the header is checked before any pixel is decoded), cut out with the
worker's pipeline, then `render` the answer (encode it in memory). `run_job` submits it and
waits: 503 with Retry-After when the queue is full, 504 (and the job cancelled) past the
request timeout, the job cancelled too when the client goes away.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import io
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from PIL import Image

from bgeraser_gui.core.compose import ExportOptions
from bgeraser_gui.core.image_io import LoadedImage, decode_image
from bgeraser_gui.core.pipeline import CutoutResult, Pipeline
from bgeraser_gui.server.errors import Problem
from bgeraser_gui.server.workers import QueueFull, ShuttingDown, Task, WorkerPool

MEDIA_TYPES = {
    "png": "image/png",
    "webp": "image/webp",
    "tiff": "image/tiff",
    "jpeg": "image/jpeg",
    "ora": "image/openraster",
    "psd": "image/vnd.adobe.photoshop",
}
DISCONNECT_POLL_S = 0.5


@dataclass(frozen=True)
class CutoutJob:
    """What a request asks for: the photo's bytes and how to cut it out and encode it."""

    data: bytes
    name: str
    export: ExportOptions
    quality: str | None = None  # None: the server's preset
    refine: bool | None = None  # None: the server's setting
    background: bytes | None = None  # an uploaded background image (remove.bg bg_image_file)


@dataclass
class Answer:
    body: bytes
    media_type: str
    width: int
    height: int
    headers: dict[str, str] = field(default_factory=dict)


Render = Callable[[Pipeline, LoadedImage, CutoutResult, ExportOptions], Answer]


def media_type(options: ExportOptions) -> str:
    return "image/png" if options.mask_only else MEDIA_TYPES[options.format]


def encoded_answer(
    pipeline: Pipeline, image: LoadedImage, result: CutoutResult, options: ExportOptions
) -> Answer:
    """The export the CLI would write with `options`, as the answer's body."""
    body = pipeline.encode(image, result.alpha, result.foreground, options)
    size = (image.width, image.height) if options.layered else encoded_size(body)
    return Answer(body, media_type(options), *size)


def encoded_size(body: bytes) -> tuple[int, int]:
    """(width, height) read from an encoded image's header."""
    with Image.open(io.BytesIO(body)) as im:
        return im.size


@contextlib.contextmanager
def _with_background(job: CutoutJob, max_pixels: int) -> Iterator[ExportOptions]:
    """The job's export options; an uploaded background is checked like a photo, then lives
    in a private temporary folder (compose reads backgrounds from files) until encoded."""
    if job.background is None:
        yield job.export
        return
    checked = decode_image(job.background, name="bg_image_file", max_pixels=max_pixels)
    suffix = {"JPEG": ".jpg", "MPO": ".jpg"}.get(checked.format, "." + checked.format.lower())
    del checked
    with tempfile.TemporaryDirectory(prefix="bgeraser-serve-") as folder:
        path = Path(folder) / f"background{suffix}"
        path.write_bytes(job.background)
        yield dataclasses.replace(job.export, background=path)


@dataclass(frozen=True)
class CutoutTask:
    """What a worker process runs for a request (picklable: it crosses to the process):
    decode under the size guard, cut out with the worker's pipeline, `render` the answer."""

    job: CutoutJob
    render: Render = encoded_answer

    def __call__(self, worker, cancel) -> Answer:
        job = self.job
        pipeline = worker.pipeline(job.quality, job.refine)
        image = decode_image(job.data, name=job.name, max_pixels=pipeline.max_pixels)
        cancel.check()
        result = pipeline.cutout(image, cancel=cancel)
        cancel.check()
        with _with_background(job, pipeline.max_pixels) as options:
            return self.render(pipeline, image, result, options)


async def run_job(request, pool: WorkerPool, task: Task, timeout_s: float):
    """Run `task` on the pool and return its result; raise `Problem` for the HTTP answer when
    it cannot run (queue full, shutting down) or takes longer than `timeout_s`."""
    try:
        job = pool.submit(task)
    except QueueFull as exc:
        retry = {"Retry-After": str(exc.retry_after_s)}
        raise Problem(503, str(exc), "queue_full", retry) from None
    except ShuttingDown as exc:
        raise Problem(503, str(exc), "shutting_down", {"Retry-After": "10"}) from None
    waiting = asyncio.wrap_future(job.future)
    # a result nobody waits for any more (timed out, client gone) is dropped quietly
    waiting.add_done_callback(lambda f: f.cancelled() or f.exception())
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    try:
        while True:
            remaining = deadline - loop.time()
            if remaining <= 0:
                job.cancel.cancel()
                title = f"processing took longer than {timeout_s:g} s (--timeout)"
                raise Problem(504, title, "timeout")
            done, _ = await asyncio.wait({waiting}, timeout=min(DISCONNECT_POLL_S, remaining))
            if done:
                return waiting.result()
            if await request.is_disconnected():
                job.cancel.cancel()
                raise Problem(400, "the client closed the connection", "client_closed")
    except asyncio.CancelledError:  # the server stops waiting (shutdown past its grace)
        job.cancel.cancel()
        raise
