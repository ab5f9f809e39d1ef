"""`bgeraser-cli eval --clicks`: the simulated user on the editor's click engine, end to end
on a synthetic data set written here (the model is the fake of test_eval_cli: red pixels are
the subject; the click engine is the real one)."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from test_eval_cli import (
    _listing,
    _mask,
    _photo,
    _save,
    fake_model,  # noqa: F401  (the fixture, used through pytestmark)
    main,
)

from bgeraser_gui.core import interactive
from bgeraser_gui.core.click_protocol import summarize_runs
from bgeraser_gui.core.metrics import iou, scored_pixels

pytestmark = pytest.mark.usefixtures("fake_model")

SUBJECT, OTHER = (8, 24, 4, 16), (8, 24, 24, 36)  # (y0, y1, x0, x1); photos are 32x40


def two_boxes_set(root: Path) -> Path:
    """'two': two red boxes, the ground truth is the left one (the automatic mask takes
    both); 'exact': the automatic mask is right."""
    two = _photo(SUBJECT)
    y0, y1, x0, x1 = OTHER
    two[y0:y1, x0:x1] = (220, 30, 30)
    _save(root / "images" / "two.png", two)
    _save(root / "alpha" / "two.png", _mask(SUBJECT))
    _save(root / "images" / "exact.png", _photo(SUBJECT))
    _save(root / "alpha" / "exact.png", _mask(SUBJECT))
    return root


@pytest.fixture
def click_set(tmp_path: Path) -> Path:
    """'two': two red boxes, the ground truth is the left one (the automatic mask takes both);
    'exact': the automatic mask is right; 'banded': the ground truth is 2 columns wider than
    the red box, and those columns are ignored (as grabcut's band)."""
    root = two_boxes_set(tmp_path / "clickset")
    _save(root / "images" / "banded.png", _photo(SUBJECT))
    _save(root / "alpha" / "banded.png", _mask((8, 24, 4, 18)))
    ignore = np.zeros((32, 40), np.uint8)
    ignore[:, 16:18] = 255
    _save(root / "ignore" / "banded.png", ignore)
    return root


def _clicks(out: Path) -> list[dict]:
    with (out / "clicks.csv").open(newline="") as f:
        return list(csv.DictReader(f))


def _runs(rows: list[dict]) -> dict[str, list[float]]:
    runs: dict[str, list[float]] = {}
    for row in rows:
        runs.setdefault(row["image"], []).append(float(row["iou"]))
    return runs


@pytest.fixture
def engine_calls(monkeypatch) -> list[interactive.Click]:
    """Every click the real engine receives."""
    calls: list[interactive.Click] = []
    add = interactive.ClickSession.add

    def counting_add(self, click, cancel=None):
        calls.append(click)
        return add(self, click, cancel)

    monkeypatch.setattr(interactive.ClickSession, "add", counting_add)
    return calls


def test_clicks_csv_summary_plot_masks_and_sheet(click_set, tmp_path, engine_calls):
    before = _listing(click_set)
    out = tmp_path / "out"
    args = ["eval", str(click_set), "--model", "m", "--clicks", "4", "--save-masks", "0,1,4"]
    assert main([*args, "--worst", "2", "--out", str(out)]) == 0
    rows = _clicks(out)
    assert list(rows[0]) == ["dataset", "model", "image", "click", "x", "y", "sign", "iou",
                             "seconds"]  # fmt: skip
    runs = _runs(rows)
    assert runs["exact"] == [1.0]  # already right: no click
    assert runs["two"][0] == pytest.approx(0.5)  # both boxes taken, one is wanted
    first = next(r for r in rows if r["image"] == "two" and r["click"] == "1")
    x, y = int(first["x"]), int(first["y"])
    assert first["sign"] == "negative" and OTHER[2] <= x < OTHER[3] and OTHER[0] <= y < OTHER[1]
    assert runs["banded"][0] == 1.0  # the missing columns are the ignored band
    clicked = [r for r in rows if r["click"] != "0"]
    assert len(engine_calls) == len(clicked)  # each simulated click went to the engine
    assert [(c.x, c.y, c.positive) for c in engine_calls] == [
        (int(r["x"]), int(r["y"]), r["sign"] == "positive") for r in clicked
    ]
    assert all(float(r["seconds"]) >= 0.0 for r in rows)

    # the saved masks score exactly what clicks.csv says (carried forward after a stop)
    truth = np.asarray(Image.open(click_set / "alpha" / "two.png"))
    for k in (0, 1, 4):
        saved = np.asarray(Image.open(out / "masks" / "m" / "clickset" / f"two_k{k}.png"))
        expected = runs["two"][min(k, len(runs["two"]) - 1)]
        assert iou(saved, truth, scored_pixels(truth.shape)) == pytest.approx(expected)

    summary = (out / "clicks_summary.md").read_text()
    s = summarize_runs(list(runs.values()), max_clicks=4)
    line = next(li for li in summary.splitlines() if li.startswith("| clickset | m |"))
    cells = [c.strip() for c in line.strip("|").split("|")]
    assert cells[2] == "3" and cells[3:6] == [f"{s.noc[t]:.2f}" for t in (0.85, 0.90, 0.95)]
    assert cells[6].startswith(f"{s.nof} (") and cells[7] == f"{s.curve[0]:.3f}"
    assert "automatic mask" in summary and "--clicks 4" in summary

    plot = Image.open(out / "clicks_iou_clickset.png")
    assert plot.size[0] > 300 and plot.size[1] > 200
    html = (out / "worst_clicks_m_clickset.html").read_text()
    assert html.count("<figure>") == 2 and "clickset/exact" not in html
    assert (out / "predictions" / "m" / "raw" / "clickset" / "two.png").exists()
    assert not (out / "results.csv").exists()  # --clicks replaces the cutout scoring
    assert _listing(click_set) == before  # read-only


def test_from_scratch_starts_empty_with_a_positive_click(click_set, tmp_path):
    out = tmp_path / "out"
    args = ["eval", str(click_set), "--model", "m", "--clicks", "2", "--from-scratch"]
    assert main([*args, "--limit", "1", "--stop-iou", "0.9", "--out", str(out)]) == 0
    rows = _clicks(out)
    assert {r["image"] for r in rows} == {"banded"}  # --limit 1: the first photo by name
    assert rows[0]["click"] == "0" and float(rows[0]["iou"]) == 0.0
    assert rows[1]["sign"] == "positive"
    assert not (out / "predictions" / "m" / "raw").exists()  # no automatic pass
    summary = (out / "clicks_summary.md").read_text()
    assert "empty mask (--from-scratch)" in summary and "--stop-iou 0.9" in summary
    row = next(li for li in summary.splitlines() if li.startswith("| clickset | m |"))
    assert row.split("|")[6].strip() == "-"  # NoC@95 cannot be scored when stopping at 0.90


def test_resume_reuses_the_automatic_masks_and_runs_are_deterministic(click_set, tmp_path):
    out = tmp_path / "out"
    args = ["eval", str(click_set), "--model", "m", "--clicks", "3", "--out", str(out)]
    assert main(args) == 0
    first = _clicks(out)
    assert "Model runs on crops: 0 computed" not in (out / "clicks_summary.md").read_text()
    assert main([*args, "--resume"]) == 0
    again = _clicks(out)
    drop = [{k: v for k, v in r.items() if k != "seconds"} for r in first]
    assert [{k: v for k, v in r.items() if k != "seconds"} for r in again] == drop
    assert "Model runs on crops: 0 computed" in (out / "clicks_summary.md").read_text()
    # the saved automatic mask is what a resumed run starts from
    saved = out / "predictions" / "m" / "raw" / "clickset" / "exact.png"
    _save(saved, np.zeros((32, 40), np.uint8))
    assert main([*args, "--resume"]) == 0
    assert _runs(_clicks(out))["exact"][0] == 0.0
    assert main(args) == 0  # without --resume the model runs again
    assert _runs(_clicks(out))["exact"] == [1.0]


@pytest.mark.parametrize(
    "extra",
    [["--from-scratch"], ["--save-masks", "1"], ["--clicks", "0"],
     ["--clicks", "3", "--save-masks", "4"], ["--clicks", "3", "--save-masks", "a"]],
)  # fmt: skip
def test_bad_click_options_are_refused(click_set, tmp_path, capsys, extra):
    out = tmp_path / "out"
    assert main(["eval", str(click_set), "--model", "m", *extra, "--out", str(out)]) == 2
    assert "error:" in capsys.readouterr().err
    assert not out.exists()


def test_interrupted_click_run_still_reports(click_set, tmp_path, monkeypatch):
    add = interactive.ClickSession.add
    seen: list = []

    def stop_on_second_photo(self, click, cancel=None):
        seen.append(self)
        if len({id(s) for s in seen}) > 1:
            raise KeyboardInterrupt
        return add(self, click, cancel)

    monkeypatch.setattr(interactive.ClickSession, "add", stop_on_second_photo)
    out = tmp_path / "out"
    args = ["eval", str(click_set), "--model", "m", "--clicks", "2", "--from-scratch"]
    assert main([*args, "--out", str(out)]) == 130
    summary = (out / "clicks_summary.md").read_text()
    assert "Interrupted after 1 of 3 images" in summary
    assert {r["image"] for r in _clicks(out)} == {"banded"}
