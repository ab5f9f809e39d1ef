"""Issue 19 (9): a missing model is not "bad usage" (exit 3, not 2); a resumed file is not an
error in the report; skip messages for missing test weights say what is missing."""

from __future__ import annotations

import json

import numpy as np
import pytest
from batch_fakes import make_backend, write_photo
from PIL import Image

from bgeraser_gui.cli import main
from bgeraser_gui.commands import batch
from bgeraser_gui.commands.cutout import MODEL_UNAVAILABLE


def test_cutout_with_a_missing_or_damaged_model_exits_3_not_the_usage_code(tmp_path, capsys):
    photo = tmp_path / "p.png"
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(photo)
    damaged = tmp_path / "broken.onnx"
    damaged.write_bytes(b"\x08\x07garbage that is not a protobuf" * 10)
    for model in (tmp_path / "nope.onnx", damaged):
        code = main(["cutout", str(photo), "-o", str(tmp_path / "out"), "--model", str(model)])
        assert code == MODEL_UNAVAILABLE == 3
        err = capsys.readouterr().err
        assert "model" in err and len(err.strip().splitlines()) == 1
    (tmp_path / "empty").mkdir()
    assert main(["cutout", str(tmp_path / "empty"), "-o", str(tmp_path / "out")]) == 2  # usage


def test_a_resumed_file_is_skipped_without_an_error(tmp_path):
    import argparse

    write_photo(tmp_path / "in" / "a.jpg", (64, 48))
    parser = argparse.ArgumentParser(prog="bgeraser-cli")
    batch.register(parser.add_subparsers(dest="command"))
    base = ["batch", str(tmp_path / "in"), "-o", str(tmp_path / "out"), "--no-refine", "-q"]
    assert batch.run(parser.parse_args(base), backend_factory=make_backend) == 0
    report = tmp_path / "r.jsonl"
    argv = [*base, "--resume", "--report", str(report)]
    assert batch.run(parser.parse_args(argv), backend_factory=make_backend) == 0
    record = json.loads(report.read_text(encoding="utf-8").splitlines()[0])
    assert record["status"] == "skipped" and record["error"] is None


def test_a_skip_for_missing_weights_names_the_file_and_the_setting(tmp_path, monkeypatch):
    import conftest

    monkeypatch.setattr(conftest, "REQUIRE_REAL_DATA", False)  # CI turns skips into failures
    with pytest.raises(pytest.skip.Exception) as skipped:
        conftest._need(tmp_path / "isnet_medium_fp16.onnx", "ISNet fp16 weights")
    message = str(skipped.value)
    assert "isnet_medium_fp16.onnx" in message and "BGERASER_TEST_MODELS" in message
    assert "../shared" not in message


def test_the_quit_question_offers_export(qtbot, tmp_path):
    from app_fakes import InstantBackend, make_window
    from PySide6.QtWidgets import QDialog

    from bgeraser_gui.core.trimap import KEEP

    window = make_window(qtbot, tmp_path / "s.ini", {"fake": InstantBackend()})
    window.open_paths([write_photo(tmp_path / "a.png", (20, 10))])
    qtbot.waitUntil(lambda: window.session.document is not None)
    doc = window.session.document
    qtbot.waitUntil(lambda: doc.model_mask is not None)
    with doc.transaction("Keep") as tx:
        tx.touch("touchups")
        doc.touchups[:, :5] = KEEP
    assert not window.close()
    box = window.dialogs.discard_box
    texts = [b.text() for b in box.buttons()]
    assert "Export…" in texts and "Quit without exporting" in texts
    export = next(b for b in box.buttons() if b.text() == "Export…")
    export.click()
    dialog = window.findChild(QDialog, "exportDialog")
    qtbot.waitUntil(lambda: dialog is not None or window.findChild(QDialog, "exportDialog"))
    assert window.findChild(QDialog, "exportDialog").isVisible() and window.isVisible()
    window.findChild(QDialog, "exportDialog").reject()
    window._discard_confirmed = True
