"""Plan a batch: which inputs, where each output goes, which are already done, what to report.

Sources and output folders are local paths or URIs (`s3://...`, `memory://...`); URIs are
read through fsspec when it is installed. Nothing here runs a model.
"""

from __future__ import annotations

import json
import os
import posixpath
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, replace
from pathlib import Path, PurePosixPath
from typing import IO

from bgeraser_gui.core.compose import ExportOptions, output_path_for
from bgeraser_gui.core.errors import BgEraserError
from bgeraser_gui.core.image_io import (
    SUPPORTED_EXTENSIONS,
    identity,
)
from bgeraser_gui.core.output_ledger import LEDGER_DIR, looks_like_our_output


def is_uri(location: str | Path) -> bool:
    """True for `scheme://...` locations (but not Windows drive letters)."""
    text = str(location)
    scheme, sep, _ = text.partition("://")
    return bool(sep) and len(scheme) > 1 and scheme.replace("+", "").isalnum()


def join_location(base: str, *parts: str) -> str:
    """Join a path or URI with relative parts, keeping `/` for URIs."""
    parts = tuple(p for p in parts if p not in ("", "."))
    if is_uri(base):
        return "/".join([base.rstrip("/"), *parts])
    return str(Path(base).joinpath(*parts))


def _filesystem(uri: str):
    try:
        import fsspec
    except ImportError as exc:  # pragma: no cover - fsspec ships with the ray extra
        raise BgEraserError(f"{uri}: URIs need fsspec (pip install fsspec)") from exc
    fs, path = fsspec.core.url_to_fs(uri)
    return fs, path


@dataclass(frozen=True)
class BatchJob:
    """One input and the folder its cutout goes to."""

    source: str  # local path or URI of the photo
    out_dir: str  # local folder or URI prefix for the output
    name: str  # the input's path relative to the root it was found under (for display)
    # Resume: an invalid output of an earlier run at this location (the ledger proves we
    # wrote it), to overwrite in place (atomically). None = follow the policy.
    replace_output: str | None = None
    out_root: str = ""  # the run's output root: no output may land outside it ("" = out_dir)


def _is_image_name(name: str) -> bool:
    return PurePosixPath(name).suffix.lower() in SUPPORTED_EXTENSIONS


def _inside(path: str, root: str, sep: str) -> bool:
    return path == root or path.startswith(root.rstrip(sep) + sep)


def normal_location(location: str) -> tuple[str, str]:
    """(scheme, normalised path) to compare locations: `..` resolved, symlinks for local."""
    if is_uri(location):
        scheme, _, rest = location.partition("://")
        return scheme, posixpath.normpath("/" + rest)
    return "", identity(location)


def location_key(location: str | Path) -> str:
    """One spelling per file or object, to compare locations (`..` and symlinks resolved)."""
    scheme, path = normal_location(str(location))
    return f"{scheme}://{path}" if scheme else path


def leaves_root(location: str, root: str) -> bool:
    """True when `location` is not inside the folder or URI prefix `root`."""
    (scheme, path), (root_scheme, root_path) = normal_location(location), normal_location(root)
    return scheme != root_scheme or not _inside(path, root_path, "/" if scheme else os.sep)


def earlier_output_filter(out_dir: str | Path, root: str | Path) -> Callable[[str, int], bool]:
    """`skip(location, size)` for a scan of `root`: True for files under the output folder
    (when it lies inside `root`) and for files the output ledger records as ours, so the
    outputs of one run never become inputs of the next."""
    out, root_text = str(out_dir), str(root)
    nested = not leaves_root(out, root_text) and normal_location(out) != normal_location(root_text)
    has_ledger: dict[str, bool] = {}

    def skip(location: str, size: int) -> bool:
        if nested and not leaves_root(location, out):
            return True
        folder = location.rsplit("/", 1)[0] if is_uri(location) else os.path.dirname(location)
        if folder not in has_ledger:
            has_ledger[folder] = location_exists(join_location(folder, LEDGER_DIR))
        return has_ledger[folder] and looks_like_our_output(location, size)

    return skip


