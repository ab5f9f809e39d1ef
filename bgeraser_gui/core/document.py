"""The editor's document: a photo, the model's soft mask, painted touch-ups, refined matte.

Layers (all at image size, addressed by name for the undo history):
  "model_mask"          float32 HxW in [0, 1], the segmentation model's output, or None
  "touchups"            uint8 HxW, the user's touch-ups: 0 none, KEEP, REMOVE, REFINE
  "refined_alpha"       float32 HxW, the matting result's alpha, or None
  "refined_foreground"  float32 HxWx3 in [0, 1], decontaminated colours, or None
  "clicks"              int32 Nx3 (x, y, 1 = positive / 0 = negative), select-object clicks
  "click_mask"          float32 HxW, the model mask with the clicks applied, or None
  "object_*"            the objects the user switches on and off (core.object_layers)

Touch-ups are stored separately from the model's mask, so they survive a re-run or a model
switch: `set_model_mask()` replaces only the model layer (and drops the refined matte, which was
solved from the old mask). Clicks (`set_clicks`, computed by `core.interactive`) are kept the
same way: a new model mask drops only their result, and the editor replays them on it.
Displayed/exported alpha (`alpha()`):
  base  = refined alpha if present, else the click mask, else the model mask, else 0
  alpha = base with KEEP -> 1 and REMOVE -> 0 (REFINE leaves the base value)
so a stroke painted after refinement is visible immediately and only where it was painted; the
rest of the refined matte stays valid. `refined_stale` tells the UI that touch-ups changed
since the last refinement (re-running refinement solves the new strokes' edges properly).
The alpha is cached and updated per dirty rectangle, so strokes on 24 MP images stay cheap.

Every mutation is recorded in `history` (undo/redo restore all layers bit-exactly). Listeners
`fn(rect | None)` are told which image rectangle changed (None = everything).
Not thread-safe: mutate on one thread (the GUI thread); workers get copies (`refine_inputs`).
A worker can do the checking and copying of a new mask itself (`prepare_mask`, 24 MP takes
~0.5 s) and hand the `PreparedMask` over, so the GUI thread only swaps it in.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from bgeraser_gui.core.compose import to_alpha_u8
from bgeraser_gui.core.history import (
    DEFAULT_BUDGET_BYTES,
    History,
    HistoryEntry,
    Rect,
    Transaction,
)
from bgeraser_gui.core.interactive import Click
from bgeraser_gui.core.object_layers import OBJECT_LAYERS, gate_alpha
from bgeraser_gui.core.trimap import KEEP, MASK_VALUES, REFINE, REMOVE, paint_strokes

if TYPE_CHECKING:
    from bgeraser_gui.core.image_io import LoadedImage

__all__ = ["KEEP", "REFINE", "REMOVE", "Document", "PreparedMask", "Rect", "prepare_mask"]

MODEL_MASK = "model_mask"
TOUCHUPS = "touchups"
REFINED_ALPHA = "refined_alpha"
REFINED_FOREGROUND = "refined_foreground"
CLICKS = "clicks"
CLICK_MASK = "click_mask"
LAYERS = (
    MODEL_MASK,
    TOUCHUPS,
    REFINED_ALPHA,
    REFINED_FOREGROUND,
    CLICKS,
    CLICK_MASK,
    *OBJECT_LAYERS,
)

ChangeListener = Callable[[Rect | None], None]


@dataclass(frozen=True, eq=False)
class PreparedMask:
    """A mask checked and copied by `prepare_mask`: float32 HxW in [0, 1], finite, owned by
    nobody else. `Document.set_model_mask` / `set_refined` take it over without a copy."""

    array: np.ndarray

    @property
    def shape(self) -> tuple[int, ...]:
        return self.array.shape


def prepare_mask(mask: np.ndarray, shape: tuple[int, int] | None = None) -> PreparedMask:
    """Check `mask` (shape HxW if given), copy it to float32, replace NaN/inf and clip to
    [0, 1]. Thread-safe: call it on a worker so the GUI thread does no full-image work."""
    m = np.asarray(mask)
    if m.ndim != 2 or (shape is not None and m.shape != tuple(shape)):
        raise ValueError(f"mask shape {m.shape} != image {tuple(shape or ('H', 'W'))}")
    m = np.array(m, np.float32)  # always an own copy: the history freezes it
    if not np.isfinite(m).all():
        np.nan_to_num(m, copy=False, nan=0.0, posinf=1.0, neginf=0.0)
    return PreparedMask(np.clip(m, 0.0, 1.0, out=m))


class Document:
    """One open photo and its editable cutout. See the module docstring for the model."""

    def __init__(
        self,
        image: LoadedImage,
        model_mask: np.ndarray | None = None,
        model_name: str = "",
        history_budget_bytes: int = DEFAULT_BUDGET_BYTES,
    ) -> None:
        self.image = image
        self.width = int(image.rgb.shape[1])
        self.height = int(image.rgb.shape[0])
        self.model_name = model_name
        self.history = History(history_budget_bytes)
        self._refine_entry: HistoryEntry | None = None
        self._layers: dict[str, np.ndarray | None] = dict.fromkeys(LAYERS)
        self._layers[TOUCHUPS] = np.zeros((self.height, self.width), np.uint8)
        if model_mask is not None:
            self._layers[MODEL_MASK] = self._checked_mask(model_mask)
        self._alpha = np.zeros((self.height, self.width), np.float32)
        self._listeners: list[ChangeListener] = []
        self._update_alpha(None)

    # -- read access -----------------------------------------------------------------------
    @property
    def path(self) -> Path | None:
        return self.image.path

    @property
    def rgb(self) -> np.ndarray:
        return self.image.rgb

    @property
    def model_mask(self) -> np.ndarray | None:
        return self._layers[MODEL_MASK]

    @property
    def clicks(self) -> tuple[Click, ...]:
        """The select-object clicks so far, oldest first."""
        rows = self._layers[CLICKS]
        if rows is None:
            return ()
        return tuple(Click(int(x), int(y), bool(p)) for x, y, p in rows)

    @property
    def click_mask(self) -> np.ndarray | None:
        """The model mask with the clicks applied, or None (no clicks, or not replayed yet)."""
        return self._layers[CLICK_MASK]

    def base_mask(self) -> np.ndarray | None:
        """The mask the touch-ups apply to: the click result if any, else the model's mask."""
        clicked = self._layers[CLICK_MASK]
        return clicked if clicked is not None else self.model_mask

    @property
    def touchups(self) -> np.ndarray:
        """The touch-up layer; write to it only through a `Transaction` (see core.brush)."""
        layer = self._layers[TOUCHUPS]
        assert layer is not None
        return layer

    @property
    def refined_alpha(self) -> np.ndarray | None:
        return self._layers[REFINED_ALPHA]

    @property
    def foreground(self) -> np.ndarray | None:
        """Decontaminated foreground colours of the refined matte (pass to export), or None."""
        return self._layers[REFINED_FOREGROUND]

    @property
    def refined_stale(self) -> bool:
        """True when a refined matte is shown but edits were made after the refinement
        (undoing back to the refinement makes it fresh again)."""
        if self.refined_alpha is None:
            return False
        return self.history.current_entry() is not self._refine_entry

    @property
    def has_mask(self) -> bool:
        """True once there is anything to cut out (a model mask or painted touch-ups)."""
        return self.base_mask() is not None or bool(self.touchups.any())

    def effective_mask(self) -> np.ndarray:
        """Base mask with KEEP -> 1 and REMOVE -> 0 (a new array; for matting input)."""
        base = self.base_mask()
        mask = np.zeros((self.height, self.width), np.float32) if base is None else base.copy()
        return paint_strokes(mask, self.touchups, MASK_VALUES)

    def alpha(self) -> np.ndarray:
        """The displayed/exported alpha, float32 HxW in [0, 1]. Cached: do not modify."""
        return self._alpha

    def alpha_u8(self, rect: Rect | None = None) -> np.ndarray:
        """`alpha()` as uint8 0..255 (rounded), optionally only inside `rect`."""
        return to_alpha_u8(self._alpha if rect is None else self._alpha[rect.slices()])

    def refine_inputs(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(rgb, base mask or zeros, touch-ups copy) for a matting worker thread."""
        base = self.base_mask()
        mask = np.zeros((self.height, self.width), np.float32) if base is None else base.copy()
        return self.rgb, mask, self.touchups.copy()

    # -- listeners -------------------------------------------------------------------------
    def add_listener(self, fn: ChangeListener) -> None:
        self._listeners.append(fn)

    def remove_listener(self, fn: ChangeListener) -> None:
        if fn in self._listeners:
            self._listeners.remove(fn)

    # -- recorded edits --------------------------------------------------------------------
    def set_model_mask(
        self, mask: np.ndarray | PreparedMask, model_name: str | None = None
    ) -> None:
        """Replace the model's mask (keeps touch-ups, drops the refined matte); undoable.
        A `PreparedMask` is used as it is (no copy); any other array is checked and copied."""
        checked = self._checked_mask(mask)
        label = f"Segment ({model_name})" if model_name else "Segment"
        with self.transaction(label) as tx:
            tx.replace(MODEL_MASK, checked)
            tx.replace(CLICK_MASK, None)  # the clicks stay; their result is replayed
            tx.replace(REFINED_ALPHA, None)
            tx.replace(REFINED_FOREGROUND, None)
        if model_name is not None:
            self.model_name = model_name

    def set_refined(
        self, alpha: np.ndarray | PreparedMask, foreground: np.ndarray | None = None
    ) -> None:
        """Store a matting result (`MattingResult.alpha`, `.foreground`); undoable."""
        checked = self._checked_mask(alpha)
        fg = None
        if foreground is not None:
            fg = np.array(foreground, np.float32)  # own copy: the history freezes it
            if fg.shape != (self.height, self.width, 3):
                raise ValueError(
                    f"foreground shape {fg.shape} != image {(self.height, self.width, 3)}"
                )
        edit = self.transaction("Refine edges")
        edit.replace(REFINED_ALPHA, checked)
        edit.replace(REFINED_FOREGROUND, fg)
        self._refine_entry = edit.commit()

    def set_clicks(
        self,
        clicks: Iterable[Click],
        mask: np.ndarray | PreparedMask | None,
        label: str,
        differs: Rect | None = None,
    ) -> None:
        """Store the clicks and their result (None with no clicks); one undoable step. Drops a
        refined matte like a new model mask does (refine again on the new selection).
        `differs`: the box outside which `mask` equals the selection shown before (the
        editor then redraws only there); None = anywhere."""
        rows = [(c.x, c.y, int(c.positive)) for c in clicks]
        checked = None if mask is None else self._checked_mask(mask)
        if self.refined_alpha is not None or self.foreground is not None:
            differs = None  # dropping the matte changes the whole photo
        unseen = Rect(0, 0, 0, 0)  # the clicks themselves and absent mattes show nowhere
        with self.transaction(label) as tx:
            tx.replace(CLICKS, np.array(rows, np.int32).reshape(-1, 3) if rows else None, unseen)
            tx.replace(CLICK_MASK, checked, differs)
            tx.replace(REFINED_ALPHA, None, unseen if differs is not None else None)
            tx.replace(REFINED_FOREGROUND, None, unseen if differs is not None else None)

    def clear_refined(self) -> None:
        """Drop the refined matte (back to the model mask + touch-ups); undoable."""
        if self.refined_alpha is None and self.foreground is None:
            return
        with self.transaction("Discard refinement") as tx:
            tx.replace(REFINED_ALPHA, None)
            tx.replace(REFINED_FOREGROUND, None)

    def clear_touchups(self) -> None:
        """Erase every touch-up stroke; undoable."""
        with self.transaction("Clear touch-ups") as tx:
            tx.touch(TOUCHUPS)
            self.touchups[...] = 0

    def undo(self) -> bool:
        return self.history.undo(self)

    def redo(self) -> bool:
        return self.history.redo(self)

    def transaction(self, label: str) -> RecordedEdit:
        """Context manager: `with doc.transaction("label") as tx: tx.touch(...); edit`."""
        return RecordedEdit(self, label)

    # -- LayerTarget protocol (used by History) --------------------------------------------
    def layer(self, name: str) -> np.ndarray | None:
        return self._layers[name]

    def restore_layer(self, name: str, array: np.ndarray | None) -> None:
        if name not in self._layers:
            raise KeyError(name)
        if name == TOUCHUPS and array is None:
            raise ValueError("the touch-up layer always exists")
        self._layers[name] = array

    def layers_changed(self, names: Iterable[str], rect: Rect | None) -> None:
        """Update the cached alpha inside `rect` (None = all) and tell the listeners."""
        names = set(names)
        if names - {REFINED_FOREGROUND, CLICKS}:
            self._update_alpha(rect)
        for fn in list(self._listeners):
            fn(rect)

    # -- internals -------------------------------------------------------------------------
    def _checked_mask(self, mask: np.ndarray | PreparedMask) -> np.ndarray:
        if isinstance(mask, PreparedMask):
            if mask.shape != (self.height, self.width):
                raise ValueError(f"mask shape {mask.shape} != image {(self.height, self.width)}")
            return mask.array
        return prepare_mask(mask, (self.height, self.width)).array

    def _update_alpha(self, rect: Rect | None) -> None:
        r = Rect(0, 0, self.width, self.height) if rect is None else rect
        r = r.clipped(self.width, self.height)
        if r.is_empty():
            return
        sl = r.slices()
        base = self.refined_alpha if self.refined_alpha is not None else self.base_mask()
        out = self._alpha[sl]
        if base is None:
            out[...] = 0.0
        else:
            out[...] = base[sl]
        gate_alpha(out, sl, self._layers)  # hidden objects out, shown found objects in
        c = self.touchups[sl]
        if c.any():
            paint_strokes(out, c, MASK_VALUES)


class RecordedEdit:
    """One undoable edit: `touch()` before writing a layer, then `commit()` (or `rollback()`).

    Also a context manager: `with doc.transaction(label) as tx:` commits on success and
    rolls back on an exception.
    """

    def __init__(self, doc: Document, label: str) -> None:
        self._doc = doc
        self._tx: Transaction = doc.history.begin(doc, label)
        self._unreported: set[str] = set()
        self._rect: Rect | None = Rect(0, 0, 0, 0)

    def touch(self, name: str, rect: Rect | None = None) -> None:
        """Call before writing `name` inside `rect` (None = the whole layer)."""
        self._tx.touch(name, rect)
        self._unreported.add(name)
        self._grow(rect)

    def _grow(self, rect: Rect | None) -> None:
        if rect is None or self._rect is None:
            self._rect = None
        else:
            self._rect = self._rect.union(rect.clipped(self._doc.width, self._doc.height))

    def replace(self, name: str, array: np.ndarray | None, differs: Rect | None = None) -> None:
        """Swap a whole layer for `array` (kept by the history without a copy, read-only);
        `differs`: where the swap changes what is shown, when the caller knows (None = all)."""
        self._tx.replace(name, array)
        self._unreported.add(name)
        self._grow(differs)

    def changed(self, name: str, rect: Rect | None) -> None:
        """Report an intermediate step (e.g. one stroke segment): refresh caches/listeners."""
        self._unreported.discard(name)
        self._doc.layers_changed([name], rect)

    def commit(self) -> HistoryEntry | None:
        entry = self._tx.commit()
        if self._unreported:
            self._doc.layers_changed(self._unreported, self._rect)
        return entry

    def rollback(self) -> None:
        self._tx.rollback()

    def __enter__(self) -> RecordedEdit:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.commit()
        else:
            self.rollback()  # a failed edit leaves no half-written state behind
