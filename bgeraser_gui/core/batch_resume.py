"""Resume a batch: which planned outputs are already complete, and provably ours.

A file counts only when the output ledger proves bgeraser wrote it and it decodes to the
size the job would give it (under the size guard).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path, PurePosixPath

from PIL import Image

from bgeraser_gui.core.batch_plan import (
    BatchJob,
    is_uri,
    join_location,
    location_exists,
    location_key,
    open_location,
    planned_output,
)
from bgeraser_gui.core.compose import ExportOptions
from bgeraser_gui.core.errors import BgEraserError
from bgeraser_gui.core.image_io import DEFAULT_MAX_PIXELS, ImageLoadError, open_image
from bgeraser_gui.core.output_ledger import is_our_output

SIZE_TOLERANCE_PX = 1  # rounding of a resize may differ by one pixel


def _upright_size(im: Image.Image) -> tuple[int, int]:
    orientation = im.getexif().get(0x0112, 1)
    w, h = im.size
    return (h, w) if orientation in (5, 6, 7, 8) else (w, h)


def expected_output_size(
    source_size: tuple[int, int], options: ExportOptions
) -> tuple[int, int] | None:
    """The output's size for a source of `source_size`, or None when it depends on the mask."""
    if options.crop_to_subject:
        return None
    w, h = source_size
    limit = options.resize_long_side
    if limit and max(w, h) != limit:  # compose resizes up and down to the target
        scale = limit / max(w, h)
        return max(1, round(w * scale)), max(1, round(h * scale))
    return w, h


def output_is_complete(
    job: BatchJob, output: str, options: ExportOptions, max_pixels: int = DEFAULT_MAX_PIXELS
) -> bool:
    """True when `output` exists, decodes fully and has the size this job would give it
    (both files are opened under the size guard)."""
    try:
        with open_location(output) as fh:
            out_im = open_image(fh, output, max_pixels)
            out_im.load()
            out_size = out_im.size
        with open_location(job.source) as fh:
            source_size = _upright_size(open_image(fh, job.name, max_pixels))
    except (OSError, ValueError, SyntaxError, BgEraserError, ImageLoadError):
        return False
    expected = expected_output_size(source_size, options)
    if expected is None:  # cropped to the subject: it must fit inside the source
        return out_size[0] <= source_size[0] and out_size[1] <= source_size[1]
    return all(abs(a - b) <= SIZE_TOLERANCE_PX for a, b in zip(out_size, expected, strict=True))


def output_candidates(output: str, limit: int = 100) -> Iterator[str]:
    """`output`, then its numbered variants (`name-2.png`, ...) as long as they exist.

    With the "number" policy an earlier run may have written a numbered copy next to an
    older or broken file; resume accepts any complete one of them.
    """
    yield output
    parent = output.rsplit("/", 1)[0] if is_uri(output) else str(Path(output).parent)
    name = PurePosixPath(output).name if is_uri(output) else Path(output).name
    stem, suffix = PurePosixPath(name).stem, PurePosixPath(name).suffix
    for n in range(2, limit):
        candidate = join_location(parent, f"{stem}-{n}{suffix}")
        if not location_exists(candidate):
            return
        yield candidate


def split_resumable(
    jobs: list[BatchJob], options: ExportOptions, max_pixels: int = DEFAULT_MAX_PIXELS
) -> tuple[list[BatchJob], list[tuple[BatchJob, str]]]:
    """(jobs still to run, [(job, output) already complete and valid]).

    Only files the output ledger proves we wrote count: a photo that merely has an output's
    name is neither "done" nor replaced. A job whose planned output is ours but invalid
    (e.g. made with other options) comes back with `replace_output` set, to be replaced in
    place rather than numbered; any other file in the way is left to the policy.
    """
    todo: list[BatchJob] = []
    done: list[tuple[BatchJob, str]] = []
    inputs = {location_key(job.source) for job in jobs}
    for job in jobs:
        planned = planned_output(job, options)
        complete = next(
            (
                output
                for output in output_candidates(planned)
                if location_key(output) not in inputs
                and is_our_output(output)
                and output_is_complete(job, output, options, max_pixels)
            ),
            None,
        )
        if complete is not None:
            done.append((job, complete))
        elif location_key(planned) not in inputs and is_our_output(planned):
            todo.append(replace(job, replace_output=planned))
        else:
            todo.append(job)
    return todo, done
