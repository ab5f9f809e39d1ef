"""`bgeraser-cli eval`: score models (raw and refined) on data sets with ground-truth alpha.

Writes into --out: `results.csv` (one row per image, model and mode), `summary.md`
(mean / median tables), `worst_<model>_<mode>[_<set>].png/.html` contact sheets and the predicted
alphas under `predictions/<model>/<mode>/<data set>/<stem>.png`. Never writes into a data set.
"""

from __future__ import annotations

import argparse
import contextlib
import shlex
import signal
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from bgeraser_gui.commands.eval_clicks import (
    add_click_arguments,
    check_click_arguments,
    run_click_eval,
)
from bgeraser_gui.commands.eval_objects import add_object_arguments, run_object_eval
from bgeraser_gui.commands.photo_loop import PhotoLoop
from bgeraser_gui.core.contact_sheet import SheetItem, write_contact_sheet
from bgeraser_gui.core.errors import BgEraserError
from bgeraser_gui.core.eval_dataset import EvalDataset, EvalSample, load_sample, scan_dataset
from bgeraser_gui.core.eval_report import (
    BAND_COLUMNS,
    METRIC_COLUMNS,
    CsvResultWriter,
    read_results_csv,
    render_markdown,
    summarize,
    worst_rows,
)
from bgeraser_gui.core.eval_runner import (
    MODES,
    SampleScorer,
    ScoringSettings,
    load_alpha,
    prediction_path,
)
from bgeraser_gui.core.metrics import DEFAULT_BAND_PX, DEFAULT_BOUNDARY_TOLERANCE_PX


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "eval",
        help="measure cutout quality on data sets with ground-truth alpha",
        description=(
            "Score models on DATASET folders (images/, alpha/, optional trimap/ and ignore/): "
            "IoU, SAD, MSE, gradient, connectivity and boundary F over the whole image and "
            "the unknown band. Writes results.csv, summary.md and worst-N contact sheets."
        ),
    )
    p.add_argument("datasets", nargs="+", type=Path, metavar="DATASET",
                   help="folder with images/ and alpha/ (read only)")  # fmt: skip
    p.add_argument(
        "--model",
        dest="models",
        action="append",
        metavar="NAME|PATH",
        help="registry name or .onnx path; repeat to compare models (default: the default model)",
    )
    modes = p.add_mutually_exclusive_group()
    modes.add_argument("--refine", dest="refine_modes", action="store_const", const="refined",
                       help="score only refined (alpha-matted) cutouts")  # fmt: skip
    modes.add_argument("--no-refine", dest="refine_modes", action="store_const", const="raw",
                       help="score only the raw model masks")  # fmt: skip
    modes.add_argument("--refine-modes", dest="refine_modes", metavar="MODES",
                       help="comma list of raw,refined (default: both, side by side)")  # fmt: skip
    p.add_argument(
        "--out", type=Path, default=Path("eval-out"), help="output folder (default: ./eval-out)"
    )
    p.add_argument("--limit", type=int, metavar="N", help="at most N images per data set")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda or mps (default: auto)")
    p.add_argument("--worst", type=int, default=20, metavar="N",
                   help="rows in each contact sheet (default: 20; 0 = none)")  # fmt: skip
    p.add_argument("--worst-by", default="iou", choices=METRIC_COLUMNS + BAND_COLUMNS,
                   help="metric that ranks the contact sheet (default: iou)")  # fmt: skip
    p.add_argument("--band-px", type=int, default=DEFAULT_BAND_PX,
                   help="unknown band half-width around the ground-truth contour for sets "
                   f"without trimap (default: {DEFAULT_BAND_PX})")  # fmt: skip
    p.add_argument("--boundary-tolerance", type=float, default=DEFAULT_BOUNDARY_TOLERANCE_PX,
                   metavar="PX", help="boundary F-score match distance (default: "
                   f"{DEFAULT_BOUNDARY_TOLERANCE_PX})")  # fmt: skip
    p.add_argument("--resume", action="store_true",
                   help="reuse predictions already saved in --out instead of recomputing")  # fmt: skip
    add_click_arguments(p)
    add_object_arguments(p)
    p.set_defaults(func=run)


@dataclass
class _Model:
    spec: str  # what the user passed
    label: str  # short name used in tables and folder names


