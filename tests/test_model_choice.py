"""One model choice: the editor's settings, `cutout`/`batch`, `eval` and the GUI's model folder.

A machine that only has the fp16 variant of the default model (imported with
`bgeraser-cli models import`) must run that file everywhere, offline, instead of trying to
download the default. The model folder chosen in the editor's settings reaches the loader
explicitly (the process environment is never rewritten).
"""

from __future__ import annotations

import argparse
import os

import pytest

from bgeraser_gui.backends import loader
from bgeraser_gui.backends.model_cache import MODEL_DIR_ENV, model_path
from bgeraser_gui.backends.model_choice import (
    model_display_name,
    model_installed,
    model_short_name,
)
from bgeraser_gui.backends.registry import DEFAULT_MODEL, get_spec
from bgeraser_gui.commands import cutout
from bgeraser_gui.commands.common import spec_from_args

FP16 = "isnet-general-use-fp16"


def _install(name: str, folder=None) -> None:
    """A placeholder file where the model `name` is installed (nothing here loads it)."""
    path = model_path(get_spec(name), folder)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"placeholder")


def _cli_model() -> str:
    parser = argparse.ArgumentParser(prog="bgeraser-cli")
    cutout.register(parser.add_subparsers(dest="command"))
    return spec_from_args(parser.parse_args(["cutout", "photo.jpg", "-o", "out"])).model


def _eval_model() -> str:
    from bgeraser_gui.commands.eval import _default_model

    return _default_model()


@pytest.fixture
def env_folder(tmp_path, monkeypatch):
    folder = tmp_path / "env-models"
    monkeypatch.setenv(MODEL_DIR_ENV, str(folder))
    return folder


@pytest.fixture
def requested(monkeypatch):
    """(model, folder) the loader is asked for; no model is really loaded."""
    from batch_fakes import EllipseBackend

    calls: list[tuple[str, str | None]] = []

    def fake_load_backend(name_or_path=None, device="auto", runtime="auto", folder=None, **_):
        calls.append((name_or_path, folder))
        return EllipseBackend()

    monkeypatch.setattr(loader, "load_backend", fake_load_backend)
    return calls


def test_editor_cli_and_eval_pick_the_same_model_for_the_same_files(env_folder, tmp_path):
    from bgeraser_gui.gui.settings import AppSettings

    fresh = AppSettings(tmp_path / "fresh.ini")
    assert fresh.default_model == _cli_model() == _eval_model() == DEFAULT_MODEL
    _install(FP16)
    fresh = AppSettings(tmp_path / "fresh2.ini")
    assert fresh.default_model == _cli_model() == _eval_model() == FP16
    _install(DEFAULT_MODEL)  # the default itself, once installed, wins everywhere
    assert AppSettings(tmp_path / "fresh3.ini").default_model == _cli_model() == DEFAULT_MODEL


def test_a_chosen_model_is_kept_whatever_is_installed(env_folder, tmp_path):
    from bgeraser_gui.gui.settings import AppSettings

    _install(FP16)
    settings = AppSettings(tmp_path / "s.ini")
    settings.default_model = "u2netp"
    assert AppSettings(tmp_path / "s.ini").default_model == "u2netp"


def test_the_editor_loads_from_its_settings_folder_without_touching_the_environment(
    qtbot, env_folder, tmp_path, requested
):
    from bgeraser_gui.gui.session import EditorSession
    from bgeraser_gui.gui.settings import AppSettings

    chosen = tmp_path / "chosen-models"
    _install(FP16, chosen)  # only in the folder chosen in the settings, not in the env's
    settings = AppSettings(tmp_path / "s.ini")
    settings.model_folder = str(chosen)
    session = EditorSession(settings, None)
    assert session.model == FP16
    assert model_installed(FP16, chosen) and not model_installed(FP16)
    session.pipeline.load()
    assert requested == [(FP16, str(chosen))]
    assert os.environ[MODEL_DIR_ENV] == str(env_folder)
    session.shutdown()


def test_display_names_come_from_the_registry_or_the_file_name():
    assert model_display_name(FP16) == get_spec(FP16).display_name
    assert model_short_name(FP16) == "ISNet general-use"
    assert model_display_name("/some/where/net.onnx") == "net.onnx"
    assert model_short_name("/some/where/net.onnx") == "net.onnx"
    assert model_display_name("no-such-model") == "no-such-model"


def test_models_import_names_the_registry_model_and_the_editor_then_uses_it(
    env_folder, tmp_path, capsys, isnet_fp16_path
):
    from bgeraser_gui.cli import main
    from bgeraser_gui.gui.settings import AppSettings

    assert main(["models", "import", str(isnet_fp16_path)]) == 0
    out = capsys.readouterr().out
    assert f"recognised as {FP16}" in out
    assert model_installed(FP16) and not model_installed(DEFAULT_MODEL)
    assert AppSettings(tmp_path / "fresh.ini").default_model == _cli_model() == FP16
