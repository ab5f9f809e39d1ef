"""Run one batch job through a pipeline and describe the outcome as a report record.

Any error is caught and reported: one failing file never stops the others.
URIs are staged through a temporary folder (download, process, upload) with fsspec.
"""

from __future__ import annotations

import copy
import dataclasses
import shutil
import tempfile
import time
from pathlib import Path, PurePosixPath

from bgeraser_gui.core.batch_plan import (
    STATUS_CANCELLED,
    STATUS_FAILED,
    STATUS_OK,
    STATUS_SKIPPED,
    BatchJob,
    ReportRecord,
    is_uri,
    join_location,
    leaves_root,
    location_key,
    planned_output,
)
from bgeraser_gui.core.errors import BgEraserError, Cancelled, ExportError, describe_error
from bgeraser_gui.core.image_io import check_readable
from bgeraser_gui.core.output_ledger import is_our_output, record_output
from bgeraser_gui.core.progress import CancelToken, no_progress

MODEL_LOAD_FAILED = "cannot load the model"  # error prefix when a worker has no pipeline


def _check_inside_root(job: BatchJob, target: str) -> None:
    """No output lands outside the run's output root (e.g. an object key with `..`)."""
    if leaves_root(target, job.out_root or job.out_dir):
        raise ExportError(f"{job.name}: refused, its output would leave the output folder")


def _process_local(pipeline, job: BatchJob, cancel: CancelToken | None) -> tuple[str, str | None]:
    _check_inside_root(job, planned_output(job, pipeline.export_options))
    check_readable(job.source)  # e.g. a symlink loop: one line, before any other work
    out_dir = Path(job.out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = pipeline.process_file(Path(job.source), out_dir, no_progress, cancel)
    if written is None:
        return STATUS_SKIPPED, planned_output(job, pipeline.export_options)
    return STATUS_OK, str(written)


def _process_remote(pipeline, job: BatchJob, cancel: CancelToken | None) -> tuple[str, str | None]:
    import fsspec

    options = pipeline.export_options
    target = planned_output(job, options)
    _check_inside_root(job, target)
    out_fs, target_path = fsspec.core.url_to_fs(target)
    taken = location_key(target) in options.protected
    if out_fs.exists(target_path) or taken:
        if options.existing == "skip":
            return STATUS_SKIPPED, target
        if options.existing == "overwrite" and (taken or not is_our_output(target)):
            raise ExportError(
                f"{PurePosixPath(target).name}: refusing to overwrite an input of this run or "
                "a file bgeraser did not write (move it away or use --existing number)"
            )
        if options.existing == "number":
            stem, suffix = PurePosixPath(target).stem, PurePosixPath(target).suffix
            n = 2
            while True:
                target = join_location(job.out_dir, f"{stem}-{n}{suffix}")
                if location_key(target) not in options.protected and not out_fs.exists(
                    fsspec.core.url_to_fs(target)[1]
                ):
                    break
                n += 1
    with tempfile.TemporaryDirectory(prefix="bgeraser-job-") as tmp:
        local_in = Path(tmp) / "in" / PurePosixPath(job.source).name
        local_in.parent.mkdir()
        if is_uri(job.source):
            with fsspec.open(job.source, "rb") as src, open(local_in, "wb") as dst:
                shutil.copyfileobj(src, dst)
        else:
            shutil.copyfile(job.source, local_in)
        local_out = Path(tmp) / "out"
        local_out.mkdir()
        written = pipeline.process_file(local_in, local_out, no_progress, cancel)
        if written is None:
            return STATUS_SKIPPED, target
        out_fs, target_path = fsspec.core.url_to_fs(target)
        out_fs.makedirs(str(PurePosixPath(target_path).parent), exist_ok=True)
        record_output(target, written)  # before the upload: the ledger proves it is ours
        out_fs.put_file(str(written), target_path)
    return STATUS_OK, target


def _pipeline_for(pipeline, job: BatchJob):
    """`pipeline`, or a copy that overwrites when resume found an invalid earlier output."""
    if job.replace_output is None or pipeline.export_options.existing == "overwrite":
        return pipeline
    replacing = copy.copy(pipeline)  # shares the loaded model
    replacing.export_options = dataclasses.replace(pipeline.export_options, existing="overwrite")
    return replacing


def run_job(pipeline, job: BatchJob, cancel: CancelToken | None = None) -> ReportRecord:
    """Process `job` with `pipeline`; never raises (except KeyboardInterrupt/SystemExit)."""
    start = time.perf_counter()
    output: str | None = None
    error: str | None = None
    review_score: float | None = None
    objects: list[dict] | None = None
    try:
        if cancel is not None:
            cancel.check()
        remote = is_uri(job.source) or is_uri(job.out_dir)
        process = _process_remote if remote else _process_local
        used = _pipeline_for(pipeline, job)
        status, output = process(used, job, cancel)
        if status == STATUS_OK:
            review_score = used.last_review_score
            objects = getattr(used, "last_objects", None)
    except Cancelled:
        status = STATUS_CANCELLED
    except BgEraserError as exc:  # its message names the file
        status, error = STATUS_FAILED, describe_error(exc)
    except Exception as exc:  # noqa: BLE001 - a bug on one file must not stop the batch
        status, error = STATUS_FAILED, f"{job.name}: {describe_error(exc)}"
    seconds = round(time.perf_counter() - start, 3)
    return ReportRecord(job.source, output, status, seconds, error, review_score, objects)
