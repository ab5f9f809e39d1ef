"""`bgeraser-cli batch IN_DIR... -o OUT_DIR`: many photos, in parallel, resumable, with a report."""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import os
import signal
import sys
import threading
from pathlib import Path
from typing import TYPE_CHECKING

from tqdm import tqdm

from bgeraser_gui.commands.common import (
    add_export_options,
    add_model_options,
    fail,
    spec_from_args,
)
from bgeraser_gui.core.atomic import clean_stale_parts
from bgeraser_gui.core.batch_plan import (
    STATUS_CANCELLED,
    STATUS_FAILED,
    STATUS_SKIPPED,
    BatchSummary,
    ReportRecord,
    ReportWriter,
    collect_jobs,
    guarded_export,
    is_uri,
)
from bgeraser_gui.core.batch_resume import split_resumable
from bgeraser_gui.core.errors import BgEraserError
from bgeraser_gui.core.image_io import DEFAULT_MAX_PIXELS
from bgeraser_gui.core.progress import CancelToken
from bgeraser_gui.engines.job import MODEL_LOAD_FAILED

if TYPE_CHECKING:  # importing the pipeline loads the matting stack: only when a command runs
    from bgeraser_gui.assemble import PipelineSpec

ENGINES = ("local", "ray")


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "batch",
        help="cut out many photos (parallel, resumable, JSON-lines report)",
        description="Cut out every photo under the input folders into OUT_DIR, mirroring "
        "sub-folders. Inputs and OUT_DIR may be URIs (s3://...) when fsspec is installed. "
        "Exit status: 0 all fine, 1 some files failed, 2 bad usage, 130 interrupted (Ctrl+C: "
        "running images finish or stop, the report lists every file).",
    )
    parser.add_argument("inputs", nargs="+", metavar="IN_DIR", help="folders, files or URIs")
    parser.add_argument("-o", "--out", required=True, metavar="OUT_DIR")
    parser.add_argument("--recursive", action="store_true", help="also search sub-folders")
    parser.add_argument("--workers", type=int, default=1, metavar="N", help="parallel workers")
    parser.add_argument(
        "--pool",
        choices=("thread", "process"),
        default="thread",
        help="local engine: workers as threads (one process) or separate processes",
    )
    parser.add_argument(
        "--resume", action="store_true", help="skip inputs whose output is already complete"
    )
    parser.add_argument("--engine", choices=ENGINES, default="local")
    parser.add_argument(
        "--ray-address",
        default=None,
        metavar="ADDR",
        help="Ray cluster to join, e.g. ray://head:10001 or auto (default: start a local one)",
    )
    parser.add_argument(
        "--threads-per-worker",
        type=int,
        default=None,
        metavar="N",
        help="CPU threads each worker's model may use; with --engine ray also the CPUs "
        "reserved per actor (default: locally the cores shared out among the workers, "
        "1 per Ray actor)",
    )
    parser.add_argument(
        "--report",
        type=Path,
        default=None,
        metavar="FILE.jsonl",
        help="append one JSON object per input: input, output, status, seconds, error, "
        "review_score (0 = clean .. 1 = look first; sort by it to review the worst first)",
    )
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    add_model_options(parser)
    add_export_options(parser)
    parser.set_defaults(func=run)


