"""The model registry: what each published segmentation model is and how to fetch and feed it.

The registry is `bgeraser_gui/model_manifest/manifest.toml` (package data). Setting
`BGERASER_MODEL_MANIFEST` to another TOML file of the same shape replaces it (an offline mirror,
a company-internal list). Every entry is validated; a broken manifest raises ModelError naming
the entry and the field.
"""

from __future__ import annotations

import functools
import importlib.resources
import os
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

from bgeraser_gui.core.errors import ModelError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10 only
    import tomli as tomllib

DEFAULT_MODEL = "isnet-general-use"
MANIFEST_ENV = "BGERASER_MODEL_MANIFEST"

ARCHS = frozenset({"isnet", "u2net", "u2netp", "birefnet", "modnet"})
OUTPUTS = frozenset({"sigmoid", "minmax", "identity"})
RESIZES = frozenset({"stretch", "letterbox"})

_NAME_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")
_HEX_LEN = {"md5": 32, "sha256": 64}
_REQUIRED = (
    "arch",
    "description",
    "urls",
    "file_name",
    "input_size",
    "mean",
    "std",
    "output",
    "licence",
    "commercial_use",
)
_OPTIONAL = (
    "title",
    "md5",
    "sha256",
    "size_bytes",
    "licence_note",
    "homepage",
    "runnable",
    "runnable_note",
    "resize",
)


@dataclass(frozen=True)
class ModelSpec:
    """One segmentation model: where its ONNX file lives upstream and how to run it.

    `mean`/`std` apply to RGB scaled to 0..1: x = (rgb / 255 - mean) / std, fed at
    `input_size` x `input_size`. `output` says how to turn the raw output into 0..1 (see the
    manifest header). `md5`/`sha256` are the upstream's published hashes (at least one is set).
    `runnable` is False while our torch code has no implementation of `arch`. `resize` is how
    the photo becomes the square input: "stretch" (default, like rembg) or "letterbox".
    """

    name: str
    arch: str
    description: str
    urls: tuple[str, ...]
    file_name: str
    input_size: int
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    output: str
    licence: str
    commercial_use: bool
    md5: str | None = None
    sha256: str | None = None
    size_bytes: int | None = None
    title: str = ""
    licence_note: str = ""
    homepage: str = ""
    runnable: bool = True
    runnable_note: str = ""
    resize: str = "stretch"
    custom: bool = field(default=False, compare=False)

    @property
    def display_name(self) -> str:
        return self.title or self.name

    @property
    def downloadable(self) -> bool:
        return bool(self.urls)


def normalise_name(name: str) -> str:
    """Registry names are lower case with hyphens; accept rembg's underscores too."""
    return name.strip().lower().replace("_", "-")


def find_spec(name: str, registry: dict[str, ModelSpec] | None = None) -> ModelSpec | None:
    """The spec registered as `name` (case and `_`/`-` insensitive), or None."""
    models = load_registry() if registry is None else registry
    if name in models:
        return models[name]
    wanted = normalise_name(name)
    for key, spec in models.items():
        if normalise_name(key) == wanted:
            return spec
    return None


def get_spec(name: str) -> ModelSpec:
    """Like find_spec, but raise ModelError listing the known names when `name` is unknown."""
    spec = find_spec(name)
    if spec is None:
        known = ", ".join(sorted(load_registry()))
        raise ModelError(f"unknown model '{name}'; known models: {known}")
    return spec


def manifest_path() -> Path | None:
    """The manifest override from the environment, or None for the built-in one."""
    override = os.environ.get(MANIFEST_ENV, "").strip()
    return Path(override).expanduser() if override else None


def load_registry() -> dict[str, ModelSpec]:
    """All models in the manifest, by name, in manifest order (validated, cached)."""
    override = manifest_path()
    if override is None:
        return dict(_load_builtin())
    try:
        stamp = override.stat().st_mtime_ns
    except OSError as exc:
        raise ModelError(
            f"model manifest {override} ({MANIFEST_ENV}) cannot be read: {exc}"
        ) from exc
    return dict(_load_file(str(override), stamp))


@functools.lru_cache(maxsize=1)
def _load_builtin() -> dict[str, ModelSpec]:
    resource = importlib.resources.files("bgeraser_gui.model_manifest") / "manifest.toml"
    return parse_manifest(resource.read_text(encoding="utf-8"), "built-in manifest.toml")


@functools.lru_cache(maxsize=4)
def _load_file(path: str, _mtime_ns: int) -> dict[str, ModelSpec]:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ModelError(f"model manifest {path} cannot be read: {exc}") from exc
    return parse_manifest(text, path)


