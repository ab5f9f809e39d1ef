"""Fetch registry models into the per-user cache: resumable, hash-checked, atomic.

`ensure_model(name)` returns the cached file, downloading it first when needed. A download
streams into `<file>.part` next to the final file, resumes an earlier `.part` with an HTTP
Range request (restarting when the server ignores Range), retries dropped connections, tries
each mirror URL in turn, checks the published md5/sha256 and only then renames the file into
place. A file that fails the hash check is deleted. When nothing can be fetched (offline,
firewall, HTTP error) the ModelError says how to import a file fetched elsewhere.
"""

from __future__ import annotations

import contextlib
import http.client
import os
import re
import shutil
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

from bgeraser_gui import __version__
from bgeraser_gui.backends.model_cache import (
    Folder,
    file_hashes,
    hash_problem,
    import_model,
    list_models,
    model_dir,
    model_path,
    part_path_of,
    remove_model,
    resolve_spec,
    verify_model,
)
from bgeraser_gui.backends.model_check import check_model_file
from bgeraser_gui.backends.registry import ModelSpec
from bgeraser_gui.core.errors import ModelError
from bgeraser_gui.core.progress import CancelToken, ProgressFn

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None

__all__ = [
    "ensure_model",
    "import_model",
    "list_models",
    "model_dir",
    "remove_model",
    "verify_model",
]

ATTEMPTS_PER_URL = 3
TIMEOUT_S = 30.0
CHUNK_BYTES = 1 << 18
_REPORT_STEP = 0.005
_CONTENT_RANGE_RE = re.compile(r"bytes\s+(\d+)-(\d+)/(\d+|\*)")


class _Retry(Exception):
    """The transfer stopped early; the .part file is kept and the next attempt resumes it."""


class _NextUrl(Exception):
    """This URL cannot deliver the file (HTTP error, wrong content); try the next mirror."""


def ensure_model(
    model: str | ModelSpec,
    progress: ProgressFn | None = None,
    cancel: CancelToken | None = None,
    folder: Folder = None,
) -> Path:
    """Path of the model's file in the model folder (`model_cache.model_dir(folder)`),
    downloading (or resuming) it when missing."""
    spec = model if isinstance(model, ModelSpec) else resolve_spec(model, folder)
    final = model_path(spec, folder)
    if final.is_file() and (spec.size_bytes is None or final.stat().st_size == spec.size_bytes):
        return check_model_file(final, spec, progress, cancel)  # a damaged file is refused
    if spec.custom:
        raise ModelError(
            f"the imported model '{spec.name}' is missing from {final.parent}; "
            f"import it again: bgeraser-cli models import PATH --name {spec.name}"
        )
    if not spec.urls:
        raise ModelError(
            f"'{spec.name}' has no download address; get {spec.file_name} and run: "
            f"bgeraser-cli models import PATH --name {spec.name}"
        )
    final.parent.mkdir(parents=True, exist_ok=True)
    with _exclusive(final):
        if final.is_file() and (spec.size_bytes is None or final.stat().st_size == spec.size_bytes):
            return final  # another thread or process finished it while we waited
        _check_free_space(spec, final)
        return _download(spec, final, progress, cancel)


_thread_locks: dict[Path, threading.Lock] = {}
_thread_locks_guard = threading.Lock()


@contextlib.contextmanager
def _exclusive(final: Path) -> Iterator[None]:
    """One download per model file at a time: across threads, and across processes on POSIX."""
    with _thread_locks_guard:
        lock = _thread_locks.setdefault(final, threading.Lock())
    with lock:
        if fcntl is None:  # Windows: in-process lock only
            yield
            return
        with _open_no_symlink(final.parent / ".download.lock", os.O_RDWR) as handle:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def _open_no_symlink(path: Path, flags: int):
    """Open (creating) a file of ours in the model folder, never through a symlink someone
    put there (the names of the lock and of an unfinished download are fixed, for resume)."""
    nofollow = getattr(os, "O_NOFOLLOW", 0)
    try:
        fd = os.open(path, flags | os.O_CREAT | nofollow, 0o600)
    except OSError:
        if path.is_symlink():
            raise ModelError(f"refusing to write {path}: it is a symbolic link") from None
        raise
    return os.fdopen(fd, "r+b" if flags & os.O_RDWR else "ab" if flags & os.O_APPEND else "wb")


def _check_free_space(spec: ModelSpec, final: Path) -> None:
    if spec.size_bytes is None:
        return
    part = part_path_of(final)
    needed = spec.size_bytes - (part.stat().st_size if part.is_file() else 0)
    free = shutil.disk_usage(final.parent).free
    if needed > free:
        raise ModelError(
            f"not enough disk space for '{spec.name}' in {final.parent}: "
            f"{_mb(needed)} needed, {_mb(free)} free (set BGERASER_MODEL_DIR to use another folder)"
        )


