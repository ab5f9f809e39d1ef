"""Atomic file writes: a temporary file in the target folder, then a rename.

A failed or cancelled write leaves neither a partial output nor a temporary file behind.
"""

from __future__ import annotations

import errno
import os
import uuid
from collections.abc import Callable
from pathlib import Path

from bgeraser_gui.core.errors import ExportError, OutputExistsError


def _describe(exc: OSError, folder: Path) -> str:
    if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return f"cannot write into {folder}: permission denied (read-only folder?)"
    if exc.errno == errno.ENOSPC:
        return f"cannot write into {folder}: the disk is full"
    if exc.errno == errno.ENOENT:
        return f"cannot write into {folder}: the folder does not exist"
    return f"cannot write into {folder}: {exc.strerror or exc}"


def atomic_write(path: str | Path, write: Callable[[Path], None], replace: bool = True) -> Path:
    """Call `write(tmp_path)` and move the result to `path` in one step.

    With `replace=False` the final move fails with OutputExistsError instead of
    replacing a file that appeared meanwhile (exclusive creation through a hard link).
    """
    path = Path(path)
    folder = path.parent
    tmp = folder / f".{path.stem}.{uuid.uuid4().hex[:8]}.part{path.suffix}"
    try:
        write(tmp)
        with open(tmp, "rb+") as handle:
            os.fsync(handle.fileno())
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
