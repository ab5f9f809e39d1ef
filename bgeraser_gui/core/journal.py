"""The on-disk format of an edit journal, and how a journal becomes a `Document` again.

A journal folder holds (everything written by `core.autosave`):
    snapshot-<gen>.bin   the state at one moment: every layer, a window of undo entries, the index
    journal-<gen>.log    append-only records after that snapshot: edits ("entry") and undo/redo
                         moves ("step"), each fsynced as soon as it is written
    blob-<id>.bin        whole arrays of swapped layers (a model run, a refinement), written once
                         and shared by every snapshot and record that refers to them
    meta.json, thumb.png what the recovery dialog shows; lock (held while a session writes)

Both files are sequences of records: `MAGIC, head length, body length, crc32` then a JSON head
and a binary body. A reader stops at the first torn or damaged record, so a crash while a record
is written loses only that record. Tile deltas are stored exactly as `core.history` keeps them
(zlib-compressed tiles, before and after), so undo and redo after recovery are bit-exact.
Layers are addressed by name (`Document.layer` / `restore_layer`), so new layers are saved with
no change here. Qt-free.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import struct
import sys
import zlib
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np

from bgeraser_gui.core.document import LAYERS, Document
from bgeraser_gui.core.history import HistoryEntry, LayerDelta, SwapDelta
from bgeraser_gui.core.image_io import load_image

MAGIC = b"BGJ1"
_HEADER = struct.Struct("<4sIII")
SNAPSHOT_RE = re.compile(r"snapshot-(\d+)\.bin$")
BlobLoader = Callable[[str], np.ndarray]


def snapshot_name(gen: int) -> str:
    return f"snapshot-{gen}.bin"


def journal_name(gen: int) -> str:
    return f"journal-{gen}.log"


def blob_name(blob_id: str) -> str:
    return f"blob-{blob_id}.bin"


# -- records ---------------------------------------------------------------------------------
def encode_record(head: dict, body: bytes = b"") -> bytes:
    head_bytes = json.dumps(head, separators=(",", ":")).encode("utf-8")
    crc = zlib.crc32(body, zlib.crc32(head_bytes))
    return _HEADER.pack(MAGIC, len(head_bytes), len(body), crc) + head_bytes + body


def read_records(data: bytes) -> Iterator[tuple[dict, memoryview]]:
    """The records of `data` in order, up to the first torn or damaged one."""
    view, pos = memoryview(data), 0
    while pos + _HEADER.size <= len(data):
        magic, head_len, body_len, crc = _HEADER.unpack_from(data, pos)
        start, end = pos + _HEADER.size, pos + _HEADER.size + head_len + body_len
        if magic != MAGIC or end > len(data):
            return
        head_bytes, body = view[start : start + head_len], view[start + head_len : end]
        if zlib.crc32(body, zlib.crc32(head_bytes)) != crc:
            return
        try:
            head = json.loads(bytes(head_bytes))
        except ValueError:
            return
        yield head, body
        pos = end


# -- arrays ----------------------------------------------------------------------------------
def encode_array(array: np.ndarray) -> tuple[dict, bytes]:
    meta = {"dtype": array.dtype.str, "shape": list(array.shape)}
    flat = np.ascontiguousarray(array).reshape(-1).view(np.uint8)  # no copy when contiguous
    return meta, zlib.compress(flat, 1)  # zlib lets the GIL go: the UI thread keeps running


def decode_array(meta: dict, body: bytes | memoryview, writeable: bool) -> np.ndarray:
    raw = zlib.decompress(body)
    data = bytearray(raw) if writeable else raw
    return np.frombuffer(data, np.dtype(meta["dtype"])).reshape(meta["shape"])


def blob_loader(folder: Path) -> BlobLoader:
    """Reads blob files (each array once: entries sharing a blob share the array object)."""
    cache: dict[str, np.ndarray] = {}

    def load(blob_id: str) -> np.ndarray:
        if blob_id not in cache:
            records = list(read_records((folder / blob_name(blob_id)).read_bytes()))
            if not records:
                raise ValueError(f"damaged blob {blob_id}")
            head, body = records[0]
            cache[blob_id] = decode_array(head, body, writeable=False)
        return cache[blob_id]

    return load


# -- history entries -------------------------------------------------------------------------
def encode_entry(entry: HistoryEntry, blob_of: Callable[[np.ndarray], str]) -> tuple[list, bytes]:
    """(delta descriptions, body) of one history entry; whole arrays go to blobs (`blob_of`)."""
    deltas, body = [], bytearray()
    for delta in entry.deltas:
        if isinstance(delta, SwapDelta):
            ids = [None if a is None else blob_of(a) for a in (delta.before, delta.after)]
            deltas.append({"swap": delta.name, "before": ids[0], "after": ids[1]})
            continue
        tiles = []
        for key, before in delta.before.items():
            after = delta.after[key]
            tiles.append([key[0], key[1], len(before), len(after)])
            body += before
            body += after
        meta = {"dtype": np.dtype(delta.dtype).str, "shape": list(delta.shape)}
        deltas.append({"tiles": delta.name, **meta, "list": tiles})
    return deltas, bytes(body)


def decode_entry(label: str, deltas: list, body: memoryview, blobs: BlobLoader) -> HistoryEntry:
    out: list[LayerDelta | SwapDelta] = []
    pos = 0
    for d in deltas:
        if "swap" in d:
            before, after = (None if d[k] is None else blobs(d[k]) for k in ("before", "after"))
            out.append(SwapDelta(d["swap"], before, after))
            continue
        delta = LayerDelta(d["tiles"], tuple(d["shape"]), np.dtype(d["dtype"]))
        for ty, tx, n_before, n_after in d["list"]:
            delta.before[(ty, tx)] = bytes(body[pos : pos + n_before])
            pos += n_before
            delta.after[(ty, tx)] = bytes(body[pos : pos + n_after])
            pos += n_after
        out.append(delta)
    return HistoryEntry(label, out)


# -- reading a journal folder ----------------------------------------------------------------
@dataclass
class JournalState:
    """What a journal folder holds, decoded: layers, undo entries, index, then later edits."""

    layers: dict[str, np.ndarray | None]
    entries: list[HistoryEntry]
    index: int
    moves: list[HistoryEntry | int]  # journal records: an edit pushed, or an undo/redo step
    model_name: str


def latest_generation(folder: Path) -> int | None:
    """The newest complete snapshot's generation, or None when there is none."""
    gens = sorted(
        (int(m.group(1)) for p in folder.iterdir() if (m := SNAPSHOT_RE.match(p.name))),
        reverse=True,
    )
    for gen in gens:
        records = list(read_records((folder / snapshot_name(gen)).read_bytes()))
        if records and records[-1][0].get("kind") == "end":
            return gen
    return None