def _walk_local(
    root: Path, recursive: bool, skip: Callable[[str, int], bool]
) -> Iterator[tuple[str, str]]:
    """(source, relative posix path) for every image under a local root (a broken symlink or
    a symlink loop named as a root is a file, reported when its job fails)."""
    if root.is_file() or (root.is_symlink() and not root.exists()):
        yield str(root), root.name
        return
    if not root.is_dir():
        raise BgEraserError(f"{root}: no such file or folder")
    pattern = "**/*" if recursive else "*"
    for path in sorted(root.glob(pattern)):
        if (
            path.is_file()
            and _is_image_name(path.name)
            and not path.name.startswith(".")
            and not skip(str(path), path.stat().st_size)
        ):
            yield str(path), path.relative_to(root).as_posix()


def _walk_uri(
    root: str, recursive: bool, skip: Callable[[str, int], bool]
) -> Iterator[tuple[str, str]]:
    fs, base = _filesystem(root)
    if fs.isfile(base):
        yield root, PurePosixPath(base).name
        return
    if not fs.isdir(base):
        raise BgEraserError(f"{root}: no such file or folder")
    found = fs.find(base) if recursive else fs.ls(base, detail=False)
    protocol = root.split("://", 1)[0]
    base_posix = PurePosixPath(base.rstrip("/"))
    for entry in sorted(found):
        rel = PurePosixPath(entry).relative_to(base_posix)
        if _is_image_name(entry) and fs.isfile(entry) and not rel.name.startswith("."):
            location = f"{protocol}://{entry.lstrip('/')}" if protocol != "file" else entry
            if not skip(location, int(fs.size(entry) or 0)):
                yield location, rel.as_posix()


def _free_subfolder(rel: str, root_name: str, taken: set[str]) -> str:
    """The output sub-folder for `rel`: its own folder, unless that name is already taken.

    Clashes come from the same relative name under two roots (-> `<root name>/...`) or the
    same stem with two extensions (`img.jpg`, `img.png` -> `.../png/`).
    """
    path = PurePosixPath(rel)
    parent, suffix = path.parent, path.suffix.lstrip(".").lower() or "file"
    candidates = (parent, PurePosixPath(root_name) / parent, parent / suffix)
    for index, folder in enumerate((*candidates, PurePosixPath(root_name) / parent / suffix)):
        key = f"{folder}/{path.stem}".lower()
        if key not in taken or index == 3:
            taken.add(key)
            return str(folder)
    raise AssertionError("unreachable")


def collect_jobs(
    roots: Iterable[str | Path], out_dir: str | Path, recursive: bool
) -> list[BatchJob]:
    """Every image under `roots`; sub-folders are mirrored under `out_dir` so names never clash.

    One file given by two spellings is one job; earlier outputs (the output folder inside a
    root, files in the output ledger) are not inputs. A relative name that climbs out of its
    root (an object key with `..`) keeps its `..`: the job then fails with one line."""
    out = str(out_dir)
    jobs: list[BatchJob] = []
    seen_sources: set[str] = set()
    taken: set[str] = set()
    for root in roots:
        root_text = str(root)
        root_name = PurePosixPath(root_text.rstrip("/")).name or "input"
        skip = earlier_output_filter(out, root_text)
        walk = (
            _walk_uri(root_text, recursive, skip)
            if is_uri(root_text)
            else _walk_local(Path(root), recursive, skip)
        )
        for source, rel in walk:
            key = location_key(source)
            if key in seen_sources:
                continue
            seen_sources.add(source)
            seen_sources.add(key)
            rel = posixpath.normpath(rel)
            folder = _free_subfolder(rel, root_name, taken)
            target = join_location(out, *PurePosixPath(folder).parts)
            jobs.append(BatchJob(source, target, rel, out_root=out))
    return jobs


def guarded_export(
    options: ExportOptions, sources: Iterable[str | Path], max_pixels: int | None
) -> ExportOptions:
    """`options` for one run: no policy may write over any of the run's `sources`, and a
    watermark image is decoded under the run's size guard."""
    watermark = options.watermark
    if watermark is not None and max_pixels is not None:
        watermark = replace(watermark, max_pixels=max_pixels)
    protected = options.protected | {location_key(source) for source in sources}
    return replace(options, protected=frozenset(protected), watermark=watermark)


