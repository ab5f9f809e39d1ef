"""The per-user model cache: where model files live, what is installed, import and removal.

Layout of the model folder (`model_dir`: the folder chosen in the app's settings, else
`BGERASER_MODEL_DIR`, else platformdirs' user cache dir). Every function takes that choice as
`folder` (None: the environment's or the platform's), so the editor and the CLI never need to
change the process environment:
  <file_name>            a registry model, named as in the manifest (e.g. isnet-general-use.onnx)
  <file_name>.part       an unfinished download, resumed by the next `ensure_model`
  custom/<name>.onnx     a model imported under a name of the user's choosing
  custom/<name>.json     what we know about it: hashes, origin, the registry model it runs like
Files only ever appear by an atomic rename of a fully written and checked temporary file.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import os
import re
import uuid
from dataclasses import dataclass
from pathlib import Path

import platformdirs

from bgeraser_gui.backends.registry import (
    DEFAULT_MODEL,
    ModelSpec,
    find_spec,
    load_registry,
    normalise_name,
)
from bgeraser_gui.core.errors import ModelError
from bgeraser_gui.core.progress import CancelToken, ProgressFn

MODEL_DIR_ENV = "BGERASER_MODEL_DIR"
CUSTOM_SUBDIR = "custom"
PART_SUFFIX = ".part"
_CHUNK = 1 << 20
_CUSTOM_NAME_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")
# the model folder chosen in the app's settings; None or "" = BGERASER_MODEL_DIR or the default
Folder = str | os.PathLike[str] | None


def model_dir(folder: Folder = None) -> Path:
    """The model folder (not created here): `folder` when given (the one chosen in the app's
    settings), else BGERASER_MODEL_DIR, else the platform's user cache folder."""
    if folder and str(folder).strip():
        return Path(folder).expanduser()
    override = os.environ.get(MODEL_DIR_ENV, "").strip()
    if override:
        return Path(override).expanduser()
    return platformdirs.user_cache_path("bgeraser", appauthor=False) / "models"


def model_path(spec: ModelSpec, folder: Folder = None) -> Path:
    """Where `spec`'s file lives in the model folder once installed."""
    if spec.custom:
        return model_dir(folder) / CUSTOM_SUBDIR / f"{spec.name}.onnx"
    return model_dir(folder) / spec.file_name


def part_path(spec: ModelSpec, folder: Folder = None) -> Path:
    return part_path_of(model_path(spec, folder))


def part_path_of(final: Path) -> Path:
    """Where the unfinished download of the file `final` is kept."""
    return final.with_name(final.name + PART_SUFFIX)


@dataclass(frozen=True)
class ModelStatus:
    """A model and its state in the cache, as `list_models` reports it."""

    spec: ModelSpec
    path: Path
    installed: bool
    partial_bytes: int = 0

    @property
    def is_default(self) -> bool:
        return self.spec.name == DEFAULT_MODEL


def list_models(folder: Folder = None) -> list[ModelStatus]:
    """Every registry model (manifest order), then every imported custom model."""
    statuses = []
    for spec in [*load_registry().values(), *custom_specs(folder).values()]:
        path = model_path(spec, folder)
        part = part_path(spec, folder)
        statuses.append(
            ModelStatus(
                spec=spec,
                path=path,
                installed=path.is_file(),
                partial_bytes=part.stat().st_size if part.is_file() else 0,
            )
        )
    return statuses


def custom_specs(folder: Folder = None) -> dict[str, ModelSpec]:
    """Models imported under a custom name, read from their sidecar files."""
    custom = model_dir(folder) / CUSTOM_SUBDIR
    specs: dict[str, ModelSpec] = {}
    if not custom.is_dir():
        return specs
    for sidecar in sorted(custom.glob("*.json")):
        spec = _spec_from_sidecar(sidecar)
        if spec is not None:
            specs[spec.name] = spec
    return specs


def resolve_spec(name: str, folder: Folder = None) -> ModelSpec:
    """The registry or custom model called `name`; ModelError listing the choices otherwise."""
    spec = find_spec(name) or custom_specs(folder).get(normalise_name(name))
    if spec is None:
        known = ", ".join([*load_registry(), *custom_specs(folder)])
        raise ModelError(f"unknown model '{name}'; known models: {known}")
    return spec


def file_hashes(
    path: Path, progress: ProgressFn | None = None, cancel: CancelToken | None = None
) -> tuple[str, str]:
    """(md5, sha256) hex digests of a file, read once."""
    md5, sha256 = hashlib.md5(usedforsecurity=False), hashlib.sha256()
    total = max(path.stat().st_size, 1)
    done = 0
    with path.open("rb") as stream:
        while chunk := stream.read(_CHUNK):
            if cancel is not None:
                cancel.check()
            md5.update(chunk)
            sha256.update(chunk)
            done += len(chunk)
            if progress is not None:
                progress(done / total, f"Checking {path.name}")
    return md5.hexdigest(), sha256.hexdigest()


