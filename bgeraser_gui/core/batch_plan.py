"""Plan a batch: which inputs, where each output goes, which are already done, what to report.

Sources and output folders are local paths or URIs (`s3://...`, `memory://...`); URIs are
read through fsspec when it is installed. Nothing here runs a model.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, replace
from pathlib import Path, PurePosixPath
from typing import IO

from PIL import Image

from bgeraser_gui.core.compose import ExportOptions, output_path_for
from bgeraser_gui.core.errors import BgEraserError
from bgeraser_gui.core.image_io import SUPPORTED_EXTENSIONS

SIZE_TOLERANCE_PX = 1  # rounding of a resize may differ by one pixel


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
    # Resume: an invalid output of an earlier run at this location, to overwrite in place
    # (atomically) whatever the existing-file policy says. None = follow the policy.
    replace_output: str | None = None


def _is_image_name(name: str) -> bool:
    return PurePosixPath(name).suffix.lower() in SUPPORTED_EXTENSIONS


def _walk_local(root: Path, recursive: bool) -> Iterator[tuple[str, str]]:
    """(source, relative posix path) for every image under a local root."""
    if root.is_file():
        yield str(root), root.name
        return
    if not root.is_dir():
        raise BgEraserError(f"{root}: no such file or folder")
    pattern = "**/*" if recursive else "*"
    for path in sorted(root.glob(pattern)):
        if path.is_file() and _is_image_name(path.name) and not path.name.startswith("."):
            yield str(path), path.relative_to(root).as_posix()


def _walk_uri(root: str, recursive: bool) -> Iterator[tuple[str, str]]:
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
            yield (
                f"{protocol}://{entry.lstrip('/')}" if protocol != "file" else entry,
                rel.as_posix(),
            )


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
    """Every image under `roots`; sub-folders are mirrored under `out_dir` so names never clash."""
    out = str(out_dir)
    jobs: list[BatchJob] = []
    seen_sources: set[str] = set()
    taken: set[str] = set()
    for root in roots:
        root_text = str(root)
        root_name = PurePosixPath(root_text.rstrip("/")).name or "input"
        walk = (
            _walk_uri(root_text, recursive)
            if is_uri(root_text)
            else _walk_local(Path(root), recursive)
        )
        for source, rel in walk:
            if source in seen_sources:
                continue
            seen_sources.add(source)
            folder = _free_subfolder(rel, root_name, taken)
            jobs.append(BatchJob(source, join_location(out, *PurePosixPath(folder).parts), rel))
    return jobs


def planned_output(job: BatchJob, options: ExportOptions) -> str:
    """Where `job`'s cutout lands when nothing is in the way (the name resume looks for)."""
    plain = replace(options, existing="overwrite")
    name = output_path_for(Path(PurePosixPath(job.source).name), Path("."), plain).name
    return join_location(job.out_dir, name)


def _upright_size(im: Image.Image) -> tuple[int, int]:
    orientation = im.getexif().get(0x0112, 1)
    w, h = im.size
    return (h, w) if orientation in (5, 6, 7, 8) else (w, h)


def _open(location: str) -> IO[bytes]:
    if is_uri(location):
        fs, path = _filesystem(location)
        return fs.open(path, "rb")
    return open(location, "rb")  # noqa: SIM115 - closed by the caller's `with`


def expected_output_size(
    source_size: tuple[int, int], options: ExportOptions
) -> tuple[int, int] | None:
    """The output's size for a source of `source_size`, or None when it depends on the mask."""
    if options.crop_to_subject:
        return None
    w, h = source_size
    limit = options.resize_long_side
    if limit and max(w, h) != limit:  # compose resizes up and down to the target
        scale = limit / max(w, h)
        return max(1, round(w * scale)), max(1, round(h * scale))
    return w, h


def output_is_complete(job: BatchJob, output: str, options: ExportOptions) -> bool:
    """True when `output` exists, decodes fully and has the size this job would give it."""
    try:
        with _open(output) as fh:
            out_im = Image.open(fh)
            out_im.load()
            out_size = out_im.size
        with _open(job.source) as fh:
            source_size = _upright_size(Image.open(fh))
    except (OSError, ValueError, SyntaxError, BgEraserError):
        return False
    expected = expected_output_size(source_size, options)
    if expected is None:  # cropped to the subject: it must fit inside the source
        return out_size[0] <= source_size[0] and out_size[1] <= source_size[1]
    return all(abs(a - b) <= SIZE_TOLERANCE_PX for a, b in zip(out_size, expected, strict=True))


def _exists(location: str) -> bool:
    if is_uri(location):
        fs, path = _filesystem(location)
        return bool(fs.exists(path))
    return Path(location).exists()


def output_candidates(output: str, limit: int = 100) -> Iterator[str]:
    """`output`, then its numbered variants (`name-2.png`, ...) as long as they exist.

    With the "number" policy an earlier run may have written a numbered copy next to an
    older or broken file; resume accepts any complete one of them.
    """
    yield output
    parent = output.rsplit("/", 1)[0] if is_uri(output) else str(Path(output).parent)
    name = PurePosixPath(output).name if is_uri(output) else Path(output).name
    stem, suffix = PurePosixPath(name).stem, PurePosixPath(name).suffix
    for n in range(2, limit):
        candidate = join_location(parent, f"{stem}-{n}{suffix}")
        if not _exists(candidate):
            return
        yield candidate


def split_resumable(
    jobs: list[BatchJob], options: ExportOptions
) -> tuple[list[BatchJob], list[tuple[BatchJob, str]]]:
    """(jobs still to run, [(job, output) already complete and valid]).

    A job whose planned output exists but is invalid (e.g. truncated by a crash) comes back
    with `replace_output` set: that file has our naming pattern, so it is ours to replace,
    rather than leaving it and writing a numbered copy next to it.
    """
    todo: list[BatchJob] = []
    done: list[tuple[BatchJob, str]] = []
    for job in jobs:
        planned = planned_output(job, options)
        complete = next(
            (
                output
                for output in output_candidates(planned)
                if output_is_complete(job, output, options)
            ),
            None,
        )
        if complete is not None:
            done.append((job, complete))
        elif _exists(planned):
            todo.append(replace(job, replace_output=planned))
        else:
            todo.append(job)
    return todo, done


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

    def to_json(self) -> str:
        return json.dumps(asdict(self), ensure_ascii=False)

    @classmethod
    def from_json(cls, line: str) -> ReportRecord:
        return cls(**json.loads(line))


class ReportWriter:
    """Appends one JSON line per finished job and flushes it, so a crash loses nothing."""

    def __init__(self, path: str | Path | None) -> None:
        self._fh: IO[str] | None = None
        if path is not None:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
            self._fh = open(path, "a", encoding="utf-8")  # noqa: SIM115 - closed in close()

    def write(self, record: ReportRecord) -> None:
        if self._fh is not None:
            self._fh.write(record.to_json() + "\n")
            self._fh.flush()

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None

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
