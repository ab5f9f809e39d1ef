"""The Qt-free pipeline: stages, progress, cancel, skip policy (with a small fake model)."""

from __future__ import annotations

import numpy as np
import pytest
from batch_fakes import EllipseBackend, write_photo
from PIL import Image

from bgeraser_gui.core.compose import ExportOptions
from bgeraser_gui.core.errors import Cancelled, ExportError
from bgeraser_gui.core.matting import RefineOptions
from bgeraser_gui.core.pipeline import Pipeline
from bgeraser_gui.core.progress import CancelToken


def test_unrefined_output_alpha_is_the_model_mask(tmp_path):
    src = write_photo(tmp_path / "p.jpg", size=(96, 64))
    backend = EllipseBackend()
    events = []
    pipeline = Pipeline(backend, refine=RefineOptions(enabled=False))
    out = pipeline.process_file(src, tmp_path, progress=lambda f, m: events.append((f, m)))
    assert out == tmp_path / "p_cutout.png"
    mask = backend.predict(np.zeros((64, 96, 3), np.uint8))
    with Image.open(out) as written:
        alpha = np.asarray(written)[..., 3]
    np.testing.assert_array_equal(alpha, np.clip(np.rint(mask * 255), 0, 255).astype(np.uint8))
    fractions = [f for f, _ in events]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0
    assert any("segment" in m for _, m in events) and any("writing" in m for _, m in events)


def test_refined_run_reports_all_stages(tmp_path):
    src = write_photo(tmp_path / "p.jpg", size=(96, 64))
    events = []
    out = Pipeline(EllipseBackend()).process_file(
        src, tmp_path, progress=lambda f, m: events.append((f, m))
    )
    with Image.open(out) as written:
        alpha = np.asarray(written)[..., 3]
    assert alpha[32, 48] == 255 and alpha[0, 0] == 0
    fractions = [f for f, _ in events]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0


def test_cancel_stops_before_writing(tmp_path):
    src = write_photo(tmp_path / "p.jpg")
    token = CancelToken()

    def cancel_when_segmenting(fraction, message):
        if "segment" in message:
            token.cancel()

    with pytest.raises(Cancelled):
        Pipeline(EllipseBackend()).process_file(src, tmp_path, cancel_when_segmenting, token)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["p.jpg"]


def test_skip_policy_does_not_run_the_model(tmp_path):
    src = write_photo(tmp_path / "p.jpg")
    (tmp_path / "p_cutout.png").write_bytes(b"keep me")
    backend = EllipseBackend()
    pipeline = Pipeline(backend, export=ExportOptions(existing="skip"))
    assert pipeline.process_file(src, tmp_path) is None
    assert backend.calls == 0 and (tmp_path / "p_cutout.png").read_bytes() == b"keep me"


def test_overwriting_the_original_is_refused_before_the_model_runs(tmp_path):
    src = write_photo(tmp_path / "p.png")
    before = src.read_bytes()
    backend = EllipseBackend()
    export = ExportOptions(existing="overwrite", name_pattern="{stem}")
    with pytest.raises(ExportError, match="original"):
        Pipeline(backend, export=export).process_file(src, tmp_path)
    assert backend.calls == 0 and src.read_bytes() == before


def test_matting_notes_reach_the_caller(tmp_path, monkeypatch):
    from bgeraser_gui.core import pipeline as pipeline_module
    from bgeraser_gui.core.matting import MattingResult

    def refine_with_note(rgb, mask, touchups=None, options=None, progress=None, cancel=None):
        return MattingResult(alpha=mask, foreground=None, trimap=None, notes=["fell back"])

    monkeypatch.setattr(pipeline_module, "refine", refine_with_note)
    notes = []
    Pipeline(EllipseBackend()).process_file(write_photo(tmp_path / "p.jpg"), tmp_path, notes=notes)
    assert notes == ["fell back"]
