"""`bgeraser-cli models`: list, download, import and remove segmentation models."""

from __future__ import annotations

import argparse
import sys

from bgeraser_gui.backends.download import (
    ensure_model,
    import_model,
    list_models,
    model_dir,
    remove_model,
)
from bgeraser_gui.backends.model_cache import ModelStatus, model_path, resolve_spec, verify_model
from bgeraser_gui.backends.model_choice import describe_import
from bgeraser_gui.core.errors import BgEraserError


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "models",
        help="list, download, import or remove segmentation models",
        description="Manage the segmentation models in the per-user model cache "
        "(override the folder with BGERASER_MODEL_DIR).",
    )
    actions = parser.add_subparsers(dest="models_action", metavar="ACTION")
    actions.required = True

    listing = actions.add_parser("list", help="show every known model and whether it is installed")
    listing.add_argument("-v", "--verbose", action="store_true", help="also show descriptions")
    listing.set_defaults(func=run_list)

    download = actions.add_parser("download", help="download a model (resumes partial downloads)")
    download.add_argument("name", metavar="NAME", help="model name, see `models list`")
    download.set_defaults(func=run_download)

    importing = actions.add_parser(
        "import", help="copy a model file you already have into the cache"
    )
    importing.add_argument("path", metavar="PATH", help="an .onnx model file")
    importing.add_argument(
        "--name", help="install under this name (a registry name checks the published hash)"
    )
    importing.add_argument(
        "--like",
        metavar="MODEL",
        help="for a custom model: the registry model whose preprocessing it uses",
    )
    importing.set_defaults(func=run_import)

    verify = actions.add_parser("verify", help="re-check an installed model's hash")
    verify.add_argument("name", metavar="NAME")
    verify.set_defaults(func=run_verify)

    remove = actions.add_parser("remove", help="delete an installed model from the cache")
    remove.add_argument("name", metavar="NAME")
    remove.set_defaults(func=run_remove)

    path = actions.add_parser("path", help="print the cache folder, or where a model's file goes")
    path.add_argument("name", metavar="NAME", nargs="?")
    path.set_defaults(func=run_path)


def _fail(exc: BgEraserError) -> int:
    print(f"error: {exc}", file=sys.stderr)
    return 1


def _size(count: int | None) -> str:
    if count is None:
        return "?"
    if count >= 1e9:
        return f"{count / 1e9:.2f} GB"
    return f"{count / 1e6:.1f} MB"


def _state(status: ModelStatus) -> str:
    if status.installed:
        return "installed"
    if status.partial_bytes:
        return f"partial {_size(status.partial_bytes)}"
    return "-"


def _notes(status: ModelStatus) -> str:
    spec = status.spec
    notes = []
    if status.is_default:
        notes.append("default")
    if spec.custom:
        notes.append("imported")
    if not spec.commercial_use and not spec.custom:
        notes.append("non-commercial")
    if not spec.runnable:
        notes.append(f"not runnable yet: {spec.runnable_note}")
    if not spec.urls and not spec.custom:
        notes.append("import only")
    return "; ".join(notes)


def run_list(args: argparse.Namespace) -> int:
    try:
        statuses = list_models()
    except BgEraserError as exc:
        return _fail(exc)
    width = max(len(s.spec.name) for s in statuses)
    print(f"{'NAME':<{width}}  {'STATE':<16}  {'SIZE':>9}  {'LICENCE':<14}  NOTES")
    for status in statuses:
        spec = status.spec
        size = status.path.stat().st_size if status.installed else spec.size_bytes
        print(
            f"{spec.name:<{width}}  {_state(status):<16}  {_size(size):>9}  "
            f"{spec.licence[:14]:<14}  {_notes(status)}".rstrip()
        )
        if args.verbose:
            print(f"{'':<{width}}  {spec.display_name}: {spec.description}")
    print(f"cache: {model_dir()}")
    return 0


def run_download(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    try:
        spec = resolve_spec(args.name)
        if model_path(spec).is_file():
            path = ensure_model(spec)
            print(f"{spec.name} is already installed: {path}")
            return 0
        total = spec.size_bytes
        with tqdm(
            total=total or 1000,
            unit="B" if total else "‰",
            unit_scale=bool(total),
            unit_divisor=1000,
            desc=spec.name,
            file=sys.stderr,
            leave=False,
        ) as bar:

            def progress(fraction: float, message: str) -> None:
                bar.n = int(fraction * (total or 1000))
                if message.startswith("Checking"):
                    bar.set_description_str(f"{spec.name} (checking hash)")
                bar.refresh()

            path = ensure_model(spec, progress=progress)
    except BgEraserError as exc:
        return _fail(exc)
    print(f"downloaded {spec.name}: {path}")
    return 0


def run_import(args: argparse.Namespace) -> int:
    try:
        path = import_model(args.path, name=args.name, like=args.like)
    except BgEraserError as exc:
        return _fail(exc)
    print(f"imported {args.path}: {describe_import(path)} -> {path}")
    return 0


def run_verify(args: argparse.Namespace) -> int:
    try:
        path = verify_model(args.name)
    except BgEraserError as exc:
        return _fail(exc)
    print(f"ok: {path} matches its published hash")
    return 0


def run_remove(args: argparse.Namespace) -> int:
    try:
        removed = remove_model(args.name)
    except BgEraserError as exc:
        return _fail(exc)
    for path in removed:
        print(f"removed {path}")
    return 0


def run_path(args: argparse.Namespace) -> int:
    if args.name is None:
        print(model_dir())
        return 0
    try:
        print(model_path(resolve_spec(args.name)))
    except BgEraserError as exc:
        return _fail(exc)
    return 0
