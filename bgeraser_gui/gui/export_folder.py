"""Where export dialogs open: the last export folder, never the photos' own folder by default.

Writing cutouts next to the originals mixes them into the source (a data set, a camera
folder); the user can still pick that folder in the dialog. Without a previous export the
dialogs open in the user's Pictures folder (or home).
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QStandardPaths


def default_export_dir(last_out_dir: str | None = None) -> str:
    """`last_out_dir` if it still exists, else the Pictures folder, else home."""
    if last_out_dir and Path(last_out_dir).is_dir():
        return str(last_out_dir)
    pictures = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.PicturesLocation)
    if pictures and Path(pictures).is_dir():
        return pictures
    return str(Path.home())
