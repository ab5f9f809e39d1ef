"""Evaluation results on disk: the per-image CSV and the Markdown summary.

A result row is a flat dict: `dataset`, `stem`, `model`, `mode` ("raw" | "refined"),
`seconds` (prediction, plus refinement for "refined"), the metrics of
`core.metrics.evaluate_alpha` (`iou`, `sad`, ..., `band_iou`, `band_sad`, ...), `band`
(which unknown region was used) and `review` (the cutout's review score, core.review_score).

The summary also measures the review score as a detector of bad cutouts, per group: its rank
correlation with the real error (1 - IoU, and SAD) and how many of the failures (IoU below
`REVIEW_FAILURE_IOU`) a person who looks at the top `REVIEW_TOP_FRACTION` of scores finds.
"""

from __future__ import annotations

import csv
import math
import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from bgeraser_gui.core.csv_log import CsvLog

ID_COLUMNS = ("dataset", "stem", "model", "mode", "width", "height", "seconds", "band")
METRIC_COLUMNS = ("iou", "sad", "mse", "grad", "conn", "bf")
BAND_COLUMNS = tuple("band_" + name for name in METRIC_COLUMNS)
REVIEW_COLUMN = "review"
CSV_COLUMNS = ID_COLUMNS + METRIC_COLUMNS + BAND_COLUMNS + (REVIEW_COLUMN,)
REVIEW_FAILURE_IOU = 0.8  # a cutout below this IoU is a failure the review score should find
REVIEW_TOP_FRACTION = 0.2  # the share of a batch a person looks at first
SAD_FAILURE_THRESHOLD = 50.0  # SAD/1000 above this counts as a failed cutout
ALL_SETS = "all sets"
MODE_ORDER = {"raw": 0, "refined": 1}


def command_block(command: str) -> list[str]:
    """The markdown lines that show the command a report came from."""
    return ["Command:", "", "```", command, "```", ""]


class CsvResultWriter(CsvLog):
    """results.csv: one row per photo and mode (`CSV_COLUMNS`)."""

    def __init__(self, path: Path) -> None:
        super().__init__(path, CSV_COLUMNS)

    def write(self, row: dict) -> None:
        self.write_rows([[_csv_value(row.get(k)) for k in CSV_COLUMNS]])


def _csv_value(value: object) -> object:
    if isinstance(value, float):
        return "" if math.isnan(value) else f"{value:.6g}"
    return "" if value is None else value


def read_results_csv(path: Path) -> list[dict]:
    """Rows of a CSV written by CsvResultWriter, numbers converted back to float."""
    rows = []
    with path.open(newline="", encoding="utf-8") as f:
        for raw in csv.DictReader(f):
            row: dict = dict(raw)
            for key in (
                "width",
                "height",
                "seconds",
                *METRIC_COLUMNS,
                *BAND_COLUMNS,
                REVIEW_COLUMN,
            ):
                value = row.get(key)
                row[key] = float(value) if value not in (None, "") else None
            rows.append(row)
    return rows


@dataclass
class GroupSummary:
    dataset: str
    model: str
    mode: str
    count: int
    mean: dict[str, float]
    median: dict[str, float]
    sad_failures: int  # images with SAD/1000 > SAD_FAILURE_THRESHOLD
    seconds_mean: float | None
    review: ReviewDetection | None = None  # None when the rows carry no review score


@dataclass(frozen=True)
class ReviewDetection:
    """How well the review score ranks the real errors of one group."""

    rho_iou: float  # Spearman correlation of the score with 1 - IoU
    rho_sad: float  # ... and with SAD
    failures: int  # images with IoU < REVIEW_FAILURE_IOU
    caught: int  # of those, how many rank in the top REVIEW_TOP_FRACTION of scores


def review_detection(rows: Sequence[dict]) -> ReviewDetection | None:
    """Detector figures of the review score over `rows` (None with fewer than 3 scored rows)."""
    scored = [r for r in rows if all(_is_number(r.get(k)) for k in (REVIEW_COLUMN, "iou", "sad"))]
    if len(scored) < 3:
        return None
    from scipy.stats import spearmanr

    score = [r[REVIEW_COLUMN] for r in scored]
    rho_iou = float(spearmanr(score, [1.0 - r["iou"] for r in scored])[0])
    rho_sad = float(spearmanr(score, [r["sad"] for r in scored])[0])
    top = max(1, round(REVIEW_TOP_FRACTION * len(scored)))
    ranked = sorted(scored, key=lambda r: -r[REVIEW_COLUMN])  # stable: ties keep input order
    failing = [r for r in scored if r["iou"] < REVIEW_FAILURE_IOU]
    caught = sum(1 for r in ranked[:top] if r["iou"] < REVIEW_FAILURE_IOU)
    return ReviewDetection(rho_iou, rho_sad, len(failing), caught)


def _stats(values: list[float]) -> tuple[float, float]:
    if not values:
        return math.nan, math.nan
    return statistics.fmean(values), statistics.median(values)