def hash_problem(spec: ModelSpec, md5: str, sha256: str) -> str | None:
    """None when the digests match every hash the spec publishes, else what differs."""
    if spec.sha256 is not None and sha256 != spec.sha256:
        return f"sha256 {sha256} differs from the published {spec.sha256}"
    if spec.md5 is not None and md5 != spec.md5:
        return f"md5 {md5} differs from the published {spec.md5}"
    return None


def identify(md5: str, sha256: str) -> ModelSpec | None:
    """The registry model whose published hash matches these digests, if any."""
    for spec in load_registry().values():
        if (spec.sha256 or spec.md5) and hash_problem(spec, md5, sha256) is None:
            return spec
    return None


def import_model(
    path: str | os.PathLike[str],
    name: str | None = None,
    like: str | None = None,
    progress: ProgressFn | None = None,
    cancel: CancelToken | None = None,
    folder: Folder = None,
) -> Path:
    """Copy a model file into the model folder and return its new path.

    Without `name`, a file whose hash matches a registry model is installed as that model;
    any other file becomes a custom model named after the file. With a registry `name`, the
    file must match that model's published hash. With any other `name`, the file is checked to
    be an ONNX model and installed as a custom model that runs like registry model `like`
    (default: the registry model with the same hash, else DEFAULT_MODEL).
    """
    source = Path(path).expanduser()
    if not source.is_file():
        raise ModelError(f"cannot import {source}: no such file")
    destination = model_dir(folder)
    destination.mkdir(parents=True, exist_ok=True)
    temp = _copy_to_temp(source, destination, progress, cancel)
    try:
        md5, sha256 = file_hashes(temp)
        target, sidecar = _import_target(source, temp, name, like, md5, sha256, destination)
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(temp, target)
        if sidecar is not None:
            _write_json_atomic(target.with_suffix(".json"), sidecar)
    finally:
        with contextlib.suppress(FileNotFoundError):
            temp.unlink()
    if progress is not None:
        progress(1.0, f"Imported {target.name}")
    return target


def _import_target(
    source: Path,
    temp: Path,
    name: str | None,
    like: str | None,
    md5: str,
    sha256: str,
    destination: Path,
) -> tuple[Path, dict | None]:
    """Where the imported file goes, plus the sidecar to write for a custom model."""
    known = identify(md5, sha256)
    registry_named = find_spec(name) if name else None
    if registry_named is not None:
        problem = hash_problem(registry_named, md5, sha256)
        if problem is not None:
            raise ModelError(
                f"{source.name} is not the published {registry_named.name} file ({problem}); "
                f"to use it anyway, import it under another name: --name my-{registry_named.name}"
            )
        return model_path(registry_named, destination), None
    if name is None and known is not None:
        return model_path(known, destination), None
    custom_name = normalise_name(name) if name else normalise_name(source.stem)
    if not _CUSTOM_NAME_RE.match(custom_name):
        raise ModelError(
            f"'{custom_name}' is not a usable model name (letters, digits, '.', '-'); pass --name"
        )
    same_file_name = next((s for s in load_registry().values() if s.file_name == source.name), None)
    if name is None and (find_spec(custom_name) or same_file_name) is not None:
        published = (find_spec(custom_name) or same_file_name).name
        raise ModelError(
            f"{source.name} does not match the published {published} file (damaged?); "
            "import it under another name with --name"
        )
    template_name = like or (known.name if known else DEFAULT_MODEL)
    template = find_spec(template_name)
    if template is None:
        raise ModelError(f"--like: unknown registry model '{template_name}'")
    input_size = onnx_input_size(temp, source.name)
    from bgeraser_gui.backends.model_check import validate_network

    # builds and runs, or refuses; without --like the settings follow the file's network
    arch = validate_network(temp, source.name, template.arch if like else None)
    if arch != template.arch:
        template = next(s for s in load_registry().values() if s.arch == arch and s.runnable)
    sidecar = {
        "name": custom_name,
        "like": template.name,
        "md5": md5,
        "sha256": sha256,
        "size_bytes": temp.stat().st_size,
        "imported_from": str(source.resolve()),
        "input_size": input_size or template.input_size,
    }
    return destination / CUSTOM_SUBDIR / f"{custom_name}.onnx", sidecar


