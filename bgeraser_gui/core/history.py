"""Undo/redo of edits to a document's pixel layers, stored as compressed changed tiles.

A `Transaction` captures the "before" content of the tiles an edit is about to touch
(`touch(layer, rect)`), and on `commit()` keeps only the tiles that really changed, before and
after, zlib-compressed (lossless, so undo and redo are bit-exact). A layer swapped for a new
array (or None) with `replace()` - a model run, a refinement - costs no copy at all: the old
and new array objects are kept and made read-only. Entries are dropped oldest first once the stored
bytes exceed the budget (the newest entry is always kept, so the last edit can be undone).

The target is duck-typed (the editor's `Document`): `layer(name) -> ndarray | None`,
`restore_layer(name, array | None)` (replace a whole layer) and
`layers_changed(names, rect | None)` (called after tiles were written in place).
Listeners are plain callables `fn(history)`, called after every change of the entry list.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import NamedTuple, Protocol

import numpy as np

TILE = 256
DEFAULT_BUDGET_BYTES = 512 * 1024 * 1024


class Rect(NamedTuple):
    """Pixel rectangle [x0, x1) x [y0, y1) in image coordinates."""

    x0: int
    y0: int
    x1: int
    y1: int

    @property
    def width(self) -> int:
        return max(0, self.x1 - self.x0)

    @property
    def height(self) -> int:
        return max(0, self.y1 - self.y0)

    @property
    def area(self) -> int:
        return self.width * self.height

    def is_empty(self) -> bool:
        return self.x1 <= self.x0 or self.y1 <= self.y0

    def slices(self) -> tuple[slice, slice]:
        return slice(self.y0, self.y1), slice(self.x0, self.x1)

    def clipped(self, width: int, height: int) -> Rect:
        return Rect(max(0, self.x0), max(0, self.y0), min(width, self.x1), min(height, self.y1))

    def union(self, other: Rect | None) -> Rect:
        if other is None or other.is_empty():
            return self
        if self.is_empty():
            return other
        return Rect(
            min(self.x0, other.x0),
            min(self.y0, other.y0),
            max(self.x1, other.x1),
            max(self.y1, other.y1),
        )


class LayerTarget(Protocol):
    def layer(self, name: str) -> np.ndarray | None: ...

    def restore_layer(self, name: str, array: np.ndarray | None) -> None: ...

    def layers_changed(self, names: Iterable[str], rect: Rect | None) -> None: ...


def _tile_rect(ty: int, tx: int, shape: tuple[int, ...]) -> Rect:
    return Rect(
        tx * TILE, ty * TILE, min(shape[1], (tx + 1) * TILE), min(shape[0], (ty + 1) * TILE)
    )


def _tiles_in(rect: Rect | None, shape: tuple[int, ...]) -> list[tuple[int, int]]:
    h, w = shape[0], shape[1]
    r = Rect(0, 0, w, h) if rect is None else rect.clipped(w, h)
    if r.is_empty():
        return []
    return [
        (ty, tx)
        for ty in range(r.y0 // TILE, (r.y1 - 1) // TILE + 1)
        for tx in range(r.x0 // TILE, (r.x1 - 1) // TILE + 1)
    ]


def _pack(array: np.ndarray) -> bytes:
    return zlib.compress(np.ascontiguousarray(array).tobytes(), 1)


def _unpack(data: bytes, dtype: np.dtype, shape: tuple[int, ...]) -> np.ndarray:
    return np.frombuffer(zlib.decompress(data), dtype=dtype).reshape(shape)


@dataclass
class LayerDelta:
    """The changed tiles of one layer edited in place, before and after (zlib-compressed)."""

    name: str
    shape: tuple[int, ...]
    dtype: np.dtype
    before: dict[tuple[int, int], bytes] = field(default_factory=dict)
    after: dict[tuple[int, int], bytes] = field(default_factory=dict)

    @property
    def nbytes(self) -> int:
        return sum(map(len, self.before.values())) + sum(map(len, self.after.values()))

    def bbox(self) -> Rect | None:
        box = Rect(0, 0, 0, 0)
        for ty, tx in self.before:
            box = box.union(_tile_rect(ty, tx, self.shape))
        return box

    def apply(self, target: LayerTarget, forward: bool) -> None:
        array = target.layer(self.name)
        assert array is not None and array.shape == self.shape
        if not array.flags.writeable:  # a swapped (frozen) state came back: copy on write
            array = array.copy()
            target.restore_layer(self.name, array)
        for (ty, tx), data in (self.after if forward else self.before).items():
            r = _tile_rect(ty, tx, self.shape)
            array[r.slices()] = _unpack(data, self.dtype, (r.height, r.width, *self.shape[2:]))


@dataclass
class SwapDelta:
    """A layer replaced by a new array object: both objects are kept (read-only, no copy)."""

    name: str
    before: np.ndarray | None
    after: np.ndarray | None

    def arrays(self) -> list[np.ndarray]:
        return [a for a in (self.before, self.after) if a is not None]

    @property
    def nbytes(self) -> int:
        return sum(a.nbytes for a in self.arrays())

    def bbox(self) -> Rect | None:
        return None

    def apply(self, target: LayerTarget, forward: bool) -> None:
        target.restore_layer(self.name, self.after if forward else self.before)


def _frozen(array: np.ndarray | None) -> np.ndarray | None:
    if array is not None:
        array.setflags(write=False)
    return array


@dataclass
class HistoryEntry:
    label: str
    deltas: list[LayerDelta | SwapDelta]

    @property
    def nbytes(self) -> int:
        return sum(d.nbytes for d in self.deltas)

    def bbox(self) -> Rect | None:
        """Union of the changed tiles; None when a layer was replaced as a whole."""
        box: Rect | None = Rect(0, 0, 0, 0)
        for delta in self.deltas:
            b = delta.bbox()
            if b is None:
                return None
            box = box.union(b)
        return box

    def apply(self, target: LayerTarget, forward: bool) -> None:
        for delta in self.deltas if forward else reversed(self.deltas):
            delta.apply(target, forward)
        target.layers_changed([d.name for d in self.deltas], self.bbox())


class Transaction:
    """One undoable edit in progress: `touch()` before writing, then `commit()`."""

    def __init__(self, history: History, target: LayerTarget, label: str) -> None:
        self._history = history
        self._target = target
        self.label = label
        self._shapes: dict[str, tuple[tuple[int, ...], np.dtype] | None] = {}
        self._before: dict[str, dict[tuple[int, int], np.ndarray]] = {}
        self._swapped: dict[str, np.ndarray | None] = {}  # layer -> its array before replace()
        self._closed = False

    def replace(self, name: str, array: np.ndarray | None) -> None:
        """Swap layer `name` for `array` (no copy). Both arrays become read-only: history
        keeps the objects themselves, so neither may change in place afterwards."""
        if name in self._shapes:
            raise RuntimeError(f"layer {name!r} was already touched in this transaction")
        if name not in self._swapped:
            self._swapped[name] = _frozen(self._target.layer(name))
        self._target.restore_layer(name, _frozen(array))

    def touch(self, name: str, rect: Rect | None = None) -> None:
        """Remember the current content of `name` inside `rect` (None = the whole layer)."""
        if name in self._swapped:
            raise RuntimeError(f"layer {name!r} was already replaced in this transaction")
        array = self._target.layer(name)
        if name not in self._shapes:
            self._shapes[name] = None if array is None else (array.shape, array.dtype)
            self._before[name] = {}
        if array is None or self._shapes[name] is None:
            return
        saved = self._before[name]
        for key in _tiles_in(rect, array.shape):
            if key not in saved:
                saved[key] = array[_tile_rect(*key, array.shape).slices()].copy()

    def commit(self) -> HistoryEntry | None:
        """Store what changed as one history entry; None (and nothing stored) if nothing did."""
        entry = self._close()
        if entry is not None:
            self._history.push(entry)
        return entry

    def rollback(self) -> None:
        """Restore every touched tile to its content at `touch()` time; record nothing."""
        entry = self._close()
        if entry is not None:
            entry.apply(self._target, forward=False)

    def _close(self) -> HistoryEntry | None:
        if self._closed:
            raise RuntimeError("transaction already closed")
        self._closed = True
        self._history._transaction_closed()
        deltas: list[LayerDelta | SwapDelta] = [
            d for name in self._shapes if (d := self._delta(name)) is not None
        ]
        for name, before in self._swapped.items():
            after = self._target.layer(name)
            if after is not before:
                deltas.append(SwapDelta(name, before, after))
        return HistoryEntry(self.label, deltas) if deltas else None

    def _delta(self, name: str) -> LayerDelta | None:
        before_meta = self._shapes[name]
        after = self._target.layer(name)
        if before_meta is None and after is None:
            return None
        if before_meta is None or after is None or (after.shape, after.dtype) != before_meta:
            raise RuntimeError(f"layer {name!r} was swapped or reshaped: use replace({name!r})")
        delta = LayerDelta(name, after.shape, after.dtype)
        for key, old in self._before[name].items():
            new = after[_tile_rect(*key, after.shape).slices()]
            if not np.array_equal(old, new):
                delta.before[key] = _pack(old)
                delta.after[key] = _pack(new)
        return delta if delta.before else None


class History:
    """Linear undo/redo list of `HistoryEntry`s with a memory budget in bytes."""

    def __init__(self, budget_bytes: int = DEFAULT_BUDGET_BYTES) -> None:
        self.budget_bytes = int(budget_bytes)
        self._entries: list[HistoryEntry] = []
        self._index = 0  # entries[:index] are applied
        self._listeners: list[Callable[[History], None]] = []
        self.dropped = 0  # how many old entries the budget has discarded
        self._open = 0  # transactions begun and not yet committed or rolled back

    # -- listeners -------------------------------------------------------------------------
    def add_listener(self, fn: Callable[[History], None]) -> None:
        self._listeners.append(fn)

    def remove_listener(self, fn: Callable[[History], None]) -> None:
        if fn in self._listeners:
            self._listeners.remove(fn)

    def _notify(self) -> None:
        for fn in list(self._listeners):
            fn(self)

    # -- recording -------------------------------------------------------------------------
    def begin(self, target: LayerTarget, label: str) -> Transaction:
        self._open += 1
        return Transaction(self, target, label)

    def _transaction_closed(self) -> None:
        self._open = max(0, self._open - 1)

    @property
    def busy(self) -> bool:
        """True while an edit (e.g. a brush stroke) is in progress: undo/redo wait for it."""
        return self._open > 0

    def push(self, entry: HistoryEntry) -> None:
        del self._entries[self._index :]
        self._entries.append(entry)
        self._index = len(self._entries)
        while len(self._entries) > 1 and self.memory_bytes > self.budget_bytes:
            self._entries.pop(0)
            self._index -= 1
            self.dropped += 1
        self._notify()

    # -- navigation ------------------------------------------------------------------------
    @property
    def index(self) -> int:
        """Number of entries currently applied (0 = at the oldest remembered state)."""
        return self._index

    @property
    def entries(self) -> list[HistoryEntry]:
        return list(self._entries)

    def current_entry(self) -> HistoryEntry | None:
        """The most recent applied entry (what Undo would revert), or None."""
        return self._entries[self._index - 1] if self._index > 0 else None

    def labels(self) -> list[str]:
        return [e.label for e in self._entries]

    @property
    def memory_bytes(self) -> int:
        """Bytes held by the entries (an array shared by two swaps is counted once)."""
        total, seen = 0, set()
        for entry in self._entries:
            for delta in entry.deltas:
                if isinstance(delta, SwapDelta):
                    fresh = [a for a in delta.arrays() if id(a) not in seen]
                    seen.update(id(a) for a in fresh)
                    total += sum(a.nbytes for a in fresh)
                else:
                    total += delta.nbytes
        return total

    def can_undo(self) -> bool:
        return self._index > 0 and not self.busy

    def can_redo(self) -> bool:
        return self._index < len(self._entries) and not self.busy

    def undo_label(self) -> str | None:
        return self._entries[self._index - 1].label if self._index > 0 else None

    def redo_label(self) -> str | None:
        return self._entries[self._index].label if self._index < len(self._entries) else None

    def undo(self, target: LayerTarget) -> bool:
        if not self.can_undo():
            return False
        self._index -= 1
        self._entries[self._index].apply(target, forward=False)
        self._notify()
        return True

    def redo(self, target: LayerTarget) -> bool:
        if not self.can_redo():
            return False
        self._entries[self._index].apply(target, forward=True)
        self._index += 1
        self._notify()
        return True

    def goto(self, target: LayerTarget, index: int) -> None:
        """Undo or redo until exactly `index` entries are applied (History panel click)."""
        index = max(0, min(index, len(self._entries)))
        while self._index > index and self.undo(target):
            pass
        while self._index < index and self.redo(target):
            pass

    def clear(self) -> None:
        self._entries.clear()
        self._index = 0
        self._notify()