def _parse_modes(value: str | None) -> tuple[str, ...]:
    if value is None:
        return MODES
    modes = tuple(m.strip() for m in value.split(",") if m.strip())
    unknown = [m for m in modes if m not in MODES]
    if not modes or unknown:
        raise BgEraserError(f"--refine-modes: use raw, refined or raw,refined (got {value!r})")
    return tuple(dict.fromkeys(modes))


def _model_label(spec: str) -> str:
    path = Path(spec)
    return path.stem if path.suffix.lower() == ".onnx" or path.exists() else spec


def _default_model() -> str:
    """The model the editor and `cutout` use without a choice (an installed variant first)."""
    from bgeraser_gui.backends.model_choice import default_model

    return default_model(notify=lambda line: print(line, file=sys.stderr))


def _command_line(args: argparse.Namespace, models: list[_Model], modes: tuple[str, ...]) -> str:
    parts = ["bgeraser-cli", "eval", *map(str, args.datasets)]
    for m in models:
        parts += ["--model", m.spec]
    parts += ["--refine-modes", ",".join(modes), "--out", str(args.out)]
    if args.limit is not None:
        parts += ["--limit", str(args.limit)]
    if args.device != "auto":
        parts += ["--device", args.device]
    return shlex.join(parts)


def _check_out_dir(out: Path, datasets: list[EvalDataset]) -> None:
    out_resolved = out.resolve()
    for ds in datasets:
        root = ds.root.resolve()
        if out_resolved == root or root in out_resolved.parents:
            raise BgEraserError(
                f"--out {out} is inside data set {ds.root}; data sets are read-only"
            )


def _sheet_items(rows: list[dict], out: Path, samples: dict) -> Iterator[SheetItem]:
    for row in rows:
        sample = samples[(row["dataset"], row["stem"])]
        data = load_sample(sample)
        pred = load_alpha(prediction_path(out, row["model"], row["mode"], sample))
        caption = (
            f"IoU {row['iou']:.3f}  SAD {row['sad']:.2f}  MSE {row['mse']:.4f}  "
            f"BF {row['bf']:.3f}  band SAD {row['band_sad']:.2f}"
        )
        title = f"{row['dataset']}/{row['stem']} - {row['model']} ({row['mode']})"
        yield SheetItem(title, caption, data.rgb, data.alpha, pred, data.ignore)


def _write_sheets(args, rows: list[dict], models, modes, datasets: list[EvalDataset]) -> None:
    """worst_<model>_<mode>.png/html over all sets, and one per set when there are several
    (so one set's ambiguous ground truth cannot fill the whole sheet)."""
    samples = {(s.dataset, s.stem): s for ds in datasets for s in ds.samples}
    scopes = [(None, "")] + (
        [(ds.name, f"_{ds.name}") for ds in datasets] if len(datasets) > 1 else []
    )
    for model in models:
        for mode in modes:
            mine = [r for r in rows if r["model"] == model.label and r["mode"] == mode]
            for dataset, suffix in scopes:
                group = [r for r in mine if dataset is None or r["dataset"] == dataset]
                worst = worst_rows(group, args.worst, args.worst_by)
                stem = args.out / f"worst_{model.label}_{mode}{suffix}"
                where = f" in {dataset}" if dataset else ""
                write_contact_sheet(
                    _sheet_items(worst, args.out, samples),
                    stem.with_suffix(".png"),
                    stem.with_suffix(".html"),
                    title=f"Worst {len(worst)}{where} by {args.worst_by}: {model.label} ({mode})",
                )


def _progress_bar(total: int):
    from tqdm import tqdm

    return tqdm(total=total, unit="img", file=sys.stderr, dynamic_ncols=True)


def run(args: argparse.Namespace) -> int:
    try:
        return _run(args)
    except BgEraserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


