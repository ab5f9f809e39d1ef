"""`bgeraser-cli eval --objects` end to end on a synthetic set (the model is the fake of
test_eval_cli: red pixels are the subject; the split and the oracle are the real ones)."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from test_eval_cli import (
    _listing,
    fake_model,  # noqa: F401  (the fixture)
    main,
)
from test_eval_clicks import two_boxes_set


@pytest.fixture
def object_set(tmp_path: Path) -> Path:
    return two_boxes_set(tmp_path / "objectset")


def _objects(out: Path) -> dict[str, dict]:
    with (out / "objects.csv").open(newline="") as f:
        return {row["stem"]: row for row in csv.DictReader(f)}


def test_objects_report_automatic_best_single_and_toggles(object_set, tmp_path, fake_model):  # noqa: F811
    out = tmp_path / "out"
    before = _listing(object_set)
    assert (
        main(["eval", str(object_set), "--objects", "--object-crops", "0", "--out", str(out)]) == 0
    )
    rows = _objects(out)
    two, exact = rows["two"], rows["exact"]
    assert float(two["automatic"]) == pytest.approx(0.5) and float(
        two["suggested"]
    ) == pytest.approx(0.5)
    assert float(two["best_single"]) == 1.0 and float(two["best_toggle1"]) == 1.0
    assert two["objects"] == "2" and two["crop_runs"] == "0"
    assert float(exact["automatic"]) == 1.0 and float(exact["best_toggle2"]) == 1.0
    summary = (out / "objects_summary.md").read_text()
    assert "| objectset | all | 2 | 0.750 | 0.750 | 1.000 | 1.000 | 1.000 | 1.000 |" in summary
    assert _listing(object_set) == before  # nothing written into the data set
    calls = fake_model.backend.calls
    again = [
        "eval",
        str(object_set),
        "--objects",
        "--object-crops",
        "2",
        "--out",
        str(out),
        "--resume",
    ]
    assert main(again) == 0  # automatic masks reused; the crops are asked once each
    rows = _objects(out)
    assert rows["two"]["crop_runs"] == "4" and fake_model.backend.calls == calls + 8
    assert float(rows["two"]["best_toggle1"]) == 1.0
