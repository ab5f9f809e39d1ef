"""`bgeraser-cli cutout IN... -o OUTDIR`: cut out photos one after another."""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time
from pathlib import Path

from tqdm import tqdm

from bgeraser_gui.commands.common import add_export_options, add_model_options, fail, spec_from_args
from bgeraser_gui.core.atomic import clean_stale_parts
from bgeraser_gui.core.batch_plan import earlier_output_filter, guarded_export
from bgeraser_gui.core.compose import ExportOptions, output_path_for
from bgeraser_gui.core.errors import BgEraserError, ModelError, describe_error
from bgeraser_gui.core.image_io import check_readable, collect_images, identity

MODEL_UNAVAILABLE = 3  # exit status: the model is missing or damaged (2 is bad usage)


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "cutout",
        help="cut the subject out of photos",
        description="Cut the subject out of each photo and write it with transparency "
        "(or onto a background). Folders are searched for images.",
    )
    parser.add_argument("inputs", nargs="+", metavar="IN", help="image files or folders")
    parser.add_argument("-o", "--out", required=True, type=Path, metavar="OUTDIR")
    parser.add_argument(
        "--recursive", action=argparse.BooleanOptionalAction, default=True, help="into subfolders"
    )
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    add_model_options(parser)
    add_export_options(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from bgeraser_gui.assemble import build_pipeline

    files = _inputs(args)
    if not files:
        return fail("no images found in " + ", ".join(args.inputs))
    try:
        args.out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        return fail(f"cannot create output folder {args.out}: {exc.strerror or exc}")
    clean_stale_parts(args.out)  # temporary files of a run that was killed
    try:
        pipeline = build_pipeline(spec_from_args(args))
        pipeline.load()  # a missing or damaged model is one message before any file
    except (ModelError, OSError) as exc:
        return fail(str(exc), MODEL_UNAVAILABLE)
    except (ValueError, BgEraserError) as exc:
        return fail(str(exc))
    except Exception as exc:  # noqa: BLE001 - a damaged model file must not print a traceback
        return fail(f"cannot load the model: {type(exc).__name__}: {exc}", MODEL_UNAVAILABLE)
    pipeline.export_options = guarded_export(pipeline.export_options, files, pipeline.max_pixels)
    return process_all(pipeline, files, args.out, quiet=args.quiet)


def _inputs(args: argparse.Namespace) -> list[Path]:
    """The files to cut out: folders expanded, earlier outputs left out (those in the output
    folder when it lies inside an input folder, and any file the output ledger records)."""
    skips = {raw: earlier_output_filter(args.out, raw) for raw in args.inputs}

    def earlier_output(path: Path) -> bool:
        try:
            size = path.stat().st_size
        except OSError:
            return False
        return any(skip(str(path), size) for skip in skips.values())

    return collect_images(args.inputs, recursive=args.recursive, exclude=earlier_output)


def _options_for(run_options: ExportOptions, target: Path, written: set[str]) -> ExportOptions:
    """The export options for one file: outputs already written by this run are protected;
    when two inputs share a name (`x.gif`, `x.webp`) the later one is numbered."""
    existing = run_options.existing
    if existing == "overwrite" and identity(target) in written:
        existing = "number"
    protected = frozenset(run_options.protected | written)
    return dataclasses.replace(run_options, protected=protected, existing=existing)


def process_all(pipeline, files: list[Path], out_dir: Path, quiet: bool = False) -> int:
    done = skipped = failed = 0
    started = time.perf_counter()
    bar = tqdm(total=len(files), unit="img", disable=quiet, file=sys.stderr, dynamic_ncols=True)
    run_options = pipeline.export_options
    written_here: set[str] = set()
    for path in files:
        bar.set_postfix_str(path.name[-30:])
        notes: list[str] = []
        try:
            check_readable(path)  # e.g. a symlink loop: one line, before any other work
            target = output_path_for(path, out_dir, run_options)
            pipeline.export_options = _options_for(run_options, target, written_here)
            written = pipeline.process_file(path, out_dir, notes=notes)
        except BgEraserError as exc:  # its message names the file
            failed += 1
            tqdm.write(f"failed: {describe_error(exc)}", file=sys.stderr)
        except Exception as exc:  # noqa: BLE001 - one bad file must not stop the others
            failed += 1
            tqdm.write(f"failed: {path.name}: {describe_error(exc)}", file=sys.stderr)
        else:
            for note in notes:
                tqdm.write(f"note: {path.name}: {note}", file=sys.stderr)
            if written is None:
                skipped += 1
                tqdm.write(f"skipped: {path.name} (output exists)", file=sys.stderr)
            else:
                done += 1
                written_here.add(identity(written))
                if quiet:
                    print(written)
        bar.update(1)
    pipeline.export_options = run_options
    bar.close()
    seconds = time.perf_counter() - started
    print(
        f"{done} written, {skipped} skipped, {failed} failed of {len(files)} "
        f"in {seconds:.1f} s -> {out_dir}",
        file=sys.stderr,
    )
    return 1 if failed else 0