def _run(args: argparse.Namespace) -> int:
    modes = _parse_modes(args.refine_modes)
    check_click_arguments(args)
    if args.limit is not None and args.limit < 1:
        raise BgEraserError("--limit must be at least 1")
    models = [_Model(s, _model_label(s)) for s in (args.models or [_default_model()])]
    if len({m.label for m in models}) != len(models):
        raise BgEraserError("two --model values have the same name; rename one of the files")
    datasets = [scan_dataset(root) for root in args.datasets]
    if len({ds.name for ds in datasets}) != len(datasets):
        raise BgEraserError("two data sets have the same folder name; rename one")
    _check_out_dir(args.out, datasets)
    skipped: list[str] = []
    for ds in datasets:
        if ds.missing_alpha:
            names = ", ".join(p.name for p in ds.missing_alpha)
            line = f"{ds.name}: {len(ds.missing_alpha)} photo(s) without alpha/<stem>.png, skipped: {names}"
            print(f"warning: {line}", file=sys.stderr)
            skipped.append(line)
    order = _interleaved(
        [ds.samples[: args.limit] if args.limit else ds.samples for ds in datasets]
    )
    total = len(order) * len(models)
    if total == 0:
        print("error: no images with ground-truth alpha to evaluate", file=sys.stderr)
        return 1
    args.out.mkdir(parents=True, exist_ok=True)
    if args.clicks is not None:
        with _sigterm_as_interrupt():
            return run_click_eval(args, models, order, skipped, _lazy_backend, _progress_bar)
    if args.objects:
        with _sigterm_as_interrupt():
            return run_object_eval(args, models, order, skipped, _lazy_backend, _progress_bar)
    csv_path = args.out / "results.csv"
    previous_seconds = {}
    if args.resume and csv_path.exists():
        previous_seconds = {
            (r["dataset"], r["stem"], r["model"], r["mode"]): r["seconds"]
            for r in read_results_csv(csv_path)
        }
    _stamp_configuration(args.out, models, args.resume)
    settings = ScoringSettings(
        args.out, modes, args.resume, args.band_px, args.boundary_tolerance, previous_seconds
    )
    with CsvResultWriter(csv_path) as writer, _sigterm_as_interrupt():
        evaluator = SampleScorer(settings, writer)
        with PhotoLoop(_progress_bar, models, order) as loop:
            for model in models:
                backend = _lazy_backend(model.spec, args.device)
                for sample in loop.photos(model.label):
                    seconds = evaluator.score(backend, model.label, sample)
                    if seconds is not None:
                        loop.bar.set_postfix_str(f"{seconds:.2f} s/img")
    done = loop.done
    notes = []
    if done < total:
        notes.append(
            f"**Interrupted after {done} of {total} images**; the tables cover those only "
            "(the data sets were visited in turns, so each is partly covered)."
        )
    skipped += evaluator.skipped
    for line in evaluator.skipped:
        print(f"warning: skipped {line}", file=sys.stderr)
    summary = render_markdown(
        summarize(evaluator.rows), _command_line(args, models, modes), skipped, notes
    )
    (args.out / "summary.md").write_text(summary, encoding="utf-8")
    _write_sheets(args, evaluator.rows, models, modes, datasets)
    print(summary)
    print(f"results: {csv_path}\nsummary: {args.out / 'summary.md'}")
    if done < total:
        return 130
    return 0 if evaluator.rows else 1


def _stamp_configuration(out: Path, models: list[_Model], resume: bool) -> None:
    """Record which segmenter configuration (quality options, network input) made the saved
    predictions; --resume reuses them only when it is this one: masks from another one (an
    earlier version's defaults) must not mix into the tables."""
    from bgeraser_gui.backends.segmenter import IMPROVED

    for model in models:
        folder = out / "predictions" / model.label
        stamp, current = folder / "configuration.txt", f"{IMPROVED!r}\n"
        if resume and folder.is_dir():
            previous = stamp.read_text() if stamp.is_file() else "not recorded\n"
            if previous != current:
                raise BgEraserError(
                    f"--resume: the predictions in {folder} were made with another "
                    f"configuration ({previous.strip()}; now {current.strip()}); use a new --out"
                )
        folder.mkdir(parents=True, exist_ok=True)
        stamp.write_text(current)


def _interleaved(groups: list[list[EvalSample]]) -> list[EvalSample]:
    """First image of every set, then the second of every set, ...: a run stopped early
    still covers each data set."""
    order = []
    for i in range(max((len(g) for g in groups), default=0)):
        order += [g[i] for g in groups if i < len(g)]
    return order


@contextlib.contextmanager
def _sigterm_as_interrupt() -> Iterator[None]:
    """Treat SIGTERM like Ctrl+C so a stopped run still writes its report."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(signum, frame):
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _lazy_backend(spec: str, device: str):
    """Loads the model on first use, so a fully resumed run never loads it."""
    cache: list = []

    def get():
        if not cache:
            from bgeraser_gui.backends.loader import load_backend

            cache.append(load_backend(spec, device))
        return cache[0]

    return get
