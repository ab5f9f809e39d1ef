"""Crash-safe autosave of every open document: layers and undo history, journaled per photo.

`AutosaveWriter.track(doc)` follows a document's undo history. On the UI thread a history change
costs only a copy of the entry list (references); one writer thread does all the rest:
  - an edit appends its history entry to `journal-<gen>.log` (for a stroke: the changed tiles,
    already compressed by `core.history`), undo/redo appends a step; the log is fsynced as
    soon as the writer has caught up, so a kill right after a stroke loses nothing written;
  - arrays of swapped layers (a model run, a refinement) go once to blob files;
  - from time to time (the log grew past COMPACT_BYTES, an undo reached past what the files
    hold, the history was cleared) the journal is compacted into a new snapshot, written
    atomically (temp file + fsync + rename) before the old generation is deleted.
The writer keeps its own shadow of the layers (frozen arrays shared, edited ones copied once
and kept current by applying the same entries), so it never reads a layer the UI thread may be
painting. Snapshots keep the newest undo steps within UNDO_BUDGET_BYTES. Format: core.journal.
"""

from __future__ import annotations

import json
import logging
import os
import queue
import threading
import time
import uuid
import weakref
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path

import numpy as np
from PIL import Image

from bgeraser_gui.core.atomic import atomic_write
from bgeraser_gui.core.document import (
    CLICK_MASK,
    LAYERS,
    MODEL_MASK,
    REFINED_ALPHA,
    TOUCHUPS,
    Document,
)
from bgeraser_gui.core.history import History, HistoryEntry
from bgeraser_gui.core.journal import (
    SNAPSHOT_RE,
    PhotoKey,
    blob_name,
    discard_journal,
    encode_array,
    encode_entry,
    encode_record,
    fsync_dir,
    journal_name,
    snapshot_name,
    try_lock,
)
from bgeraser_gui.core.trimap import MASK_VALUES, paint_strokes

COMPACT_BYTES = 64 * 1024 * 1024  # log + new blobs since the last snapshot
UNDO_BUDGET_BYTES = 256 * 1024 * 1024  # undo entries a snapshot keeps (as History counts)
THUMB_SIZE = 160
THUMB_INTERVAL_S = 5.0
log = logging.getLogger(__name__)


class _Shadow:
    """The writer thread's own copy of a document's layers (a `LayerTarget` for entries)."""

    def __init__(self, doc: Document) -> None:
        self.layers = {name: _shared_or_copied(doc.layer(name)) for name in LAYERS}

    def layer(self, name: str) -> np.ndarray | None:
        return self.layers.get(name)

    def restore_layer(self, name: str, array: np.ndarray | None) -> None:
        self.layers[name] = array

    def layers_changed(self, names, rect) -> None:
        pass


def _shared_or_copied(array: np.ndarray | None) -> np.ndarray | None:
    """Frozen arrays never change (the history owns them): share; copy anything editable."""
    return array if array is None or not array.flags.writeable else array.copy()


