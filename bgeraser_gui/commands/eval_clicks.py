"""`bgeraser-cli eval --clicks N`: a simulated user clicks on the click-to-select engine.

For each photo the engine (`core.interactive.ClickSession`, the one the editor uses) starts
from the model's automatic mask (or from nothing with `--from-scratch`) and receives the
clicks of the standard protocol (`core.click_protocol`). Writes into --out: `clicks.csv`,
`clicks_summary.md`, `clicks_iou_<set>.png` (mean IoU against clicks), worst-N contact sheets
`worst_clicks_<model>_<set>.png/.html` (clicks drawn on the photo) and, with `--save-masks`,
`masks/<model>/<set>/<stem>_k<k>.png`. The automatic masks are the eval's raw predictions
(`predictions/<model>/raw/<set>/<stem>.png`, 8-bit): `--resume` reuses them, so a rerun
costs only click work.
"""

from __future__ import annotations

import argparse
import hashlib
import shlex
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from bgeraser_gui.commands.photo_loop import PhotoLoop, skip_photo
from bgeraser_gui.core.click_proposals import model_segment
from bgeraser_gui.core.click_protocol import (
    DEFAULT_STOP_IOU,
    NOF_THRESHOLD,
    Trajectory,
    clicks_to_reach,
    iou_after,
    simulate,
    summarize_runs,
)
from bgeraser_gui.core.click_report import (
    ClickCsvWriter,
    GroupResult,
    draw_clicks,
    plot_iou_curves,
    render_click_summary,
)
from bgeraser_gui.core.compose import to_alpha_u8
from bgeraser_gui.core.contact_sheet import SheetItem, write_contact_sheet
from bgeraser_gui.core.errors import BgEraserError
from bgeraser_gui.core.eval_dataset import EvalSample, LoadedSample, load_sample
from bgeraser_gui.core.eval_runner import load_alpha, prediction_path, save_alpha

# The crops' answers (one network pass each, `model_segment`); renamed when what a crop is
# asked changes, so that --resume never reuses answers of another kind
CROPS_FOLDER = "crops-1pass"


def add_click_arguments(parser: argparse.ArgumentParser) -> None:
    g = parser.add_argument_group("click to select (simulated user)")
    g.add_argument("--clicks", type=int, metavar="N",
                   help="run the click protocol with up to N clicks per photo instead of "
                   "scoring cutouts (writes clicks.csv and clicks_summary.md)")  # fmt: skip
    g.add_argument("--from-scratch", action="store_true",
                   help="with --clicks: start from an empty mask instead of the model's")  # fmt: skip
    g.add_argument("--save-masks", metavar="K,K", help="with --clicks: save the mask after "
                   "K clicks as masks/<model>/<set>/<stem>_k<K>.png, e.g. 1,3,5")  # fmt: skip
    g.add_argument("--stop-iou", type=float, default=DEFAULT_STOP_IOU, metavar="IOU",
                   help="with --clicks: stop clicking on a photo once its IoU reaches this "
                   f"(default: {DEFAULT_STOP_IOU}, as RITM; 1.01 = always N clicks)")  # fmt: skip


def check_click_arguments(args: argparse.Namespace) -> tuple[int, ...]:
    """Validate the click options; returns the --save-masks click counts."""
    if args.clicks is None:
        if args.from_scratch or args.save_masks:
            raise BgEraserError("--from-scratch and --save-masks need --clicks N")
        return ()
    if args.clicks < 1:
        raise BgEraserError("--clicks must be at least 1")
    try:
        counts = tuple(sorted({int(k) for k in (args.save_masks or "").split(",") if k.strip()}))
    except ValueError:
        message = f"--save-masks: use click counts like 1,3,5 (got {args.save_masks!r})"
        raise BgEraserError(message) from None
    if any(k < 0 or k > args.clicks for k in counts):
        raise BgEraserError(f"--save-masks: click counts must be between 0 and {args.clicks}")
    return counts


def _command_line(args: argparse.Namespace, models) -> str:
    parts = ["bgeraser-cli", "eval", *map(str, args.datasets)]
    for m in models:
        parts += ["--model", m.spec]
    parts += ["--clicks", str(args.clicks)]
    if args.from_scratch:
        parts.append("--from-scratch")
    if args.save_masks:
        parts += ["--save-masks", args.save_masks]
    if args.stop_iou != DEFAULT_STOP_IOU:
        parts += ["--stop-iou", str(args.stop_iou)]
    parts += ["--out", str(args.out)]
    if args.limit is not None:
        parts += ["--limit", str(args.limit)]
    return shlex.join(parts)