def read_journal(folder: Path) -> JournalState:
    gen = latest_generation(folder)
    if gen is None:
        raise ValueError("no complete snapshot")
    blobs = blob_loader(folder)
    state = JournalState({}, [], 0, [], "")
    for head, body in read_records((folder / snapshot_name(gen)).read_bytes()):
        kind = head.get("kind")
        if kind == "begin":
            state.index, state.model_name = int(head["index"]), head.get("model_name", "")
        elif kind == "layer":
            state.layers[head["name"]] = _decode_layer(head, body, blobs)
        elif kind == "entry":
            state.entries.append(decode_entry(head["label"], head["deltas"], body, blobs))
    log = folder / journal_name(gen)
    for head, body in read_records(log.read_bytes() if log.exists() else b""):
        if head.get("kind") == "entry":
            state.moves.append(decode_entry(head["label"], head["deltas"], body, blobs))
        elif head.get("kind") == "step":
            state.moves.append(int(head["n"]))
        state.model_name = head.get("model_name", state.model_name)
    return state


def _decode_layer(head: dict, body: memoryview, blobs: BlobLoader) -> np.ndarray | None:
    if head.get("blob"):
        return blobs(head["blob"])
    if head.get("dtype") is None:
        return None
    return decode_array(head, body, writeable=True)


def replay(doc: Document, state: JournalState) -> None:
    """Bring a freshly opened `Document` of the same photo to the journal's state, with its
    undo history: the snapshot's layers and entries, then every later edit and undo/redo."""
    for name, array in state.layers.items():
        if name in LAYERS:  # a layer this version does not know is left out
            doc.restore_layer(name, array)
    for entry in state.entries[state.index :]:  # the state after the last redoable entry
        entry.apply(doc, forward=True)
    history = doc.history
    for entry in state.entries:
        history.push(entry)
    history.goto(doc, state.index)
    for move in state.moves:
        if isinstance(move, int):
            history.goto(doc, history.index + move)
        else:
            move.apply(doc, forward=True)
            history.push(move)
    doc.model_name = state.model_name
    doc.layers_changed(list(state.layers), None)


