"""Autosave of a batch: the queue, each item's state and score, its masks and manual edits.

A project is a folder (by default in the user data dir) holding
    queue.json            the items in order, with state, score, reasons, error, output
    masks/<id>.png        the model's (refined) alpha, 8-bit
    fg/<id>.png           decontaminated foreground colours, when refinement produced them
    edits/<id>.png        the alpha after the user's touch-ups (wins over masks/)
    thumbs/<id>.png       small preview of the cutout (<id>.preview.png: of the photo)
Everything is written atomically, so closing (or crashing) at any time and reopening restores
the queue and every edit. Qt-free.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

from bgeraser_gui.core.atomic import atomic_write
from bgeraser_gui.core.errors import ImageLoadError
from bgeraser_gui.core.image_io import open_image

QUEUE_FILE = "queue.json"
FORMAT_VERSION = 1

# Item states, in the order an item normally goes through them.
QUEUED, SEGMENTING, REFINING, READY, EDITED, EXPORTED, FAILED = (
    "queued",
    "segmenting",
    "refining",
    "ready",
    "edited",
    "exported",
    "failed",
)
STATES = (QUEUED, SEGMENTING, REFINING, READY, EDITED, EXPORTED, FAILED)
BUSY_STATES = (SEGMENTING, REFINING)  # an interrupted item goes back to the queue on reopen
HAS_RESULT = (READY, EDITED, EXPORTED)


def item_id_for(source: str | Path) -> str:
    """A stable id for a source file (the same photo added twice is the same item)."""
    key = str(Path(source).expanduser().resolve())
    return hashlib.sha1(key.encode("utf-8")).hexdigest()[:16]


def default_project_dir(name: str = "current") -> Path:
    """`<user data dir>/bgeraser/batches/<name>`."""
    from platformdirs import user_data_dir

    return Path(user_data_dir("bgeraser", appauthor=False)) / "batches" / name


@dataclass
class QueueEntry:
    source: str
    id: str = ""
    state: str = QUEUED
    score: float | None = None
    reasons: list[str] = field(default_factory=list)
    error: str | None = None
    output: str | None = None

    def __post_init__(self) -> None:
        if not self.id:
            self.id = item_id_for(self.source)
        if self.state not in STATES:
            raise ValueError(f"unknown item state {self.state!r}")

    @property
    def name(self) -> str:
        return Path(self.source).name


class ProjectStore:
    """Reads and writes one batch project folder."""

    def __init__(self, folder: str | Path) -> None:
        self.folder = Path(folder)
        for sub in ("masks", "fg", "edits", "thumbs"):
            (self.folder / sub).mkdir(parents=True, exist_ok=True)

    # -- queue ---------------------------------------------------------------------------
    def save_queue(self, entries: list[QueueEntry]) -> None:
        data = {"version": FORMAT_VERSION, "items": [asdict(e) for e in entries]}
        text = json.dumps(data, indent=1, ensure_ascii=False)
        atomic_write(self.folder / QUEUE_FILE, lambda tmp: tmp.write_text(text, encoding="utf-8"))

    def load_queue(self) -> list[QueueEntry]:
        """The saved queue; interrupted items come back queued, unreadable files give []."""
        path = self.folder / QUEUE_FILE
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            items = data["items"]
        except (OSError, ValueError, KeyError, TypeError):
            return []
        entries = []
        for raw in items:
            try:
                entry = QueueEntry(**raw)
            except (TypeError, ValueError):
                continue  # one damaged record does not lose the others
            if entry.state in BUSY_STATES:
                entry.state = QUEUED
            if entry.state in HAS_RESULT and self.alpha(entry.id) is None:
                entry.state = QUEUED  # its mask file went missing: redo it
            entries.append(entry)
        return entries

    # -- images --------------------------------------------------------------------------
    def _write_png(self, path: Path, array: np.ndarray, mode: str) -> Path:
        image = Image.fromarray(np.ascontiguousarray(array), mode)
        return atomic_write(path, lambda tmp: image.save(tmp, "PNG", compress_level=3))

    def _read_png(self, path: Path) -> np.ndarray | None:
        try:
            with open_image(path, path.name) as im:
                return np.asarray(im).copy()
        except (OSError, ValueError, ImageLoadError):
            return None

    def save_result(
        self, item_id: str, alpha_u8: np.ndarray, foreground: np.ndarray | None
    ) -> None:
        """The automatic result: alpha (uint8) and optional foreground (float [0,1] or uint8)."""
        self._write_png(self.folder / "masks" / f"{item_id}.png", alpha_u8, "L")
        fg_path = self.folder / "fg" / f"{item_id}.png"
        if foreground is None:
            fg_path.unlink(missing_ok=True)
            return
        if foreground.dtype != np.uint8:
            foreground = np.clip(np.rint(foreground * 255.0), 0, 255).astype(np.uint8)
        self._write_png(fg_path, foreground, "RGB")

    def save_edit(self, item_id: str, alpha_u8: np.ndarray) -> None:
        self._write_png(self.folder / "edits" / f"{item_id}.png", alpha_u8, "L")

    def discard_edit(self, item_id: str) -> None:
        (self.folder / "edits" / f"{item_id}.png").unlink(missing_ok=True)

    def has_edit(self, item_id: str) -> bool:
        return (self.folder / "edits" / f"{item_id}.png").is_file()

    def alpha(self, item_id: str) -> np.ndarray | None:
        """The current alpha: the user's edit if there is one, else the automatic result."""
        edited = self._read_png(self.folder / "edits" / f"{item_id}.png")
        if edited is not None:
            return edited
        return self._read_png(self.folder / "masks" / f"{item_id}.png")

    def foreground(self, item_id: str) -> np.ndarray | None:
        """Decontaminated colours (uint8 RGB), only valid with the automatic alpha."""
        if self.has_edit(item_id):
            return None
        return self._read_png(self.folder / "fg" / f"{item_id}.png")

    def save_thumbnail(self, item_id: str, rgb_u8: np.ndarray, preview: bool = False) -> Path:
        """The cutout's thumbnail, or (`preview`) a quick one of the photo while it waits."""
        name = f"{item_id}.preview.png" if preview else f"{item_id}.png"
        return self._write_png(self.folder / "thumbs" / name, rgb_u8, "RGB")

    def thumbnail_path(self, item_id: str) -> Path | None:
        """The cutout's thumbnail if there is one, else the photo's preview, else None."""
        for name in (f"{item_id}.png", f"{item_id}.preview.png"):
            path = self.folder / "thumbs" / name
            if path.is_file():
                return path
        return None

    def forget(self, item_id: str) -> None:
        """Delete every file of one item (when it is removed from the queue)."""
        for sub in ("masks", "fg", "edits", "thumbs"):
            (self.folder / sub / f"{item_id}.png").unlink(missing_ok=True)
        (self.folder / "thumbs" / f"{item_id}.preview.png").unlink(missing_ok=True)
