"""The model manifest: what ships is complete and valid; broken manifests fail clearly."""

from __future__ import annotations

import re

import pytest

from bgeraser_gui.backends.registry import (
    ARCHS,
    DEFAULT_MODEL,
    OUTPUTS,
    ModelSpec,
    find_spec,
    get_spec,
    load_registry,
    parse_manifest,
)
from bgeraser_gui.core.errors import ModelError

REQUIRED_MODELS = {
    "isnet-general-use",
    "u2net",
    "u2netp",
    "u2net-human-seg",
    "isnet-anime",
    "birefnet-general",
    "birefnet-general-lite",
    "modnet-portrait",
}

GOOD_ENTRY = """
[models.demo]
arch = "isnet"
description = "demo"
urls = ["https://example.invalid/demo.onnx"]
md5 = "fc16ebd8b0c10d971d3513d564d01e29"
file_name = "demo.onnx"
input_size = 1024
mean = [0.5, 0.5, 0.5]
std = [1.0, 1.0, 1.0]
output = "minmax"
licence = "MIT"
commercial_use = true
"""


def test_shipped_manifest_loads_with_the_required_models():
    registry = load_registry()
    assert set(registry) >= REQUIRED_MODELS
    assert DEFAULT_MODEL == "isnet-general-use"
    assert registry[DEFAULT_MODEL].runnable


def test_every_shipped_spec_is_well_formed():
    for name, spec in load_registry().items():
        assert isinstance(spec, ModelSpec) and spec.name == name
        assert spec.arch in ARCHS and spec.output in OUTPUTS
        assert spec.md5 or spec.sha256
        assert spec.description and spec.licence
        assert spec.input_size % 32 == 0
        assert all(url.startswith("https://") for url in spec.urls)
        assert spec.file_name.endswith(".onnx")
        assert len(spec.mean) == 3 and len(spec.std) == 3
        if not spec.runnable:
            assert spec.runnable_note


def test_default_model_has_the_upstream_published_hash():
    spec = load_registry()[DEFAULT_MODEL]
    assert spec.md5 == "fc16ebd8b0c10d971d3513d564d01e29"
    assert spec.urls[0].endswith("/isnet-general-use.onnx")
    assert spec.input_size == 1024


def test_non_commercial_models_are_labelled():
    registry = load_registry()
    bria = registry.get("bria-rmbg")
    if bria is not None:
        assert bria.commercial_use is False
        assert "NC" in bria.licence
    for spec in registry.values():
        if re.search(r"\bNC\b|non-commercial", spec.licence, re.IGNORECASE):
            assert not spec.commercial_use


def test_lookup_accepts_rembg_spelling():
    assert find_spec("u2net_human_seg").name == "u2net-human-seg"
    assert find_spec("ISNET-GENERAL-USE").name == DEFAULT_MODEL
    assert find_spec("nope") is None
    with pytest.raises(ModelError, match="unknown model 'nope'.*isnet-general-use"):
        get_spec("nope")


def test_spec_is_frozen():
    spec = load_registry()[DEFAULT_MODEL]
    with pytest.raises(AttributeError):
        spec.name = "other"  # type: ignore[misc]


def test_good_entry_parses():
    spec = parse_manifest(GOOD_ENTRY)["demo"]
    assert spec.mean == (0.5, 0.5, 0.5) and spec.sha256 is None and spec.runnable


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ('arch = "isnet"', 'arch = "resnet"', "field 'arch' is 'resnet'"),
        ('output = "minmax"', 'output = "softmax"', "field 'output'"),
        ('md5 = "fc16ebd8b0c10d971d3513d564d01e29"', 'md5 = "xyz"', "32 hex digits"),
        ('md5 = "fc16ebd8b0c10d971d3513d564d01e29"', "", "needs md5 or sha256"),
        ("std = [1.0, 1.0, 1.0]", "std = [1.0, 0.0, 1.0]", "field 'std'"),
        ("mean = [0.5, 0.5, 0.5]", "mean = [0.5, 0.5]", "field 'mean'"),
        ("input_size = 1024", 'input_size = "1024"', "field 'input_size'"),
        ('file_name = "demo.onnx"', 'file_name = "../demo.onnx"', "field 'file_name'"),
        ('licence = "MIT"', 'licence = ""', "field 'licence' must not be empty"),
        ("commercial_use = true", 'commercial_use = "yes"', "field 'commercial_use'"),
        ("commercial_use = true", "", "missing field(s) commercial_use"),
        ('urls = ["https://example.invalid/demo.onnx"]', 'urls = ["ftp://x"]', "field 'urls'"),
        ("input_size = 1024", "input_size = 1024\nsize = 3", "unknown field(s) size"),
        ("commercial_use = true", "commercial_use = true\nrunnable = false", "runnable_note"),
        ("[models.demo]", "[models.Demo Model]", "not valid TOML"),
    ],
)
def test_broken_entries_are_rejected_with_a_clear_message(old, new, message):
    broken = GOOD_ENTRY.replace(old, new)
    assert broken != GOOD_ENTRY
    with pytest.raises(ModelError, match=re.escape(message)):
        parse_manifest(broken, "test.toml")


def test_duplicate_file_names_are_rejected():
    twin = GOOD_ENTRY + GOOD_ENTRY.replace("[models.demo]", "[models.demo2]")
    with pytest.raises(ModelError, match="share file_name demo.onnx"):
        parse_manifest(twin)


def test_names_differing_only_in_spelling_are_rejected():
    twin = GOOD_ENTRY.replace("[models.demo]", "[models.my_demo]") + GOOD_ENTRY.replace(
        "[models.demo]", "[models.my-demo]"
    ).replace("demo.onnx", "demo2.onnx")
    with pytest.raises(ModelError, match="'my_demo' and 'my-demo' are the same name"):
        parse_manifest(twin)


def test_empty_manifest_is_rejected():
    with pytest.raises(ModelError, match="no \\[models.NAME\\] tables"):
        parse_manifest("title = 'x'")


def test_manifest_override_from_environment(tmp_path, monkeypatch):
    path = tmp_path / "mirror.toml"
    path.write_text(GOOD_ENTRY, encoding="utf-8")
    monkeypatch.setenv("BGERASER_MODEL_MANIFEST", str(path))
    assert list(load_registry()) == ["demo"]
    monkeypatch.setenv("BGERASER_MODEL_MANIFEST", str(tmp_path / "missing.toml"))
    with pytest.raises(ModelError, match="cannot be read"):
        load_registry()


def test_runnable_flags_match_the_torch_architectures():
    """A model marked runnable has a torch network; one marked not runnable really has none."""
    import torch

    from bgeraser_gui.backends.onnx_weights import build_network

    archs = {}
    for spec in load_registry().values():
        archs.setdefault(spec.arch, set()).add(spec.runnable)
    for arch, flags in archs.items():
        assert len(flags) == 1, f"models of arch {arch} disagree about runnable"
        with torch.device("meta"):  # structure only: no memory, no weight init cost
            if flags == {True}:
                assert sum(p.numel() for p in build_network(arch).parameters()) > 0
            else:
                with pytest.raises(ModelError):
                    build_network(arch)
