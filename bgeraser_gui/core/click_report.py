"""Reports of the simulated-user evaluation (`bgeraser-cli eval --clicks`): the per-click
CSV, the NoC summary table, the mean-IoU-against-clicks plot and the worst runs' photos with
their clicks drawn on them. Pure PIL drawing, no plotting library."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from bgeraser_gui.core.click_protocol import (
    IOU_AFTER_CLICKS,
    NOC_THRESHOLDS,
    NOF_THRESHOLD,
    NocSummary,
    Trajectory,
)
from bgeraser_gui.core.csv_log import CsvLog
from bgeraser_gui.core.eval_report import command_block

CLICK_COLUMNS = ("dataset", "model", "image", "click", "x", "y", "sign", "iou", "seconds")
POSITIVE_COLOUR, NEGATIVE_COLOUR = (40, 220, 60), (240, 40, 40)
LINE_COLOURS = ((31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40), (148, 103, 189))


class ClickCsvWriter(CsvLog):
    """clicks.csv: one row per click; click 0 is the starting mask (no position; its seconds
    are the engine's per-image preparation)."""

    def __init__(self, path: Path) -> None:
        super().__init__(path, CLICK_COLUMNS)

    def write(self, dataset: str, model: str, image: str, run: Trajectory, setup_s: float) -> None:
        rows = [(dataset, model, image, 0, "", "", "", f"{run.start_iou:.6f}", f"{setup_s:.4f}")]
        for index, step in enumerate(run.steps, start=1):
            sign = "positive" if step.positive else "negative"
            rows.append((dataset, model, image, index, step.x, step.y, sign,
                         f"{step.iou:.6f}", f"{step.seconds:.4f}"))  # fmt: skip
        self.write_rows(rows)


@dataclass
class GroupResult:
    dataset: str
    model: str
    summary: NocSummary
    setup_seconds: list[float]


def _mean(values: Sequence[float]) -> str:
    return f"{sum(values) / len(values):.2f}" if values else "-"


def render_click_summary(
    groups: Sequence[GroupResult], start: str, command: str, notes: Sequence[str] = ()
) -> str:
    """Markdown: NoC table, then the timing of the engine."""
    after = list(IOU_AFTER_CLICKS)
    head = ["data set", "model", "n"] + [f"NoC@{round(t * 100)}" for t in NOC_THRESHOLDS]
    head += [f"NoF@{round(NOF_THRESHOLD * 100)}", "IoU@0"] + [f"IoU@{k}" for k in after]
    lines = [
        "# Click evaluation (simulated user)",
        "",
        *command_block(command),
        f"Start: **{start}**. Protocol of RITM/SimpleClick: each click goes to the deepest "
        "point of the largest error region (positive in missed subject, negative in false "
        "subject); ignored pixels never count. NoC@t = mean clicks until IoU >= t (0 when the "
        "start already reaches it, the click budget N when never); NoF@90 = images not "
        "reaching 0.90 within N clicks (share in brackets); IoU@k = mean IoU after k clicks "
        "(IoU@0 = start). A run stops at the stop IoU; later clicks keep its last IoU, and "
        "thresholds above the stop IoU are not scored (-).",
        "",
        *notes,
        "",
        "| " + " | ".join(head) + " |",
        "|" + "---|" * len(head),
    ]
    for g in groups:
        s = g.summary
        cells = [g.dataset, g.model, str(s.count)]
        cells += ["-" if s.noc[t] is None else f"{s.noc[t]:.2f}" for t in NOC_THRESHOLDS]
        cells += ["-" if s.nof is None else f"{s.nof} ({100.0 * s.nof / s.count:.1f} %)"]
        cells += [_iou_cell(s, k) for k in [0, *after]]
        lines.append("| " + " | ".join(cells) + " |")
    lines += ["", "## Engine time", "", "| data set | model | clicks | s/click mean | median | "
              "max | preparation s/img |", "|---|---|---|---|---|---|---|"]  # fmt: skip
    for g in groups:
        stats = g.summary.seconds_stats()
        timing = ["-", "-", "-"] if stats is None else [f"{v:.3f}" for v in stats]
        count = str(len(g.summary.seconds))
        lines.append(
            "| " + " | ".join([g.dataset, g.model, count, *timing, _mean(g.setup_seconds)]) + " |"
        )
    return "\n".join(lines) + "\n"


def _iou_cell(summary: NocSummary, clicks: int) -> str:
    value = summary.mean_iou_after(clicks)
    return "-" if value is None else f"{value:.3f}"


def _font(size: int):
    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow without a scalable default font
        return ImageFont.load_default()


def plot_iou_curves(
    curves: dict[str, Sequence[float]], path: Path, title: str, size: tuple[int, int] = (720, 440)
) -> None:
    """Line plot of mean IoU (y, 0..1) against clicks (x, 0..N), one line per label."""
    width, height = size
    left, right, top, bottom = 56, 20, 40, 46
    im = Image.new("RGB", size, (255, 255, 255))
    draw = ImageDraw.Draw(im)
    clicks = max(len(c) for c in curves.values()) - 1
    span_x, span_y = width - left - right, height - top - bottom

    def to_px(k: float, value: float) -> tuple[float, float]:
        return left + span_x * k / max(clicks, 1), top + span_y * (1.0 - value)

    font = _font(12)
    for tick in range(11):
        value = tick / 10
        y = to_px(0, value)[1]
        draw.line([(left, y), (width - right, y)], fill=(225, 225, 225))
        draw.text((8, y - 7), f"{value:.1f}", fill=(60, 60, 60), font=font)
    step = max(1, round(clicks / 10))
    for k in range(0, clicks + 1, step):
        x = to_px(k, 0)[0]
        draw.line([(x, top), (x, height - bottom)], fill=(235, 235, 235))
        draw.text((x - 5, height - bottom + 6), str(k), fill=(60, 60, 60), font=font)
    target = to_px(0, NOF_THRESHOLD)[1]
    for x in range(left, width - right, 8):  # dashed line at the NoF threshold
        draw.line([(x, target), (x + 4, target)], fill=(150, 150, 150))
    draw.rectangle([left, top, width - right, height - bottom], outline=(80, 80, 80))
    for index, (label, curve) in enumerate(curves.items()):
        colour = LINE_COLOURS[index % len(LINE_COLOURS)]
        points = [to_px(k, v) for k, v in enumerate(curve)]
        if len(points) > 1:
            draw.line(points, fill=colour, width=3)
        for x, y in points:
            draw.ellipse([x - 3, y - 3, x + 3, y + 3], fill=colour)
        draw.text((left + 10, top + 8 + 16 * index), label, fill=colour, font=font)
    draw.text((left, 12), title, fill=(0, 0, 0), font=_font(15))
    draw.text((left + span_x // 2 - 20, height - 20), "clicks", fill=(0, 0, 0), font=font)
    path.parent.mkdir(parents=True, exist_ok=True)
    im.save(path)


def draw_clicks(photo: np.ndarray, run: Trajectory) -> np.ndarray:
    """The photo with each click as a numbered dot: green positive, red negative."""
    im = Image.fromarray(photo).convert("RGB")
    draw = ImageDraw.Draw(im)
    radius = max(3, round(max(im.size) / 90))
    font = _font(max(10, 2 * radius))
    for index, step in enumerate(run.steps, start=1):
        colour = POSITIVE_COLOUR if step.positive else NEGATIVE_COLOUR
        box = [step.x - radius, step.y - radius, step.x + radius, step.y + radius]
        draw.ellipse(box, fill=colour, outline=(255, 255, 255), width=max(1, radius // 3))
        draw.text((step.x + radius + 1, step.y - radius), str(index), fill=colour, font=font)
    return np.asarray(im)
