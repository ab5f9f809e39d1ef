"""How well objects answer "which object?": the toggle oracle and the `eval --objects` report.

A simulated user starts from the automatic cutout (the suggested objects visible) and switches
at most `max_toggles` objects on or off; an oracle that knows the ground truth picks the best
ones. With the Objects panel's *solo* (show only this object) as a second kind of action, two
actions reach also any one object alone and any two objects together (solo one, switch the
other on): `OracleResult.actions2`. Because the objects' >= 0.5 regions never overlap, the IoU of any set of visible objects
follows from per-object counts: IoU = sum(I) / (sum(A) + G - sum(I)), with I the object's
pixels inside the ground truth, A its pixels and G the ground truth's (ignored pixels excluded).
"""

from __future__ import annotations

import itertools
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, fields
from pathlib import Path

import numpy as np

from bgeraser_gui.core.csv_log import CsvLog
from bgeraser_gui.core.eval_report import command_block
from bgeraser_gui.core.objects import SubjectObject


@dataclass(frozen=True)
class ObjectScore:
    """One photo's answer (IoUs of alpha >= 0.5 against the ground truth)."""

    dataset: str
    stem: str
    automatic: float  # the model's mask
    suggested: float  # the union of the suggested objects (the objects' automatic cutout)
    best_single: float  # the best one object alone
    best_toggle1: float  # best reachable with at most one toggle from the suggested set
    best_toggle2: float  # ... at most two toggles
    best_actions2: float  # ... at most two actions, each a toggle or a solo
    objects: int
    found: int  # objects not suggested: found on crops or faint in the model's mask
    split_s: float  # seconds to split (without the crops' model runs)
    crop_runs: int  # model runs on crops this photo needed


@dataclass(frozen=True)
class OracleResult:
    suggested: float  # IoU of the suggested objects
    single: float  # best one object alone
    toggles: list[float]  # best IoU with <= k toggles, k = 0..max_toggles
    actions2: float  # best IoU with <= 2 actions, each a toggle or a solo


def toggle_oracle(
    objects: Sequence[SubjectObject],
    gt: np.ndarray,
    valid: np.ndarray | None = None,
    max_toggles: int = 2,
) -> OracleResult:
    """What the oracle reaches from the suggested objects against the bool truth `gt`."""
    valid = np.ones(gt.shape, bool) if valid is None else valid
    truth = gt & valid
    g = int(np.count_nonzero(truth))
    inside, area = [], []
    for obj in objects:
        m = obj.mask & valid[obj.bbox.slices()]
        inside.append(int(np.count_nonzero(m & truth[obj.bbox.slices()])))
        area.append(int(np.count_nonzero(m)))

    def iou(chosen: set[int]) -> float:
        i = sum(inside[k] for k in chosen)
        union = sum(area[k] for k in chosen) + g - i
        return 1.0 if union == 0 else i / union

    everyone = range(len(objects))
    start = {k for k, o in enumerate(objects) if o.suggested}
    best = [iou(start)]
    for toggles in range(1, max_toggles + 1):
        flips = itertools.combinations(everyone, toggles)
        best.append(max([best[-1]] + [iou(start ^ set(c)) for c in flips]))
    single = max((iou({k}) for k in everyone), default=iou(set()))
    pairs = max((iou(set(c)) for c in itertools.combinations(everyone, 2)), default=single)
    return OracleResult(best[0], single, best, max(best[min(2, max_toggles)], single, pairs))


class ObjectCsvWriter(CsvLog):
    """objects.csv: one row per photo, the fields of `ObjectScore`."""

    def __init__(self, path: Path) -> None:
        super().__init__(path, [f.name for f in fields(ObjectScore)])

    def write(self, score: ObjectScore) -> None:
        row = [getattr(score, f.name) for f in fields(ObjectScore)]
        self.write_rows([[f"{v:.4f}" if isinstance(v, float) else v for v in row]])


def tuning_half(stem: str) -> bool:
    """The half of a data set the thresholds may be chosen on (stable for any subset)."""
    return zlib.crc32(stem.encode("utf-8")) % 2 == 0


def _mean(values: Sequence[float]) -> str:
    return f"{sum(values) / len(values):.3f}" if values else "-"


def render_object_summary(
    scores: Sequence[ObjectScore], command: str, notes: Sequence[str] = ()
) -> str:
    """Markdown: per data set and half (`tuning_half`), mean IoUs and time."""
    head = ["data set", "half", "n", "IoU automatic", "IoU objects (suggested)",
            "best single object", "best <= 1 toggle", "best <= 2 toggles",
            "best <= 2 actions (toggle/solo)", "objects/img",
            "not shown (found, faint, hidden)/img", "split s/img", "crop runs/img"]  # fmt: skip
    lines = [
        "# Objects evaluation (which object?)",
        "",
        *command_block(command),
        "IoU of alpha >= 0.5 (ignored pixels never count). *automatic*: the model's mask; "
        "*suggested*: the union of the objects shown by default; *best single object*: the "
        "one object nearest the ground truth alone; *best <= k toggles*: the best IoU an "
        "oracle reaches by switching at most k objects on or off from the suggested set; "
        "*best <= 2 actions*: each action a toggle or a solo (show only this object), so also "
        "any one object alone or any two together. "
        "Halves: a photo is in the tuning half when the CRC-32 of its name is even; the "
        "split's thresholds were chosen on the tuning half of coco_mval_sub, the other half "
        "is held out.",
        "",
        *notes,
        "",
        "| " + " | ".join(head) + " |",
        "|" + "---|" * len(head),
    ]
    for dataset in sorted({s.dataset for s in scores}):
        rows = [s for s in scores if s.dataset == dataset]
        tuning = [s for s in rows if tuning_half(s.stem)]
        held_out = [s for s in rows if not tuning_half(s.stem)]
        for half, part in (("all", rows), ("tuning", tuning), ("held out", held_out)):
            cells = [dataset, half, str(len(part))]
            for name in ("automatic", "suggested", "best_single", "best_toggle1",
                         "best_toggle2", "best_actions2", "objects", "found"):  # fmt: skip
                cells.append(_mean([float(getattr(s, name)) for s in part]))
            cells.append(_mean([s.split_s for s in part]))
            cells.append(_mean([float(s.crop_runs) for s in part]))
            lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"