def default_recovery_dir() -> Path:
    """`<user data dir>/bgeraser/recovery`: where the editor keeps its journals."""
    from platformdirs import user_data_dir

    return Path(user_data_dir("bgeraser", appauthor=False)) / "recovery"


def fsync_dir(folder: Path) -> None:
    """Make renames and new files in `folder` durable (no-op where folders cannot be opened)."""
    if os.name == "nt":
        return
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


# -- which photo a journal belongs to, and who writes it ---------------------------------------
PREFIX_BYTES = 64 * 1024


@dataclass(frozen=True)
class PhotoKey:
    """Identifies the exact photo file an edit journal was made on."""

    path: str
    size: int
    mtime_ns: int
    prefix_sha1: str  # of the first PREFIX_BYTES bytes

    @classmethod
    def of(cls, path: str | Path) -> PhotoKey:
        p = Path(path).expanduser().resolve()
        st = p.stat()
        with open(p, "rb") as handle:
            prefix = hashlib.sha1(handle.read(PREFIX_BYTES)).hexdigest()
        return cls(str(p), st.st_size, st.st_mtime_ns, prefix)

    @property
    def digest(self) -> str:
        return hashlib.sha1(json.dumps(asdict(self)).encode("utf-8")).hexdigest()


def try_lock(path: Path) -> BinaryIO | None:
    """An exclusive lock on `path` (created if needed), or None when another process holds
    it. The lock ends when the returned file is closed or the process dies (even by SIGKILL)."""
    handle = open(path, "a+b")  # noqa: SIM115 - kept open as the lock
    try:
        if sys.platform == "win32":
            import msvcrt

            msvcrt.locking(handle.fileno(), msvcrt.LK_NBLCK, 1)
        else:
            import fcntl

            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        handle.close()
        return None
    return handle


@dataclass
class RecoverableJournal:
    """The journal of a session that ended without closing it (a crash, a kill)."""

    folder: Path
    source: Path
    updated: float  # when the last edit was written (seconds since the epoch)
    problem: str | None  # why it cannot be restored (photo missing or changed), else None

    @property
    def thumbnail(self) -> Path | None:
        path = self.folder / "thumb.png"
        return path if path.is_file() else None


def find_recoverable(root: Path) -> list[RecoverableJournal]:
    """Journals in `root` no running session holds, newest first. Folders with nothing to
    recover (no complete snapshot: the session died before its first edit was written) go."""
    found = []
    for folder in sorted(root.iterdir()) if root.is_dir() else []:
        lock = try_lock(folder / "lock") if folder.is_dir() else None
        if lock is None:
            continue  # a running session writes it
        try:
            meta = json.loads((folder / "meta.json").read_text(encoding="utf-8"))
            if latest_generation(folder) is None:
                raise ValueError("no snapshot")
            key = PhotoKey(*(meta["key"][f] for f in PhotoKey.__dataclass_fields__))
        except (OSError, ValueError, KeyError, TypeError):
            lock.close()
            discard_journal(folder)
            continue
        lock.close()
        updated = max(p.stat().st_mtime for p in folder.iterdir())
        found.append(RecoverableJournal(folder, Path(key.path), updated, _problem(key)))
    return sorted(found, key=lambda j: j.updated, reverse=True)


def _problem(key: PhotoKey) -> str | None:
    try:
        current = PhotoKey.of(key.path)
    except OSError:
        return "the photo is missing"
    return None if current == key else "the photo was changed since"


def recover_document(journal: RecoverableJournal) -> Document:
    """The photo reopened with the journal's layers and undo history (raises ValueError when
    the photo is missing or changed, or the journal is unreadable)."""
    if journal.problem:
        raise ValueError(f"{journal.source.name}: {journal.problem}")
    doc = Document(load_image(journal.source))
    replay(doc, read_journal(journal.folder))
    return doc


def discard_journal(folder: Path) -> None:
    shutil.rmtree(folder, ignore_errors=True)