def _download(
    spec: ModelSpec, final: Path, progress: ProgressFn | None, cancel: CancelToken | None
) -> Path:
    part = part_path_of(final)
    report = _Reporter(spec, progress)
    failures: list[str] = []
    for url in spec.urls:
        restarted_after_mismatch = False
        attempt = 0
        while attempt < ATTEMPTS_PER_URL:
            attempt += 1
            resumed_from = part.stat().st_size if part.is_file() else 0
            try:
                _transfer(url, part, spec, report, cancel)
            except _Retry as exc:
                failures.append(f"{url}: {exc}")
                continue
            except _NextUrl as exc:
                failures.append(f"{url}: {exc}")
                break
            report.verifying()
            problem = hash_problem(spec, *file_hashes(part, cancel=cancel))
            if problem is None:
                os.replace(part, final)
                report.done()
                return final
            part.unlink(missing_ok=True)
            failures.append(f"{url}: downloaded file is corrupt ({problem})")
            if resumed_from and not restarted_after_mismatch:
                restarted_after_mismatch = True  # the old .part may be what was bad
                attempt = 0
                continue
            break
    raise ModelError(_failure_message(spec, failures))


def _transfer(
    url: str, part: Path, spec: ModelSpec, report: _Reporter, cancel: CancelToken | None
) -> None:
    """Bring `part` up to the full file from `url`, appending to what it holds if possible."""
    offset = part.stat().st_size if part.is_file() else 0
    if spec.size_bytes is not None and offset >= spec.size_bytes:
        if offset == spec.size_bytes:
            return  # complete already: only the hash check is left
        part.unlink()
        offset = 0
    request = urllib.request.Request(
        url, headers={"User-Agent": f"bgeraser/{__version__}", "Accept-Encoding": "identity"}
    )
    if offset:
        request.add_header("Range", f"bytes={offset}-")
    try:
        response = urllib.request.urlopen(request, timeout=TIMEOUT_S)
    except urllib.error.HTTPError as exc:
        if exc.code == 416 and offset:
            part.unlink(missing_ok=True)  # our partial file is not a prefix the server knows
            raise _Retry("server rejected the resume request; starting over") from exc
        if exc.code in (408, 429) or exc.code >= 500:
            raise _Retry(f"HTTP {exc.code} {exc.reason}") from exc
        raise _NextUrl(f"HTTP {exc.code} {exc.reason}") from exc
    except (urllib.error.URLError, OSError, http.client.HTTPException) as exc:
        raise _NextUrl(_reason(exc)) from exc
    with response:
        start, total = _response_range(response, offset, spec)
        if start == 0 and offset:
            offset = 0  # the server ignored Range and sends the whole file: start over
        _stream(response, part, offset, total, report, cancel)


def _response_range(response, offset: int, spec: ModelSpec) -> tuple[int, int | None]:
    """(first byte the body starts at, full file size if known)."""
    status = response.status
    length = response.headers.get("Content-Length")
    body_bytes = int(length) if length and length.isdigit() else None
    if status == 206 and offset:
        match = _CONTENT_RANGE_RE.match(response.headers.get("Content-Range", ""))
        if match is None or int(match.group(1)) != offset:
            raise _Retry("server answered the resume request with the wrong range")
        total = None if match.group(3) == "*" else int(match.group(3))
        return offset, total or spec.size_bytes
    if status != 200:
        raise _NextUrl(f"unexpected HTTP status {status}")
    return 0, body_bytes or spec.size_bytes


def _stream(
    response,
    part: Path,
    offset: int,
    total: int | None,
    report: _Reporter,
    cancel: CancelToken | None,
) -> None:
    done = offset
    report.bytes(done, total)
    try:
        with _open_no_symlink(part, os.O_WRONLY | (os.O_APPEND if offset else os.O_TRUNC)) as out:
            while True:
                if cancel is not None:
                    cancel.check()  # Cancelled propagates; the .part stays for a later resume
                chunk = response.read(CHUNK_BYTES)
                if not chunk:
                    break
                out.write(chunk)
                done += len(chunk)
                report.bytes(done, total)
            out.flush()
            os.fsync(out.fileno())
    except (OSError, http.client.HTTPException) as exc:
        raise _Retry(f"connection lost after {done} bytes ({_reason(exc)})") from exc
    if total is not None and done < total:
        raise _Retry(f"connection closed after {done} of {total} bytes")


class _Reporter:
    """Turns byte counts into ProgressFn calls, at most one per half percent."""

    def __init__(self, spec: ModelSpec, progress: ProgressFn | None) -> None:
        self.spec = spec
        self.progress = progress
        self.last = -1.0

    def bytes(self, done: int, total: int | None) -> None:
        if self.progress is None:
            return
        if total:
            fraction = min(done / total, 1.0)
            message = f"Downloading {self.spec.name}: {_mb(done)} of {_mb(total)}"
        else:
            fraction = 0.0
            message = f"Downloading {self.spec.name}: {_mb(done)}"
        if fraction - self.last >= _REPORT_STEP or fraction < self.last or not total:
            self.last = fraction
            self.progress(fraction, message)

    def verifying(self) -> None:
        if self.progress is not None:
            self.progress(max(self.last, 0.0), f"Checking {self.spec.name}")

    def done(self) -> None:
        if self.progress is not None:
            self.progress(1.0, f"Downloaded {self.spec.name}")


def _mb(count: int) -> str:
    return f"{count / 1e6:.1f} MB"


def _reason(exc: BaseException) -> str:
    reason = getattr(exc, "reason", None)
    text = str(reason if reason is not None else exc) or type(exc).__name__
    return text.splitlines()[0]


def _failure_message(spec: ModelSpec, failures: list[str]) -> str:
    last = failures[-1] if failures else "no download address"
    return (
        f"could not download model '{spec.name}' ({last}). If this computer is offline, fetch "
        f"{spec.urls[0]} elsewhere and run: bgeraser-cli models import PATH --name {spec.name}"
    )