class _ModelAnswers:
    """The model's masks for one model, kept as 8-bit PNG in --out like eval's predictions:
    the automatic mask at `predictions/<model>/raw/<set>/<stem>.png`, each crop the engine asks
    about at `predictions/<model>/crops-1pass/<hash of the crop's pixels>.png`. With --resume they
    are read back instead of recomputed, so a rerun costs only the engine's own work. Fresh or
    reused, they are handed on as the same 8-bit values, so a resumed run gives the same
    clicks."""

    def __init__(self, get_backend: Callable, out: Path, label: str, resume: bool) -> None:
        self.get_backend, self.out, self.label, self.resume = get_backend, out, label, resume
        self.crops_computed = self.crops_reused = 0

    def automatic(self, sample: EvalSample, rgb: np.ndarray) -> np.ndarray:
        path = prediction_path(self.out, self.label, "raw", sample)
        return self._answer(path, rgb, lambda: self.get_backend().predict)[0]

    def crop(self, rgb: np.ndarray) -> np.ndarray:
        key = hashlib.sha1(rgb.tobytes() + repr(rgb.shape).encode()).hexdigest()
        path = self.out / "predictions" / self.label / CROPS_FOLDER / f"{key}.png"
        mask, reused = self._answer(path, rgb, lambda: model_segment(self.get_backend()))
        self.crops_reused += reused
        self.crops_computed += not reused
        return mask

    def _answer(self, path: Path, rgb: np.ndarray, segment: Callable) -> tuple[np.ndarray, bool]:
        reused = self.resume and path.exists()
        if reused:
            alpha = load_alpha(path)
        else:
            alpha = to_alpha_u8(np.asarray(segment()(rgb), dtype=np.float32))
            save_alpha(path, alpha)
        return alpha.astype(np.float32) / 255.0, reused


class _WorstRuns:
    """The `count` worst runs of one group: never reaching 0.90 first, then most clicks to
    0.90, then lowest final IoU. Keeps their arrays for the contact sheet."""

    def __init__(self, count: int) -> None:
        self.count, self.items = count, []

    def offer(self, data: LoadedSample, run: Trajectory) -> None:
        if self.count <= 0:
            return
        reached = clicks_to_reach(run.ious, NOF_THRESHOLD)
        key = (-(reached if reached is not None else 10**6), run.ious[-1])
        self.items.append((key, data, run))
        self.items.sort(key=lambda item: item[0])
        del self.items[self.count :]


def _sheet_item(data: LoadedSample, run: Trajectory, model: str, start: str) -> SheetItem:
    ious = run.ious
    reached = clicks_to_reach(ious, NOF_THRESHOLD)
    positives = sum(s.positive for s in run.steps)
    caption = (
        f"clicks to 0.90: {'never' if reached is None else reached}   IoU start {ious[0]:.3f}"
        f"  1: {iou_after(ious, 1):.3f}  5: {iou_after(ious, 5):.3f}  last: {ious[-1]:.3f}"
        f"   {positives} positive, {len(run.steps) - positives} negative"
    )
    title = f"{data.sample.dataset}/{data.sample.stem} - {model} ({start})"
    photo = draw_clicks(data.rgb, run)
    return SheetItem(title, caption, photo, data.alpha, run.final_mask, data.ignore)


class _Results:
    """What the runs gave, per (data set, model)."""

    def __init__(self, worst: int) -> None:
        self.worst_count = worst
        self.runs: dict[tuple[str, str], list[list[float]]] = {}
        self.seconds: dict[tuple[str, str], list[float]] = {}
        self.setup: dict[tuple[str, str], list[float]] = {}
        self.worst: dict[tuple[str, str], _WorstRuns] = {}
        self.answers: list[_ModelAnswers] = []

    def add(self, group: tuple[str, str], data: LoadedSample, run: Trajectory, prepared: float):
        self.runs.setdefault(group, []).append(run.ious)
        self.seconds.setdefault(group, []).extend(s.seconds for s in run.steps)
        self.setup.setdefault(group, []).append(prepared)
        self.worst.setdefault(group, _WorstRuns(self.worst_count)).offer(data, run)

    def groups(self, max_clicks: int, stop_iou: float) -> list[GroupResult]:
        found = []
        for (dataset, model), ious in self.runs.items():
            key = (dataset, model)
            summary = summarize_runs(ious, max_clicks, self.seconds[key], stop_iou=stop_iou)
            found.append(GroupResult(dataset, model, summary, self.setup[key]))
        return sorted(found, key=lambda g: (g.dataset, g.model))