def summarize(rows: Iterable[dict]) -> list[GroupSummary]:
    """Mean and median of every metric per (data set, model, mode), plus an 'all sets' group
    per (model, mode). Sorted by data set, then model, then raw before refined."""
    groups: dict[tuple[str, str, str], list[dict]] = {}
    for row in rows:
        for dataset in (row["dataset"], ALL_SETS):
            groups.setdefault((dataset, row["model"], row["mode"]), []).append(row)
    several_sets = len({key[0] for key in groups} - {ALL_SETS}) > 1
    summaries = []
    for (dataset, model, mode), members in groups.items():
        if dataset == ALL_SETS and not several_sets:
            continue  # it would repeat the single data set's rows
        mean, median = {}, {}
        for column in METRIC_COLUMNS + BAND_COLUMNS:
            values = [r[column] for r in members if _is_number(r.get(column))]
            mean[column], median[column] = _stats(values)
        seconds = [r["seconds"] for r in members if _is_number(r.get("seconds"))]
        summaries.append(
            GroupSummary(
                dataset=dataset,
                model=model,
                mode=mode,
                count=len(members),
                mean=mean,
                median=median,
                sad_failures=sum(
                    1
                    for r in members
                    if _is_number(r.get("sad")) and r["sad"] > SAD_FAILURE_THRESHOLD
                ),
                seconds_mean=statistics.fmean(seconds) if seconds else None,
                review=review_detection(members),
            )
        )
    summaries.sort(
        key=lambda s: (s.dataset == ALL_SETS, s.dataset, s.model, MODE_ORDER.get(s.mode, 9))
    )
    return summaries


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not math.isnan(value)


def _cell(summary: GroupSummary, column: str, digits: int) -> str:
    mean, median = summary.mean[column], summary.median[column]
    if math.isnan(mean):
        return "-"
    return f"{mean:.{digits}f} / {median:.{digits}f}"


WHOLE_TABLE = (("IoU", "iou", 3), ("SAD", "sad", 2), ("MSE", "mse", 4), ("Grad", "grad", 2),
               ("Conn", "conn", 2), ("BF", "bf", 3))  # fmt: skip
BAND_TABLE = (("IoU", "band_iou", 3), ("SAD", "band_sad", 2), ("MSE", "band_mse", 4),
              ("Grad", "band_grad", 2), ("Conn", "band_conn", 2), ("BF", "band_bf", 3))  # fmt: skip


def _table(summaries: Sequence[GroupSummary], spec: tuple, extra: bool) -> list[str]:
    head = ["data set", "model", "mode", "n"] + [title for title, _, _ in spec]
    if extra:
        head += [f"SAD>{SAD_FAILURE_THRESHOLD:g}", "s/img"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for s in summaries:
        cells = [s.dataset, s.model, s.mode, str(s.count)]
        cells += [_cell(s, column, digits) for _, column, digits in spec]
        if extra:
            secs = "-" if s.seconds_mean is None else f"{s.seconds_mean:.2f}"
            cells += [str(s.sad_failures), secs]
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def render_markdown(
    summaries: Sequence[GroupSummary],
    command: str | None = None,
    skipped: Sequence[str] = (),
    notes: Sequence[str] = (),
) -> str:
    """The summary document: whole-image table, unknown-band table, skipped images."""
    out = ["# Evaluation summary", ""]
    if command:
        out += command_block(command)
    out += [
        "Each cell is **mean / median** over the images of the group. IoU and BF (boundary "
        "F-score) are at alpha 0.5, higher is better; SAD, Grad and Conn are the "
        "alphamatting.com sums divided by 1000 and MSE is the mean squared alpha error "
        "(alpha in [0, 1]), lower is better. "
        f"`SAD>{SAD_FAILURE_THRESHOLD:g}` counts images whose whole-image SAD/1000 exceeds "
        f"{SAD_FAILURE_THRESHOLD:g}; `s/img` is seconds per image (prediction, plus "
        "refinement for `refined`). Pixels marked in a set's `ignore/` masks never count.",
        "",
    ]
    if notes:
        out += [*notes, ""]
    out += ["## Whole image", ""] + _table(summaries, WHOLE_TABLE, extra=True) + [""]
    out += [
        "## Unknown band",
        "",
        "The trimap's unknown (128) region where the set has `trimap/`, otherwise the pixels "
        "within the band width of the ground-truth 0.5 contour (plus any fractional "
        "ground-truth alpha).",
        "",
    ]
    out += _table(summaries, BAND_TABLE, extra=False) + [""]
    out += _review_table(summaries)
    if skipped:
        out += ["## Skipped", ""] + [f"- {line}" for line in skipped] + [""]
    return "\n".join(out)


def _review_table(summaries: Sequence[GroupSummary]) -> list[str]:
    rated = [s for s in summaries if s.review is not None]
    if not rated:
        return []
    top = f"{REVIEW_TOP_FRACTION:.0%}"
    out = [
        "## Review score as a detector of bad cutouts",
        "",
        "Spearman rank correlation of the review score with the real error, and how many of "
        f"the failures (IoU < {REVIEW_FAILURE_IOU:g}) rank in the top {top} of scores (the "
        "share a person sorting a batch by the score looks at first).",
        "",
        "| data set | model | mode | n | rho (1 - IoU) | rho (SAD) | failures | in top "
        + top
        + " |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for s in rated:
        d = s.review
        share = "-" if not d.failures else f"{d.caught} ({d.caught / d.failures:.0%})"
        out.append(
            f"| {s.dataset} | {s.model} | {s.mode} | {s.count} | {d.rho_iou:+.2f} | "
            f"{d.rho_sad:+.2f} | {d.failures} | {share} |"
        )
    return out + [""]


def worst_rows(rows: Iterable[dict], count: int, key: str = "iou") -> list[dict]:
    """The `count` worst rows: lowest `key` for IoU/BF scores, highest for error metrics."""
    scored = [r for r in rows if _is_number(r.get(key))]
    higher_is_better = key.removeprefix("band_") in ("iou", "bf")
    scored.sort(key=lambda r: r[key], reverse=not higher_is_better)
    return scored[:count]
