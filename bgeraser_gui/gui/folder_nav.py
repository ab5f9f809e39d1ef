"""Step to the next / previous image of the current photo's folder (PgDn / PgUp)."""

from __future__ import annotations

import re
from pathlib import Path

from bgeraser_gui.core.image_io import SUPPORTED_EXTENSIONS


def _natural_key(path: Path) -> list[object]:
    return [int(part) if part.isdigit() else part.lower() for part in re.split(r"(\d+)", path.name)]


def folder_images(folder: Path) -> list[Path]:
    """Supported images directly inside `folder`, in natural order (img2 before img10)."""
    try:
        entries = [
            p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in SUPPORTED_EXTENSIONS
        ]
    except OSError:
        return []
    return sorted(entries, key=_natural_key)


def neighbour(current: Path, step: int) -> Path | None:
    """The image `step` places after (negative: before) `current` in its folder, or None at the
    ends. The listing is re-read each time, so files added or removed meanwhile are seen."""
    images = folder_images(current.parent)
    if not images:
        return None
    try:
        index = images.index(current)
    except ValueError:
        # the current file was renamed or deleted: continue from where it would sort
        key = _natural_key(current)
        index = sum(1 for p in images if _natural_key(p) < key) - (1 if step > 0 else 0)
    target = index + step
    return images[target] if 0 <= target < len(images) else None
