"""`bgeraser-cli eval --objects`: how well objects answer "which object?".

For each photo the model's automatic mask is split into objects (`core.objects.split_objects`,
the editor's and the batch's split), with a search for left-out things on N x N crops when
`--object-crops N` is given. Reported (`core.object_report`): the automatic IoU, the IoU of the
suggested objects, of the best single object, and the best IoU an oracle reaches with at most
one or two toggles. Writes into --out: `objects.csv`, `objects_summary.md`. The model's answers
are kept like the click eval's (`predictions/<model>/raw/...` and `.../crops-1pass/...`):
`--resume` reuses them, so a rerun costs only the split.
"""

from __future__ import annotations

import argparse
import shlex
import time
from collections.abc import Callable

from bgeraser_gui.commands.eval_clicks import _ModelAnswers
from bgeraser_gui.commands.photo_loop import PhotoLoop, skip_photo
from bgeraser_gui.core.click_proposals import CropSegmenter
from bgeraser_gui.core.errors import BgEraserError
from bgeraser_gui.core.eval_dataset import EvalSample, load_sample
from bgeraser_gui.core.metrics import iou
from bgeraser_gui.core.object_report import (
    ObjectCsvWriter,
    ObjectScore,
    render_object_summary,
    toggle_oracle,
)
from bgeraser_gui.core.object_split import crop_centres
from bgeraser_gui.core.objects import SplitSettings, split_objects

# Off by default: on 10 held-out coco_mval_sub photos the 2 x 2 search cost ~5.5 s CPU per crop
# (22 s per photo on a 2-core machine) and raised no oracle IoU
DEFAULT_CROP_GRID = 0


def add_object_arguments(parser: argparse.ArgumentParser) -> None:
    g = parser.add_argument_group("objects (which object?)")
    g.add_argument("--objects", action="store_true",
                   help="split each automatic mask into objects and report the automatic IoU, "
                   "the best single object and the best IoU with <= 2 toggles (oracle); "
                   "writes objects.csv and objects_summary.md")  # fmt: skip
    g.add_argument("--object-crops", type=int, default=DEFAULT_CROP_GRID, metavar="N",
                   help="with --objects: search left-out things on N x N crops (N^2 model runs "
                   f"per photo; default: {DEFAULT_CROP_GRID} = no search, as the batch and the "
                   "editor's Find objects by default; the editor's 'Also look for things the "
                   f"model left out' box searches {SplitSettings().crop_grid} x "
                   f"{SplitSettings().crop_grid})")  # fmt: skip


def _command_line(args: argparse.Namespace, models) -> str:
    parts = ["bgeraser-cli", "eval", *map(str, args.datasets)]
    for m in models:
        parts += ["--model", m.spec]
    parts += ["--objects", "--object-crops", str(args.object_crops), "--out", str(args.out)]
    if args.limit is not None:
        parts += ["--limit", str(args.limit)]
    if args.resume:
        parts.append("--resume")
    return shlex.join(parts)


def score_photo(data, mask, answers: _ModelAnswers, grid: int) -> ObjectScore:
    """Split one photo's automatic mask into objects and score them against its truth."""
    runs_before = answers.crops_computed + answers.crops_reused
    settings = SplitSettings(crop_grid=grid)
    crops = CropSegmenter(data.rgb, answers.crop) if grid > 0 else None
    if crops is not None:  # the model's time on crops is not the split's: run them first
        for x, y, side in crop_centres(*data.rgb.shape[:2], settings):
            crops.proposal(x, y, side)
    began = time.perf_counter()
    objects = split_objects(data.rgb, mask, crops=crops, settings=settings)
    seconds = time.perf_counter() - began
    valid = None if data.ignore is None else ~data.ignore
    r = toggle_oracle(objects, data.alpha >= 128, valid)
    return ObjectScore(
        data.sample.dataset, data.sample.stem, iou(mask, data.alpha, valid), r.suggested,
        r.single, r.toggles[1], r.toggles[2], r.actions2, len(objects),
        sum(not o.suggested for o in objects),
        seconds, answers.crops_computed + answers.crops_reused - runs_before,
    )  # fmt: skip


def run_object_eval(
    args: argparse.Namespace,
    models,
    order: list[EvalSample],
    skipped: list[str],
    backend_for: Callable[[str, str], Callable],
    progress_bar: Callable[[int], object],
) -> int:
    """Objects over `order` for every model; writes the reports into args.out."""
    if args.object_crops < 0:
        raise BgEraserError("--object-crops must be 0 or more")
    scores: list[ObjectScore] = []
    answers_used = []
    with (
        PhotoLoop(progress_bar, models, order) as loop,
        ObjectCsvWriter(args.out / "objects.csv") as writer,
    ):
        for model in models:
            answers = _ModelAnswers(
                backend_for(model.spec, args.device), args.out, model.label, args.resume
            )
            answers_used.append(answers)
            for sample in loop.photos(model.label):
                try:
                    data = load_sample(sample)
                    mask = answers.automatic(sample, data.rgb)
                    score = score_photo(data, mask, answers, args.object_crops)
                except BgEraserError as exc:
                    skip_photo(skipped, sample, exc)
                else:
                    writer.write(score)
                    scores.append(score)
                    loop.bar.set_postfix_str(f"best2 {score.best_toggle2:.3f}")
    computed = sum(a.crops_computed for a in answers_used)
    reused = sum(a.crops_reused for a in answers_used)
    notes = [f"Crop grid: {args.object_crops} x {args.object_crops} (0: what the batch and the "
             "editor's Find objects run by default). Model runs on crops: "
             f"{computed} computed, {reused} reused from --out (--resume)."]  # fmt: skip
    if loop.interrupted:
        notes.append(
            f"**Interrupted after {loop.done} of {loop.total} images**; the tables cover those."
        )
    notes += [f"Skipped: {line}" for line in skipped]
    summary = render_object_summary(scores, _command_line(args, models), notes)
    (args.out / "objects_summary.md").write_text(summary, encoding="utf-8")
    print(summary)
    print(f"objects: {args.out / 'objects.csv'}\nsummary: {args.out / 'objects_summary.md'}")
    if loop.interrupted:
        return 130
    return 0 if scores else 1
