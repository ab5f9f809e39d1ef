"""The ledger of outputs bgeraser wrote: proof that a file in an output folder is ours.

Every export records its file's SHA-256 in a sidecar `<folder>/.bgeraser-outputs/<name>.json`
*before* the file gets its final name, so a file that is on disk under that name and hashes
to a recorded value was written by us, and nothing else was. Resume and `--existing
overwrite` replace only such files; folder scans skip them, so the outputs of one run never
become inputs of the next. Sidecars are separate small files (no shared file to append to),
so parallel workers and object stores (fsspec URIs) need no locking.
"""

from __future__ import annotations

import hashlib
import json
import os
import uuid
from pathlib import Path, PurePosixPath

LEDGER_DIR = ".bgeraser-outputs"
_CHUNK = 1 << 20


def _is_uri(location: str | Path) -> bool:
    from bgeraser_gui.core.batch_plan import is_uri

    return is_uri(location)


def _split(location: str | Path) -> tuple[str, str]:
    text = str(location)
    if _is_uri(text):
        parent, _, name = text.rstrip("/").rpartition("/")
        return parent, name
    path = Path(text)
    return str(path.parent), path.name


def sidecar_location(output: str | Path) -> str:
    """Where the ledger entry of `output` lives."""
    parent, name = _split(output)
    if _is_uri(parent):
        return f"{parent}/{LEDGER_DIR}/{name}.json"
    return str(Path(parent) / LEDGER_DIR / f"{name}.json")


def _fs(location: str):
    import fsspec

    return fsspec.core.url_to_fs(location)


def _read_bytes(location: str) -> bytes | None:
    try:
        if _is_uri(location):
            fs, path = _fs(location)
            return fs.cat_file(path)
        with open(location, "rb") as handle:
            return handle.read()
    except (OSError, ValueError):
        return None


def _entry(output: str | Path) -> dict:
    data = _read_bytes(sidecar_location(output))
    try:
        entry = json.loads(data) if data else {}
    except ValueError:
        return {}
    return entry if isinstance(entry, dict) else {}


def file_sha256(location: str | Path) -> str | None:
    """SHA-256 of a local file or URI; None when it cannot be read."""
    digest = hashlib.sha256()
    try:
        if _is_uri(location):
            fs, path = _fs(str(location))
            handle = fs.open(path, "rb")
        else:
            handle = open(location, "rb")  # noqa: SIM115 - closed by the `with` below
        with handle:
            while block := handle.read(_CHUNK):
                digest.update(block)
    except (OSError, ValueError):
        return None
    return digest.hexdigest()


def record_output(output: str | Path, written: str | Path) -> None:
    """Record that the bytes of the local file `written` are (about to be) `output`.

    Earlier hashes stay recorded, so a crash between this call and the final rename leaves
    the previous file (ours too) provable."""
    entry = _entry(output)
    digest = file_sha256(written)
    hashes = [h for h in entry.get("sha256", []) if isinstance(h, str) and h != digest]
    sizes = {int(s) for s in entry.get("sizes", []) if isinstance(s, int)}
    sizes.add(Path(written).stat().st_size)
    text = json.dumps({"sha256": [*hashes[-7:], digest], "sizes": sorted(sizes)[-8:]})
    sidecar = sidecar_location(output)
    if _is_uri(sidecar):
        fs, path = _fs(sidecar)
        fs.makedirs(str(PurePosixPath(path).parent), exist_ok=True)
        fs.pipe_file(path, text.encode())
        return
    folder = Path(sidecar).parent
    folder.mkdir(exist_ok=True)
    tmp = folder / f".{uuid.uuid4().hex}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(tmp, sidecar)
    finally:
        tmp.unlink(missing_ok=True)


def is_our_output(output: str | Path) -> bool:
    """True when `output` exists and its content is what we recorded writing there."""
    hashes = _entry(output).get("sha256")
    if not hashes:
        return False
    digest = file_sha256(output)
    return digest is not None and digest in hashes


def looks_like_our_output(output: str | Path, size: int) -> bool:
    """Cheap test for folder scans (no hashing): a ledger entry with this file's size."""
    return size in _entry(output).get("sizes", [])
