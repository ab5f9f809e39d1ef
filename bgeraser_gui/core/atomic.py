"""Atomic file writes: a temporary file in the target folder, then a rename.

A failed or cancelled write leaves neither a partial output nor a temporary file behind. A
process killed mid-write (SIGKILL, power loss) can leave its temporary file: it is named
`.<stem>.<pid>-<random>.part<suffix>`, created exclusively (never through a symlink or over
another file), and `clean_stale_parts` removes those whose process is gone at the next run.
"""

from __future__ import annotations

import errno
import os
import re
import uuid
from collections.abc import Callable
from pathlib import Path

from bgeraser_gui.core.errors import ExportError, OutputExistsError

# ours: `.<stem>.<pid>-<hex8>.part<suffix>` (older versions wrote no pid)
_PART_RE = re.compile(r"^\..+\.(?:(\d+)-)?[0-9a-f]{8}\.part(\.[A-Za-z0-9]+)?$")


def _describe(exc: OSError, folder: Path) -> str:
    if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return f"cannot write into {folder}: permission denied (read-only folder?)"
    if exc.errno == errno.ENOSPC:
        return f"cannot write into {folder}: the disk is full"
    if exc.errno == errno.ENOENT:
        return f"cannot write into {folder}: the folder does not exist"
    return f"cannot write into {folder}: {exc.strerror or exc}"


def part_path(path: Path) -> Path:
    """A fresh temporary name next to `path`, recognisable by `clean_stale_parts`."""
    return path.parent / f".{path.stem}.{os.getpid()}-{uuid.uuid4().hex[:8]}.part{path.suffix}"


def atomic_write(
    path: str | Path,
    write: Callable[[Path], None],
    replace: bool = True,
    before_commit: Callable[[Path], None] | None = None,
) -> Path:
    """Call `write(tmp_path)` and move the result to `path` in one step.

    With `replace=False` the final move fails with OutputExistsError instead of
    replacing a file that appeared meanwhile (exclusive creation through a hard link).
    `before_commit(tmp_path)` runs after the data is on disk and before the move (e.g. to
    record the output in the ledger).
    """
    path = Path(path)
    folder = path.parent
    tmp = part_path(path)
    try:
        os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644))
        write(tmp)
        with open(tmp, "rb+") as handle:
            os.fsync(handle.fileno())
        if before_commit is not None:
            before_commit(tmp)
        if replace:
            os.replace(tmp, path)
        else:
            _link_exclusive(tmp, path)
    except OSError as exc:
        raise ExportError(f"{path.name}: {_describe(exc, folder)}") from None
    finally:
        try:
            tmp.unlink()
        except FileNotFoundError:
            pass
        except OSError:  # pragma: no cover - e.g. the folder vanished
            pass
    return path


def _link_exclusive(tmp: Path, path: Path) -> None:
    try:
        os.link(tmp, path)
    except FileExistsError:
        raise OutputExistsError(f"{path.name}: already exists") from None
    except OSError as exc:
        if exc.errno not in (errno.EPERM, errno.EOPNOTSUPP, errno.EXDEV, errno.EMLINK):
            raise
        # Filesystems without hard links: best effort check, then rename.
        if path.exists():
            raise OutputExistsError(f"{path.name}: already exists") from None
        os.replace(tmp, path)


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError):
        return True
    return True


def clean_stale_parts(folder: str | Path) -> list[Path]:
    """Remove the temporary files of killed writes in `folder` (those of running processes
    stay). Returns what was removed."""
    removed: list[Path] = []
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return removed
    for entry in entries:
        match = _PART_RE.match(entry.name)
        if match is None or not entry.is_file(follow_symlinks=False):
            continue
        if match.group(1) is not None and _process_alive(int(match.group(1))):
            continue
        try:
            os.unlink(entry.path)
            removed.append(Path(entry.path))
        except OSError:
            pass
    return removed
