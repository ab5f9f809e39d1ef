"""Which segmentation model to use and what to call it: one place for every front end.

The editor (its settings and toolbar), `bgeraser-cli cutout`/`batch`/`eval`, the batch engines
and the GUI batch queue all ask here, so the same settings and the same installed files give the
same model everywhere. Every function takes `folder`, the model folder chosen in the app's
settings (None or "": `BGERASER_MODEL_DIR`, else the platform's cache folder; see
`model_cache.model_dir`). A model is named by its registry or import name, or given as a path to
an .onnx file. Light to import: no torch, no numpy.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace

from bgeraser_gui.backends.model_cache import (
    Folder,
    ModelStatus,
    list_models,
    normalise_name,
    resolve_spec,
)
from bgeraser_gui.backends.registry import DEFAULT_MODEL, ModelSpec
from bgeraser_gui.core.errors import BgEraserError


def default_model(folder: Folder = None, notify: Callable[[str], None] | None = None) -> str:
    """The model to use when none was chosen: DEFAULT_MODEL, or an installed variant of it.

    When the default is not installed but a model of its family is (a name that starts with the
    default's name and has the same architecture, e.g. the imported `isnet-general-use-fp16`),
    that one is used instead of trying to download the default, and `notify` is told in one
    line. Otherwise the default's name (it downloads on first use).
    """
    try:
        statuses = list_models(folder)
    except BgEraserError:  # a broken manifest or cache: the loader reports it with context
        return DEFAULT_MODEL
    default = next((s for s in statuses if s.spec.name == DEFAULT_MODEL), None)
    if default is None or default.installed:
        return DEFAULT_MODEL
    for status in statuses:
        spec = status.spec
        if (
            status.installed
            and spec.name.startswith(DEFAULT_MODEL + "-")
            and spec.arch == default.spec.arch
        ):
            if notify is not None:
                notify(f"model: {DEFAULT_MODEL} is not installed; using {spec.name} instead")
            return spec.name
    return DEFAULT_MODEL


def is_model_file(model: str) -> bool:
    """True when `model` names a file (an .onnx path) rather than a registry or import name."""
    return "/" in model or "\\" in model or model.lower().endswith(".onnx")


def model_display_name(model: str, folder: Folder = None) -> str:
    """A registry or imported model's title, or the file name of a model given as a path."""
    if is_model_file(model):
        return Path(model).name
    try:
        return resolve_spec(model, folder).display_name
    except BgEraserError:  # unknown name: show it as typed
        return model


def model_short_name(model: str, folder: Folder = None) -> str:
    """The display name without its details: "ISNet general-use, fp16 (…)" -> "ISNet general-use"."""
    name = model_display_name(model, folder)
    if is_model_file(model):
        return name
    for separator in (", ", " ("):
        name = name.split(separator)[0]
    return name or model


def model_installed(model: str, folder: Folder = None) -> bool:
    """True when `model` (a registry/imported name or an .onnx path) is on disk already."""
    if is_model_file(model):
        return Path(model).expanduser().is_file()
    wanted = normalise_name(model)
    return any(s.installed for s in list_models(folder) if s.spec.name == wanted)


@dataclass(frozen=True)
class ModelEntry:
    """One model as a chooser lists it: its name, a label that says what is missing, a tip."""

    name: str
    label: str
    tooltip: str


def available_models(folder: Folder = None) -> list[ModelEntry]:
    """Every registry model (manifest order), then every imported one."""
    return [_entry(status) for status in list_models(folder)]


def _entry(status: ModelStatus) -> ModelEntry:
    spec = status.spec
    label = spec.display_name
    if not spec.runnable:
        label += " (not supported yet)"
    elif not status.installed:
        label += " (downloads on first use)" if spec.downloadable else " (import the file)"
    return ModelEntry(spec.name, label, f"{spec.description}\nLicence: {spec.licence}")


def installed_spec(path: Path, folder: Folder = None) -> ModelSpec | None:
    """The registry or imported model whose file in the model folder is `path`, if any."""
    return next((s.spec for s in list_models(folder) if s.path == path), None)


def describe_import(path: Path, folder: Folder = None) -> str:
    """What an imported file at `path` was recognised as, in a few words."""
    spec = installed_spec(path, folder)
    if spec is None:
        return "not in the model list"
    if spec.custom:
        return f"not a published file, imported as {spec.title}"
    return f"recognised as {spec.name} by its published hash"


def specs_in_use(names: list[str], folder: Folder = None) -> list[object]:
    """Spec-like records (for Help > About) of the models in use. A model opened from a file
    that is not in the registry is listed by file name with its licence marked unknown."""
    specs: list[object] = []
    for name in names:
        try:
            specs.append(resolve_spec(name, folder))
        except BgEraserError:  # a path to an .onnx file, or a name the registry no longer has
            specs.append(
                SimpleNamespace(
                    name=Path(name).name,
                    title=f"{Path(name).name} (model file)",
                    licence="unknown: see where the file came from",
                    licence_note="",
                    commercial_use=False,
                    homepage="",
                    urls=(),
                )
            )
    return specs
