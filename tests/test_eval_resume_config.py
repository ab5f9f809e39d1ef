"""`eval --resume` never mixes in masks another segmenter configuration made (issue 20: the
network input changed how masks are made)."""

from __future__ import annotations

import test_eval_cli
from test_eval_cli import main

dataset = test_eval_cli.dataset  # the fixtures of the eval CLI tests
fake_model = test_eval_cli.fake_model


def test_resume_refuses_predictions_of_another_segmenter_configuration(
    dataset,
    tmp_path,
    fake_model,
    monkeypatch,
):
    """Saved masks made with other quality settings (e.g. an earlier version's network input)
    are never reused silently."""
    from bgeraser_gui.backends import segmenter

    out = tmp_path / "out"
    base = ["eval", str(dataset), "--model", "m", "--out", str(out)]
    assert main(base) == 0
    assert (out / "predictions" / "m" / "configuration.txt").is_file()
    calls = fake_model.backend.calls
    monkeypatch.setattr(segmenter, "IMPROVED", segmenter.IMPROVED.replace(flip_side=512))
    assert main([*base, "--resume"]) == 2
    assert fake_model.backend.calls == calls
    assert main(base) == 0  # a fresh run starts over and records the new configuration
    assert main([*base, "--resume"]) == 0
