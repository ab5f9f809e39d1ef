"""The toggle oracle of `eval --objects` and its report."""

from __future__ import annotations

import numpy as np

from bgeraser_gui.core.history import Rect
from bgeraser_gui.core.object_report import (
    ObjectScore,
    render_object_summary,
    toggle_oracle,
    tuning_half,
)
from bgeraser_gui.core.objects import SubjectObject


def _obj(i: int, box: Rect, source: str = "model") -> SubjectObject:
    alpha = np.full((box.height, box.width), 255, np.uint8)
    return SubjectObject(i, f"object {i}", box, alpha, 0.9, source)


def test_oracle_switches_off_the_wrong_subject_and_on_the_left_out_one():
    gt = np.zeros((100, 100), bool)
    gt[10:40, 10:40] = True  # the wanted: the left-out object and the right subject
    gt[60:90, 60:90] = True
    objects = [
        _obj(1, Rect(0, 50, 40, 100)),  # suggested, wrong
        _obj(2, Rect(60, 60, 90, 90)),  # suggested, right
        _obj(3, Rect(10, 10, 40, 40), "crop"),  # left out, right
    ]
    r = toggle_oracle(objects, gt)
    assert r.suggested == 900 / (2900 + 1800 - 900)
    assert r.single == 900 / 1800
    assert r.toggles[0] == r.suggested
    assert r.toggles[1] == 0.5  # the wrong one off (900 / 1800) beats the found one on
    assert r.toggles[2] == 1.0  # ... and the wrong one off
    assert r.actions2 == 1.0
    ignore = np.zeros_like(gt)
    ignore[50:100, 0:40] = True  # the wrong subject lies where nothing is scored
    assert toggle_oracle(objects, gt, ~ignore).toggles[1] == 1.0


def test_two_actions_reach_any_two_objects_together():
    gt = np.zeros((100, 100), bool)
    gt[0:20, 0:40] = True  # two of four suggested objects
    objects = [_obj(i + 1, Rect(20 * i, 0, 20 * i + 20, 20)) for i in range(4)]
    objects.append(_obj(5, Rect(0, 50, 100, 100)))  # a big wrong one
    r = toggle_oracle(objects, gt)
    assert r.toggles[2] < 1.0 and r.single == 0.5
    assert r.actions2 == 1.0  # solo object 1, switch object 2 on


def test_oracle_without_objects_scores_the_empty_cutout():
    gt = np.zeros((10, 10), bool)
    gt[2:5, 2:5] = True
    r = toggle_oracle([], gt)
    assert (r.suggested, r.single, r.toggles, r.actions2) == (0.0, 0.0, [0.0, 0.0, 0.0], 0.0)


def test_summary_reports_each_set_and_both_halves():
    rows = [ObjectScore("coco", f"s{i}", 0.5, 0.5, 0.6, 0.7, 0.8 + i / 100, 0.9, 3, 1, 0.1, 4)
            for i in range(8)]  # fmt: skip
    text = render_object_summary(rows, "bgeraser-cli eval x --objects")
    lines = [ln for ln in text.splitlines() if ln.startswith("| coco")]
    assert [ln.split(" | ")[1] for ln in lines] == ["all", "tuning", "held out"]
    tuning = [r for r in rows if tuning_half(r.stem)]
    assert lines[1].split(" | ")[2] == str(len(tuning)) and 0 < len(tuning) < 8
    mean = sum(r.best_toggle2 for r in tuning) / len(tuning)
    assert lines[1].split(" | ")[7] == f"{mean:.3f}"