def planned_output(job: BatchJob, options: ExportOptions) -> str:
    """Where `job`'s cutout lands when nothing is in the way (the name resume looks for)."""
    plain = replace(options, existing="overwrite")
    name = output_path_for(Path(PurePosixPath(job.source).name), Path("."), plain).name
    return join_location(job.out_dir, name)


def open_location(location: str) -> IO[bytes]:
    if is_uri(location):
        fs, path = _filesystem(location)
        return fs.open(path, "rb")
    return open(location, "rb")  # noqa: SIM115 - closed by the caller's `with`


def location_exists(location: str) -> bool:
    if is_uri(location):
        fs, path = _filesystem(location)
        return bool(fs.exists(path))
    return Path(location).exists()


# Outcome of one job, as written to the JSON-lines report.
STATUS_OK = "ok"  # written
STATUS_SKIPPED = "skipped"  # existing output kept (policy or resume)
STATUS_FAILED = "failed"
STATUS_CANCELLED = "cancelled"


@dataclass(frozen=True)
class ReportRecord:
    input: str
    output: str | None
    status: str
    seconds: float
    error: str | None = None
    # "Needs review" score of a finished cutout (core.review_score): 0 = looks clean,
    # 1 = look first. None when no image was made (skipped, failed, cancelled).
    review_score: float | None = None
    # With --objects: the objects written (core.object_files.describe), else None
    objects: list[dict] | None = None

    def to_json(self) -> str:
        fields = asdict(self)
        if fields["objects"] is None:  # only runs with --objects list them
            del fields["objects"]
        return json.dumps(fields, ensure_ascii=False)

    @classmethod
    def from_json(cls, line: str) -> ReportRecord:
        return cls(**json.loads(line))


class ReportWriter:
    """Appends one JSON line per finished job and flushes it, so a crash loses nothing."""

    def __init__(self, path: str | Path | None) -> None:
        """Raises BgEraserError (one line) when the report cannot be opened."""
        self._fh: IO[str] | None = None
        self.error: str | None = None  # why the report stopped (disk full...), once
        if path is not None:
            try:
                Path(path).parent.mkdir(parents=True, exist_ok=True)
                self._fh = open(path, "a", encoding="utf-8")  # noqa: SIM115 - closed in close()
            except OSError as exc:
                raise BgEraserError(
                    f"cannot write the report {path}: {exc.strerror or exc}"
                ) from None
        self._path = path

    def write(self, record: ReportRecord) -> None:
        """Append a record; on a write error (disk full) the report stops, `error` says why,
        and the run goes on."""
        if self._fh is None:
            return
        try:
            self._fh.write(record.to_json() + "\n")
            self._fh.flush()
        except OSError as exc:
            self.error = f"cannot write the report {self._path}: {exc.strerror or exc}"
            self.close()

    def close(self) -> None:
        if self._fh is not None:
            fh, self._fh = self._fh, None
            try:
                fh.close()
            except OSError as exc:
                self.error = (
                    self.error or f"cannot write the report {self._path}: {exc.strerror or exc}"
                )

    def __enter__(self) -> ReportWriter:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


@dataclass
class BatchSummary:
    """Counts and timing of a whole run."""

    ok: int = 0
    skipped: int = 0
    failed: int = 0
    cancelled: int = 0
    started: float = 0.0
    finished: float = 0.0

    def add(self, record: ReportRecord) -> None:
        field = {STATUS_OK: "ok", STATUS_SKIPPED: "skipped", STATUS_FAILED: "failed"}
        name = field.get(record.status, "cancelled")
        setattr(self, name, getattr(self, name) + 1)

    def start(self) -> None:
        self.started = time.perf_counter()

    def stop(self) -> None:
        self.finished = time.perf_counter()

    @property
    def images_per_minute(self) -> float:
        elapsed = self.finished - self.started
        return 60.0 * self.ok / elapsed if elapsed > 0 else 0.0