def onnx_input_size(path: Path, label: str) -> int | None:
    """Check `path` parses as an ONNX image model; return its fixed square input size if any.

    Only parsing and the graph's interface are checked: onnx.checker rejects real published
    files (e.g. nodes not topologically sorted) that ONNX Runtime and our converter accept.
    """
    import onnx  # heavy import, only needed for custom imports

    try:
        model = onnx.load(str(path), load_external_data=False)
    except Exception as exc:  # protobuf raises several unrelated types for bad files
        detail = (str(exc).splitlines() or [type(exc).__name__])[0]
        raise ModelError(f"{label} is not a valid ONNX model: {detail}") from exc
    if not model.graph.node or not model.graph.output:
        raise ModelError(f"{label} is not a valid ONNX model: its graph is empty")
    from bgeraser_gui.backends.network_support import check_supported_graph

    check_supported_graph(model, label)
    initializers = {init.name for init in model.graph.initializer}
    inputs = [i for i in model.graph.input if i.name not in initializers]
    if len(inputs) != 1:
        raise ModelError(f"{label}: expected one image input, found {len(inputs)} inputs")
    dims = inputs[0].type.tensor_type.shape.dim
    if len(dims) != 4 or (dims[1].HasField("dim_value") and dims[1].dim_value != 3):
        raise ModelError(f"{label}: input is not an N x 3 x H x W image tensor")
    height, width = dims[2], dims[3]
    if height.HasField("dim_value") and width.HasField("dim_value"):
        if height.dim_value != width.dim_value:
            return None
        return int(height.dim_value)
    return None


def verify_model(
    name: str,
    progress: ProgressFn | None = None,
    cancel: CancelToken | None = None,
    folder: Folder = None,
) -> Path:
    """Re-hash an installed model against its published (or imported) hashes.

    Returns the file's path; raises ModelError when it is missing or damaged.
    """
    spec = resolve_spec(name, folder)
    path = model_path(spec, folder)
    if not path.is_file():
        raise ModelError(f"model '{spec.name}' is not installed")
    problem = hash_problem(spec, *file_hashes(path, progress, cancel))
    if problem is not None:
        raise ModelError(
            f"{path} is damaged ({problem}); run: bgeraser-cli models remove {spec.name}, "
            "then download or import it again"
        )
    return path


def remove_model(name: str, folder: Folder = None) -> list[Path]:
    """Delete an installed model (and any unfinished download of it); return what was removed."""
    spec = resolve_spec(name, folder)
    final = model_path(spec, folder)
    candidates = [final, part_path(spec, folder)]
    if spec.custom:
        candidates.append(final.with_suffix(".json"))
    removed = []
    for path in candidates:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
            removed.append(path)
    if not removed:
        raise ModelError(f"model '{spec.name}' is not installed")
    return removed


def _copy_to_temp(
    source: Path, folder: Path, progress: ProgressFn | None, cancel: CancelToken | None
) -> Path:
    temp = folder / f".import-{uuid.uuid4().hex}{PART_SUFFIX}"
    total = max(source.stat().st_size, 1)
    done = 0
    try:
        with temp.open("xb") as out, source.open("rb") as stream:
            while chunk := stream.read(_CHUNK):
                if cancel is not None:
                    cancel.check()
                out.write(chunk)
                done += len(chunk)
                if progress is not None:
                    progress(0.99 * done / total, f"Copying {source.name}")
            out.flush()
            os.fsync(out.fileno())
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    return temp


def _write_json_atomic(path: Path, data: dict) -> None:
    """Through a unique temporary file created exclusively (never via a symlink)."""
    temp = path.with_name(f".{path.name}.{uuid.uuid4().hex}{PART_SUFFIX}")
    try:
        with open(temp, "x", encoding="utf-8") as handle:
            handle.write(json.dumps(data, indent=2) + "\n")
        os.replace(temp, path)
    finally:
        temp.unlink(missing_ok=True)


def _spec_from_sidecar(sidecar: Path) -> ModelSpec | None:
    try:
        data = json.loads(sidecar.read_text(encoding="utf-8"))
        template = find_spec(str(data.get("like", DEFAULT_MODEL))) or find_spec(DEFAULT_MODEL)
        name = str(data["name"])
    except (OSError, ValueError, KeyError, TypeError):
        return None  # a damaged sidecar hides that model rather than breaking the whole list
    if template is None or name != sidecar.stem:
        return None
    return dataclasses.replace(
        template,
        name=name,
        title=f"{name} (imported, runs like {template.name})",
        description=f"Imported from {data.get('imported_from', 'a local file')}.",
        urls=(),
        md5=data.get("md5"),
        sha256=data.get("sha256"),
        size_bytes=data.get("size_bytes"),
        file_name=f"{name}.onnx",
        input_size=int(data.get("input_size") or template.input_size),
        licence="unknown",
        licence_note="Check the licence of the file's source before commercial use.",
        commercial_use=False,
        custom=True,
    )