def _simulate_photo(
    args, data: LoadedSample, mask, answers: _ModelAnswers, keep
) -> tuple[Trajectory, float]:
    """One photo through the editor's click engine; returns the run and the engine's
    per-image preparation time."""
    from bgeraser_gui.core.interactive import Click, ClickSession

    answers.get_backend()  # the model loads before the clock starts
    began = time.perf_counter()
    session = ClickSession(data.rgb, mask, segment=answers.crop)
    prepared = time.perf_counter() - began
    run = simulate(
        lambda x, y, positive: session.add(Click(x, y, positive)),
        mask, data.alpha, data.ignore, args.clicks, args.stop_iou, keep,
    )  # fmt: skip
    return run, prepared


def run_click_eval(
    args: argparse.Namespace,
    models,
    order: list[EvalSample],
    skipped: list[str],
    backend_for: Callable[[str, str], Callable],
    progress_bar: Callable[[int], object],
) -> int:
    """The click protocol over `order` for every model; writes the reports into args.out."""
    keep = check_click_arguments(args)
    results = _Results(args.worst)
    with (
        PhotoLoop(progress_bar, models, order) as loop,
        ClickCsvWriter(args.out / "clicks.csv") as writer,
    ):
        for model in models:
            answers = _ModelAnswers(
                backend_for(model.spec, args.device), args.out, model.label, args.resume
            )
            results.answers.append(answers)
            for sample in loop.photos(model.label):
                try:
                    data = load_sample(sample)
                    mask = None
                    if not args.from_scratch:
                        mask = answers.automatic(sample, data.rgb)
                    run, prepared = _simulate_photo(args, data, mask, answers, keep)
                except BgEraserError as exc:
                    skip_photo(skipped, sample, exc)
                else:
                    writer.write(sample.dataset, model.label, sample.stem, run, prepared)
                    results.add((sample.dataset, model.label), data, run, prepared)
                    _save_masks(args.out, model.label, sample, run)
                    loop.bar.set_postfix_str(f"{len(run.steps)} clicks, IoU {run.ious[-1]:.3f}")
    return _report(args, models, results, skipped, loop.done, loop.total)


def _save_masks(out: Path, model: str, sample: EvalSample, run: Trajectory) -> None:
    for clicks, mask in run.kept_masks.items():
        path = out / "masks" / model / sample.dataset / f"{sample.stem}_k{clicks}.png"
        save_alpha(path, to_alpha_u8(np.asarray(mask, dtype=np.float32)))


def _report(args, models, results: _Results, skipped: list[str], done: int, total: int) -> int:
    start = "empty mask (--from-scratch)" if args.from_scratch else "automatic mask"
    groups = results.groups(args.clicks, args.stop_iou)
    computed = sum(a.crops_computed for a in results.answers)
    reused = sum(a.crops_reused for a in results.answers)
    notes = [
        f"Stop IoU: {args.stop_iou:g}. Click budget N = {args.clicks}. Model runs on crops: "
        f"{computed} computed (their time is in s/click), {reused} reused from --out "
        "(--resume; no model time in s/click)."
    ]
    if done < total:
        notes.append(f"**Interrupted after {done} of {total} images**; the tables cover those.")
    notes += [f"Skipped: {line}" for line in skipped]
    summary = render_click_summary(groups, start, _command_line(args, models), notes)
    (args.out / "clicks_summary.md").write_text(summary, encoding="utf-8")
    for dataset in dict.fromkeys(g.dataset for g in groups):
        curves = {g.model: g.summary.curve for g in groups if g.dataset == dataset}
        title = f"{dataset}: mean IoU after k clicks ({start})"
        plot_iou_curves(curves, args.out / f"clicks_iou_{dataset}.png", title)
    for (dataset, model), keeper in results.worst.items():
        stem = args.out / f"worst_clicks_{model}_{dataset}"
        write_contact_sheet(
            (_sheet_item(data, run, model, start) for _, data, run in keeper.items),
            stem.with_suffix(".png"),
            stem.with_suffix(".html"),
            title=f"Worst {len(keeper.items)} in {dataset} by clicks to 0.90: {model} ({start})",
        )
    print(summary)
    print(f"clicks: {args.out / 'clicks.csv'}\nsummary: {args.out / 'clicks_summary.md'}")
    if done < total:
        return 130
    return 0 if groups else 1