class DocumentJournal:
    """The autosave of one document: prepared where the document is built (a loader thread:
    the layer copy stays off the UI thread), then written on the writer thread only."""

    def __init__(self, writer: AutosaveWriter, doc: Document) -> None:
        self._writer = writer
        self._doc = doc
        self._rgb = doc.rgb
        self._shadow = _Shadow(doc)
        self._mirror: list[HistoryEntry] = doc.history.entries
        self._index = doc.history.index
        self._model_name = doc.model_name
        self.folder: Path | None = None
        self._lock = None
        self._log = None
        self._gen = 0
        self._window = (0, 0)  # the mirror's entries the files hold: [lo, hi)
        self._pending: list[bytes] = []
        self._since_snapshot = 0
        self._used_blobs: set[str] = set()  # blobs the current generation refers to
        self._disk_blobs: set[str] = set()  # blobs in the folder
        self._blobs: dict[int, tuple[weakref.ref, str]] = {}
        self._thumb_time = 0.0

    # -- UI thread -------------------------------------------------------------------------
    def attach(self) -> None:
        self._doc.history.add_listener(self._on_history)

    def _on_history(self, history: History) -> None:
        entries, index = history.entries, history.index
        self._writer.submit(lambda: self._sync(entries, index))

    def detach(self) -> None:
        self._doc.history.remove_listener(self._on_history)

    # -- writer thread ---------------------------------------------------------------------
    def _sync(self, entries: list[HistoryEntry], index: int) -> None:
        self._model_name = self._doc.model_name  # a str: safe to read from this thread
        try:
            records = self._follow(entries, index)
        except Exception:
            self._close_log()  # the files missed a change: the next one writes a snapshot
            raise
        too_big = self._since_snapshot > COMPACT_BYTES
        if records is None or self._log is None or too_big:
            self.snapshot()
        else:
            self._pending += records
            self._writer.mark_dirty(self)

    def _follow(self, entries: list[HistoryEntry], index: int) -> list[bytes] | None:
        """Mirror one history change (a push, one undo or redo, a clear) in the shadow and
        return its log records, or None when only a new snapshot can express it."""
        old, old_index = self._mirror, self._index
        lo, hi = self._window
        if not entries:  # cleared: the layers stay, the history goes
            self._mirror, self._index = [], 0
            return None
        if not any(e is entries[-1] for e in old):  # a push at old_index
            dropped = old_index + 1 - len(entries)
            entries[-1].apply(self._shadow, forward=True)
            self._mirror, self._index = entries, len(entries)
            self._window = (max(0, lo - dropped), len(entries))
            return [self._entry_record(entries[-1])]
        for entry in old[index:old_index][::-1]:  # undo
            entry.apply(self._shadow, forward=False)
        for entry in old[old_index:index]:  # redo
            entry.apply(self._shadow, forward=True)
        self._mirror, self._index = entries, index
        if not lo <= index <= hi:
            return None
        return [self._record({"kind": "step", "n": index - old_index})]

    def _record(self, head: dict, body: bytes = b"") -> bytes:
        return encode_record({**head, "model_name": self._model_name}, body)

    def _entry_record(self, entry: HistoryEntry) -> bytes:
        deltas, body = encode_entry(entry, self._blob_of)
        return self._record({"kind": "entry", "label": entry.label, "deltas": deltas}, body)

    def _blob_of(self, array: np.ndarray) -> str:
        hit = self._blobs.get(id(array))
        if hit is not None and hit[0]() is array and hit[1] in self._disk_blobs:
            self._used_blobs.add(hit[1])
            return hit[1]
        blob_id = uuid.uuid4().hex[:12]
        meta, body = encode_array(array)
        data = encode_record(meta, body)
        atomic_write(self._folder() / blob_name(blob_id), lambda tmp: tmp.write_bytes(data))
        self._since_snapshot += len(data)
        self._blobs[id(array)] = (weakref.ref(array), blob_id)
        self._used_blobs.add(blob_id)
        self._disk_blobs.add(blob_id)
        return blob_id

    def _folder(self) -> Path:
        if self.folder is None:
            path = self._doc.path
            assert path is not None
            key = PhotoKey.of(path)
            folder = self._writer.root / f"{key.digest[:16]}-{uuid.uuid4().hex[:8]}"
            folder.mkdir(parents=True)
            self._lock = try_lock(folder / "lock")
            self._key, self.folder = key, folder
        return self.folder

    def flush(self) -> None:
        """Append the pending records to the log and fsync it (and the folder's new blobs)."""
        if not self._pending or self._log is None:
            return
        data = b"".join(self._pending)
        self._pending.clear()
        try:
            fsync_dir(self._folder())  # blob renames first: records refer to them
            self._log.write(data)
            self._log.flush()
            os.fsync(self._log.fileno())
        except OSError:
            self._close_log()  # records were lost: the next change writes a full snapshot
            raise
        self._since_snapshot += len(data)
        if time.monotonic() - self._thumb_time > THUMB_INTERVAL_S:
            self._write_thumbnail()

    def snapshot(self) -> None:
        """Write the whole state as generation gen+1, then drop the older generation."""
        folder = self._folder()
        self._pending.clear()
        self._close_log()  # until the new generation is complete, nothing is appended
        lo, hi = self._undo_window()
        self._used_blobs = set()
        parts = [self._record({"kind": "begin", "index": self._index - lo})]
        for name, array in self._shadow.layers.items():
            parts.append(self._layer_record(name, array))
        parts += [self._entry_record(e) for e in self._mirror[lo:hi]]
        parts.append(encode_record({"kind": "end"}))
        data = b"".join(parts)
        gen = self._gen + 1
        atomic_write(folder / snapshot_name(gen), lambda tmp: tmp.write_bytes(data))
        self._log = open(folder / journal_name(gen), "wb")  # noqa: SIM115 - appended to
        meta = {"key": asdict(self._key), "written": time.time()}
        text = json.dumps(meta)
        atomic_write(folder / "meta.json", lambda tmp: tmp.write_text(text, encoding="utf-8"))
        fsync_dir(folder)
        self._gen, self._window, self._since_snapshot = gen, (lo, hi), 0
        self._delete_stale(folder)
        self._write_thumbnail()

    def _undo_window(self) -> tuple[int, int]:
        """The entries around the current index that fit UNDO_BUDGET_BYTES (undo first)."""
        lo = hi = self._index
        total = 0
        while lo > 0 and total + self._mirror[lo - 1].nbytes <= UNDO_BUDGET_BYTES:
            lo -= 1
            total += self._mirror[lo].nbytes
        while hi < len(self._mirror) and total + self._mirror[hi].nbytes <= UNDO_BUDGET_BYTES:
            total += self._mirror[hi].nbytes
            hi += 1
        return lo, hi

    def _layer_record(self, name: str, array: np.ndarray | None) -> bytes:
        if array is None:
            return encode_record({"kind": "layer", "name": name})
        if not array.flags.writeable:
            return encode_record({"kind": "layer", "name": name, "blob": self._blob_of(array)})
        meta, body = encode_array(array)
        return encode_record({"kind": "layer", "name": name, **meta}, body)

    def _delete_stale(self, folder: Path) -> None:
        keep = {snapshot_name(self._gen), journal_name(self._gen), "meta.json", "lock"}
        keep |= {blob_name(b) for b in self._used_blobs} | {"thumb.png"}
        for path in folder.iterdir():
            stale = SNAPSHOT_RE.match(path.name) or path.name.startswith(("journal-", "blob-"))
            if stale and path.name not in keep:
                path.unlink(missing_ok=True)
        self._disk_blobs = set(self._used_blobs)
        self._blobs = {k: v for k, v in self._blobs.items() if v[1] in self._used_blobs}

    def _write_thumbnail(self) -> None:
        """A small preview of the cutout on grey (as the batch's thumbnails) for the dialog."""
        self._thumb_time = time.monotonic()
        step = max(1, -(-max(self._rgb.shape[:2]) // THUMB_SIZE))
        layers = self._shadow.layers
        shown = (REFINED_ALPHA, CLICK_MASK, MODEL_MASK)
        base = next((layers[n] for n in shown if layers[n] is not None), None)
        small = np.zeros(self._rgb[::step, ::step].shape[:2], np.float32)
        if base is not None:
            small[...] = base[::step, ::step]
        alpha = paint_strokes(small, layers[TOUCHUPS][::step, ::step], MASK_VALUES)[..., None]
        rgb = self._rgb[::step, ::step] * alpha + 160.0 * (1.0 - alpha)
        image = Image.fromarray(np.clip(rgb + 0.5, 0, 255).astype(np.uint8), "RGB")
        atomic_write(self._folder() / "thumb.png", lambda tmp: image.save(tmp, "PNG"))

    def _close_log(self) -> None:
        if self._log is not None:
            self._log.close()
            self._log = None

    def close(self, discard: bool) -> None:
        if self._log is not None:
            self.flush()
        self._close_log()
        if self._lock is not None:
            self._lock.close()
            self._lock = None
        if discard and self.folder is not None:
            discard_journal(self.folder)
            self.folder = None
            self._gen, self._window, self._disk_blobs = 0, (0, 0), set()


class AutosaveWriter:
    """One writer thread journaling every tracked document into folders under `root`."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        self.error: str | None = None  # the last write failure, for the UI to show
        self.on_error: Callable[[str], None] | None = None  # called on the writer thread
        self._journals: dict[Document, DocumentJournal] = {}
        self._queue: queue.Queue[Callable[[], None] | None] = queue.Queue()
        self._dirty: dict[DocumentJournal, None] = {}
        self._thread = threading.Thread(target=self._run, name="autosave", daemon=True)
        self._thread.start()

    def prepare(self, doc: Document) -> DocumentJournal | None:
        """The journal of a document no other thread uses yet (any thread; copies its
        editable layers), for `track`. None for photos without a path: there would be
        nothing to reopen them from."""
        return None if doc.path is None else DocumentJournal(self, doc)

    def track(
        self, doc: Document, prepared: DocumentJournal | None = None
    ) -> DocumentJournal | None:
        """Journal `doc` from now on (UI thread; its files appear with its first edit)."""
        if doc in self._journals:
            return self._journals[doc]
        journal = prepared if prepared is not None else self.prepare(doc)
        if journal is not None:
            self._journals[doc] = journal
            journal.attach()
        return journal

    def adopt(
        self, doc: Document, old_folder: Path, prepared: DocumentJournal | None = None
    ) -> None:
        """Journal a recovered `doc` at once, then delete the journal it was recovered from
        (only once the new one is on disk)."""
        journal = self.track(doc, prepared)

        def move() -> None:
            if journal is not None:
                journal.snapshot()
            discard_journal(old_folder)

        self.submit(move)

    def untrack(self, doc: Document, discard: bool = True) -> None:
        journal = self._journals.pop(doc, None)
        if journal is not None:
            journal.detach()
            self.submit(lambda: journal.close(discard))

    def discard(self, doc: Document) -> None:
        """Delete `doc`'s files (it was exported unchanged); the next edit starts new ones."""
        journal = self._journals.get(doc)
        if journal is not None:
            self.submit(lambda: journal.close(discard=True))

    def submit(self, job: Callable[[], None]) -> None:
        self._queue.put(job)

    def mark_dirty(self, journal: DocumentJournal) -> None:
        self._dirty[journal] = None

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Block until every change submitted so far is on disk (tests, shutdown)."""
        done = threading.Event()

        def flushed() -> None:
            self._flush_dirty()
            done.set()

        self.submit(flushed)
        return done.wait(timeout)

    def close(self, discard: bool = True, timeout: float = 10.0) -> None:
        """Stop journaling; a clean close (`discard`) deletes every journal."""
        for doc in list(self._journals):
            self.untrack(doc, discard)
        self._queue.put(None)
        self._thread.join(timeout)

    def _run(self) -> None:
        while True:
            job = self._queue.get()
            if job is None:
                return
            self._guarded(job)
            if self._queue.empty():
                self._flush_dirty()

    def _flush_dirty(self) -> None:
        dirty, self._dirty = self._dirty, {}
        for journal in dirty:
            self._guarded(journal.flush)

    def _guarded(self, job: Callable[[], None]) -> None:
        try:
            job()
        except Exception as exc:  # a full disk must not end autosave for the other photos
            log.warning("autosave failed: %s", exc)
            self.error = str(exc)
            if self.on_error is not None:
                self.on_error(self.error)
