"""One cutout pipeline: the editor, the GUI batch, CLI cutout, CLI batch and the Ray engine give
bit-identical alpha for the same photo and settings (real photo, real ISNet fp16 weights)."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from bgeraser_gui.cli import main as cli_main
from bgeraser_gui.core.compose import ExportOptions

pytestmark = pytest.mark.slow
WAIT_MS = 300_000


@pytest.fixture(scope="module")
def photo(tmp_path_factory, perf_dir: Path) -> Path:
    folder = tmp_path_factory.mktemp("in")
    target = folder / "alpaca.jpg"
    shutil.copyfile(perf_dir / "alpaca_650x434.jpg", target)
    return target


def _alpha(path: Path) -> np.ndarray:
    with Image.open(path) as im:
        assert im.mode == "RGBA"
        return np.asarray(im.getchannel("A"))


class _Fail:
    def report(self, title, exc):  # the editor's error reporter: any report fails the test
        raise AssertionError(f"{title}: {exc}")


def _editor(qtbot, photo: Path, model: Path, settings_path: Path, out: Path) -> Path:
    from bgeraser_gui.gui.session import EditorSession
    from bgeraser_gui.gui.settings import AppSettings

    settings = AppSettings(settings_path)
    settings.default_model = str(model)
    session = EditorSession(settings, _Fail())
    with qtbot.waitSignal(session.inference.runner.finished, timeout=WAIT_MS):
        session.open_path(photo)  # opens, then runs the model (auto segment)
    with qtbot.waitSignal(session.refiner.runner.finished, timeout=WAIT_MS):
        assert session.refine()  # Ctrl+M
    out.mkdir()  # the export dialog picks an existing folder
    with qtbot.waitSignal(session.exported, timeout=WAIT_MS) as blocker:
        assert session.export(ExportOptions(), out)
    session.shutdown()
    return blocker.args[0]


def _gui_batch(qtbot, photo: Path, model: Path, folder: Path, out: Path) -> Path:
    from bgeraser_gui.assemble import PipelineSpec, build_pipeline
    from bgeraser_gui.core.project_store import ProjectStore, QueueEntry
    from bgeraser_gui.services.batch_queue import BatchQueueService

    # the batch panel's backend is the editor pipeline's model (gui/batch_link.py)
    editor_pipeline = build_pipeline(PipelineSpec(model=str(model)))
    service = BatchQueueService(ProjectStore(folder), backend_factory=editor_pipeline.load)
    entry = QueueEntry(str(photo))
    with qtbot.waitSignal(service.runningChanged, timeout=WAIT_MS, check_params_cb=lambda r: not r):
        service.process([entry])
    with qtbot.waitSignal(service.exportFinished, timeout=WAIT_MS) as blocker:
        service.export([entry], ExportOptions(), out)
    assert blocker.args[:3] == [1, 0, 0], blocker.args
    return out / "alpaca_cutout.png"


def test_five_front_ends_give_bit_identical_alpha(qtbot, tmp_path, photo, isnet_fp16_path):
    pytest.importorskip("ray")
    outs = {name: tmp_path / name for name in ("editor", "gui_batch", "cutout", "batch", "ray")}
    written = {
        "editor": _editor(qtbot, photo, isnet_fp16_path, tmp_path / "s.ini", outs["editor"]),
        "gui_batch": _gui_batch(qtbot, photo, isnet_fp16_path, tmp_path / "p", outs["gui_batch"]),
    }
    model = ["--model", str(isnet_fp16_path)]
    assert cli_main(["cutout", str(photo), "-o", str(outs["cutout"]), "-q", *model]) == 0
    assert cli_main(["batch", str(photo.parent), "-o", str(outs["batch"]), "-q", *model]) == 0
    ray = ["--engine", "ray", "--workers", "1"]
    assert cli_main(["batch", str(photo.parent), "-o", str(outs["ray"]), "-q", *model, *ray]) == 0
    for name in ("cutout", "batch", "ray"):
        written[name] = outs[name] / "alpaca_cutout.png"

    reference = _alpha(written["cutout"])
    assert 0.05 < (reference > 127).mean() < 0.95  # a real cutout, not an empty/full mask
    for name, path in written.items():
        assert np.array_equal(_alpha(path), reference), f"{name} differs from cutout"