def parse_manifest(text: str, source: str = "manifest") -> dict[str, ModelSpec]:
    """Parse and validate manifest TOML text into specs; raise ModelError on any defect."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ModelError(f"{source}: not valid TOML: {exc}") from exc
    models = data.get("models")
    if not isinstance(models, dict) or not models:
        raise ModelError(f"{source}: no [models.NAME] tables")
    specs = {name: spec_from_table(name, table, source) for name, table in models.items()}
    spellings: dict[str, str] = {}
    for name in specs:
        other = spellings.setdefault(normalise_name(name), name)
        if other != name:
            raise ModelError(f"{source}: model names '{other}' and '{name}' are the same name")
    file_names: dict[str, str] = {}
    for spec in specs.values():
        other = file_names.setdefault(spec.file_name.lower(), spec.name)
        if other != spec.name:
            raise ModelError(
                f"{source}: models '{other}' and '{spec.name}' share file_name {spec.file_name}"
            )
    return specs


def spec_from_table(name: str, table: object, source: str = "manifest") -> ModelSpec:
    """Validate one [models.NAME] table and build its ModelSpec."""
    where = f"{source}: model '{name}'"
    if not isinstance(table, dict):
        raise ModelError(f"{where}: must be a table")
    if not _NAME_RE.match(name):
        raise ModelError(f"{where}: name must be lower-case letters, digits, '.', '_' or '-'")
    unknown = sorted(set(table) - set(_REQUIRED) - set(_OPTIONAL))
    if unknown:
        raise ModelError(f"{where}: unknown field(s) {', '.join(unknown)}")
    missing = [key for key in _REQUIRED if key not in table]
    if missing:
        raise ModelError(f"{where}: missing field(s) {', '.join(missing)}")
    check = _Checker(where, table)
    spec = ModelSpec(
        name=name,
        arch=check.choice("arch", ARCHS),
        description=check.text("description"),
        urls=check.urls(),
        file_name=check.file_name(),
        input_size=check.positive_int("input_size"),
        mean=check.triple("mean", nonzero=False),
        std=check.triple("std", nonzero=True),
        output=check.choice("output", OUTPUTS),
        licence=check.text("licence"),
        commercial_use=check.boolean("commercial_use"),
        md5=check.digest("md5"),
        sha256=check.digest("sha256"),
        size_bytes=check.positive_int("size_bytes") if "size_bytes" in table else None,
        title=check.text("title", required=False),
        licence_note=check.text("licence_note", required=False),
        homepage=check.text("homepage", required=False),
        runnable=check.boolean("runnable") if "runnable" in table else True,
        runnable_note=check.text("runnable_note", required=False),
        resize=check.choice("resize", RESIZES) if "resize" in table else "stretch",
    )
    if spec.md5 is None and spec.sha256 is None:
        raise ModelError(f"{where}: needs md5 or sha256 (the upstream's published hash)")
    if not spec.runnable and not spec.runnable_note:
        raise ModelError(f"{where}: runnable = false needs a runnable_note saying why")
    return spec


class _Checker:
    """Typed field access for one manifest table, raising ModelError with the field's name."""

    def __init__(self, where: str, table: dict) -> None:
        self.where = where
        self.table = table

    def fail(self, key: str, message: str) -> ModelError:
        return ModelError(f"{self.where}: field '{key}' {message}")

    def text(self, key: str, required: bool = True) -> str:
        value = self.table.get(key, "")
        if not isinstance(value, str):
            raise self.fail(key, "must be a string")
        if required and not value.strip():
            raise self.fail(key, "must not be empty")
        return value.strip()

    def choice(self, key: str, allowed: frozenset[str]) -> str:
        value = self.text(key)
        if value not in allowed:
            raise self.fail(key, f"is '{value}', expected one of {', '.join(sorted(allowed))}")
        return value

    def boolean(self, key: str) -> bool:
        value = self.table.get(key)
        if not isinstance(value, bool):
            raise self.fail(key, "must be true or false")
        return value

    def positive_int(self, key: str) -> int:
        value = self.table.get(key)
        if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
            raise self.fail(key, "must be a positive integer")
        return value

    def triple(self, key: str, nonzero: bool) -> tuple[float, float, float]:
        value = self.table.get(key)
        if (
            not isinstance(value, list)
            or len(value) != 3
            or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value)
        ):
            raise self.fail(key, "must be a list of 3 numbers")
        if nonzero and any(v <= 0 for v in value):
            raise self.fail(key, "must hold 3 positive numbers")
        return (float(value[0]), float(value[1]), float(value[2]))

    def digest(self, key: str) -> str | None:
        if key not in self.table:
            return None
        value = self.text(key).lower()
        if len(value) != _HEX_LEN[key] or any(c not in "0123456789abcdef" for c in value):
            raise self.fail(key, f"must be {_HEX_LEN[key]} hex digits")
        return value

    def urls(self) -> tuple[str, ...]:
        value = self.table.get("urls")
        if not isinstance(value, list) or not all(isinstance(u, str) for u in value):
            raise self.fail("urls", "must be a list of strings")
        for url in value:
            if not url.startswith(("https://", "http://")):
                raise self.fail("urls", f"entry '{url}' is not an http(s) URL")
        return tuple(value)

    def file_name(self) -> str:
        value = self.text("file_name")
        if "/" in value or "\\" in value or value.startswith(".") or not value.endswith(".onnx"):
            raise self.fail("file_name", "must be a plain file name ending in .onnx")
        return value
