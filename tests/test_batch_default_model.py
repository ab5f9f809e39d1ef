"""With no --model, batch and cutout use an installed variant of the default model.

Offline machines often only have an imported model such as `isnet-general-use-fp16`; asking
for the (missing) default would try a download and fail.
"""

from __future__ import annotations

import argparse

import pytest
from batch_fakes import EllipseBackend, write_photo

from bgeraser_gui.assemble import build_pipeline
from bgeraser_gui.backends import loader
from bgeraser_gui.backends.model_cache import MODEL_DIR_ENV, model_path
from bgeraser_gui.backends.model_choice import default_model
from bgeraser_gui.backends.registry import DEFAULT_MODEL, get_spec
from bgeraser_gui.commands import batch, cutout
from bgeraser_gui.commands.common import spec_from_args


@pytest.fixture
def model_dir(tmp_path, monkeypatch):
    folder = tmp_path / "models"
    folder.mkdir()
    monkeypatch.setenv(MODEL_DIR_ENV, str(folder))
    return folder


def _install(name: str) -> None:
    path = model_path(get_spec(name))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"not loaded in these tests")


@pytest.fixture
def requested(monkeypatch):
    """Record the model names the loader is asked for, and hand back a fake backend."""
    names: list[str] = []

    def fake_load_backend(name_or_path=None, device="auto", runtime="auto", **_):
        names.append(name_or_path)
        return EllipseBackend()

    monkeypatch.setattr(loader, "load_backend", fake_load_backend)
    return names


def test_default_is_kept_when_nothing_or_the_default_is_installed(model_dir):
    said: list[str] = []
    assert default_model(notify=said.append) == DEFAULT_MODEL
    _install(DEFAULT_MODEL)
    _install("isnet-general-use-fp16")
    assert default_model(notify=said.append) == DEFAULT_MODEL
    assert said == []


def test_installed_variant_replaces_a_missing_default(model_dir):
    _install("isnet-anime")  # same architecture, different family: never picked
    assert default_model() == DEFAULT_MODEL
    _install("isnet-general-use-fp16")
    said: list[str] = []
    assert default_model(notify=said.append) == "isnet-general-use-fp16"
    assert len(said) == 1 and "isnet-general-use-fp16" in said[0]


def _parse(module, argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="bgeraser-cli")
    module.register(parser.add_subparsers(dest="command"))
    return parser.parse_args(argv)


def test_batch_without_model_loads_the_installed_variant(model_dir, requested, tmp_path, capsys):
    _install("isnet-general-use-fp16")
    write_photo(tmp_path / "in" / "a.jpg")
    args = _parse(batch, ["batch", str(tmp_path / "in"), "-o", str(tmp_path / "out"), "-q"])
    assert batch.run(args) == 0
    assert requested and set(requested) == {"isnet-general-use-fp16"}
    assert capsys.readouterr().err.count("using isnet-general-use-fp16") == 1


def test_cutout_without_model_loads_the_installed_variant(model_dir, requested, tmp_path, capsys):
    _install("isnet-general-use-fp16")
    args = _parse(cutout, ["cutout", str(tmp_path), "-o", str(tmp_path / "out")])
    build_pipeline(spec_from_args(args)).load()
    assert requested == ["isnet-general-use-fp16"]
    assert "using isnet-general-use-fp16" in capsys.readouterr().err