def threads_per_worker(args: argparse.Namespace) -> int | None:
    """--threads-per-worker, or when not given for local workers, their share of the cores:
    two workers on two cores run one thread each instead of two each, fighting for both."""
    if args.threads_per_worker is not None or args.engine != "local" or args.workers == 1:
        return args.threads_per_worker
    from bgeraser_gui.backends.device import cpu_thread_count

    return max(1, cpu_thread_count() // args.workers)


def make_engine(args: argparse.Namespace, spec: PipelineSpec):
    if args.engine == "ray":
        from bgeraser_gui.engines.ray_engine import RayEngine

        cpus = args.threads_per_worker or 1
        return RayEngine(spec, workers=args.workers, address=args.ray_address, cpus_per_worker=cpus)
    from bgeraser_gui.engines.local import LocalEngine

    return LocalEngine(spec, workers=args.workers, pool=args.pool)


def _describe(record: ReportRecord) -> str:
    name = Path(record.input).name
    if record.status == STATUS_FAILED:
        return f"failed: {record.error or name}"
    return f"{record.status}: {name}"


@contextlib.contextmanager
def cancel_on_sigint(cancel: CancelToken, interrupted: list[bool]):
    """While active, the first Ctrl+C cancels `cancel` (the batch winds down and reports);
    a second one raises KeyboardInterrupt as usual. No-op outside the main thread."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def on_sigint(signum, frame) -> None:
        if interrupted:
            raise KeyboardInterrupt
        interrupted.append(True)
        cancel.cancel()
        message = "\ninterrupted: finishing the running images (Ctrl+C again to quit now)\n"
        os.write(2, message.encode())  # safe inside a signal handler, unlike print

    previous = signal.signal(signal.SIGINT, on_sigint)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def run(args: argparse.Namespace, backend_factory=None) -> int:
    """The command; `backend_factory` lets embedders and tests supply their own backend."""
    if args.workers < 1:
        return fail("--workers must be >= 1")
    args.threads_per_worker = threads_per_worker(args)
    try:
        spec = spec_from_args(args, backend_factory)
        jobs = collect_jobs(args.inputs, args.out, recursive=args.recursive)
    except (ValueError, BgEraserError) as exc:
        return fail(str(exc))
    if not jobs:
        return fail("no images found in " + ", ".join(args.inputs))
    if not is_uri(args.out):
        try:
            Path(args.out).mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            return fail(f"cannot create output folder {args.out}: {exc.strerror or exc}")

    spec = dataclasses.replace(
        spec, export=guarded_export(spec.export, (j.source for j in jobs), spec.max_pixels)
    )
    for folder in sorted({j.out_dir for j in jobs if not is_uri(j.out_dir)}):
        clean_stale_parts(folder)  # temporary files of a run that was killed
    already_done: list = []
    if args.resume:
        from bgeraser_gui.core.object_files import resume_options  # --objects each: `_1` done

        try:
            jobs, already_done = split_resumable(
                jobs,
                resume_options(spec.export, spec.objects),
                spec.max_pixels or DEFAULT_MAX_PIXELS,
            )
        except (ValueError, BgEraserError) as exc:
            return fail(str(exc))
        for job in jobs:
            if job.replace_output is not None:
                print(
                    f"resume: replacing our earlier output {job.replace_output} "
                    "(made with other settings)",
                    file=sys.stderr,
                )
    summary = BatchSummary()
    cancel = CancelToken()
    total = len(jobs) + len(already_done)
    try:
        report = ReportWriter(args.report)
    except BgEraserError as exc:
        return fail(str(exc))
    bar = tqdm(total=total, unit="img", disable=args.quiet, file=sys.stderr, dynamic_ncols=True)
    with report:
        for job, output in already_done:
            record = ReportRecord(job.source, output, STATUS_SKIPPED, 0.0)  # done: no error
            report.write(record)
            summary.add(record)
            bar.update(1)
        summary.start()
        interrupted: list[bool] = []
        try:
            engine = make_engine(args, spec)
            with cancel_on_sigint(cancel, interrupted):
                for record in engine.run(jobs, cancel):
                    report.write(record)
                    summary.add(record)
                    if (record.error or "").startswith(MODEL_LOAD_FAILED) and not cancel.cancelled:
                        cancel.cancel()  # every other image would fail the same way
                        tqdm.write(f"error: {record.error}", file=sys.stderr)
                    elif record.status not in ("ok", STATUS_CANCELLED) or args.quiet:
                        tqdm.write(_describe(record), file=sys.stderr)
                    bar.update(1)
        except KeyboardInterrupt:  # a second Ctrl+C: quit now, the report has what ended
            cancel.cancel()
            bar.close()
            print("interrupted: finished files are kept; rerun with --resume", file=sys.stderr)
            return 130
        except BgEraserError as exc:  # e.g. Ray not installed or the cluster unreachable
            bar.close()
            return fail(str(exc), code=1)
        summary.stop()
    bar.close()
    if report.error:
        print(f"warning: {report.error}; the run went on without it", file=sys.stderr)
    print(
        f"{summary.ok} written, {summary.skipped} skipped, {summary.failed} failed, "
        f"{summary.cancelled} cancelled of {total} in {summary.finished - summary.started:.1f} s "
        f"({summary.images_per_minute:.1f} images/min) -> {args.out}",
        file=sys.stderr,
    )
    if interrupted:
        print("interrupted: finished files are kept; rerun with --resume", file=sys.stderr)
        return 130
    return 1 if summary.failed or summary.cancelled or report.error else 0
