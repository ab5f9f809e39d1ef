"""Click to select: positive and negative clicks turn a mask into the wanted selection.

    session = ClickSession(rgb, auto_mask, segment=backend.predict)
    mask = session.add(Click(x, y, positive=True))     # float32 HxW in [0, 1]

What one click does (all of it inside a window around the click, so far pixels never change):
1. The model is re-run on a crop centred on the click (`click_proposals`); the connected region
   of its mask under the click is the clicked object (added by a positive click, removed by a
   negative one). The crop grows once when the object runs out of the small crop.
2. A graph cut (`click_cut`) settles the labels in the window: data term = the current mask's
   logit, pushed by the proposal and by local colour models (the clicked colours against the
   colours of the other class away from the click, `colour_evidence`); smoothness follows image
   edges; every click so far is a hard seed, and so is the window's border.
3. Only the connected region of changed pixels that touches the click is kept.
Earlier clicks stay seeds, so later clicks do not undo them. Big photos are worked on a copy of
at most WORK_SIDE pixels; a changed region is written back at full resolution only where it
changed. `replay` is deterministic: the same clicks on the same mask give the same result.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import cv2
import numpy as np

from bgeraser_gui.core.click_edit import ClickEdit, apply_click
from bgeraser_gui.core.click_proposals import CropSegmenter, Segment
from bgeraser_gui.core.history import Rect
from bgeraser_gui.core.progress import CancelToken

__all__ = ["Click", "ClickEdit", "ClickSession", "CropSegmenter", "Segment", "prefetch_crops"]

WORK_SIDE = 1280  # long side of the working copy


@dataclass(frozen=True)
class Click:
    """A click in full-resolution image pixels; positive = "this belongs to the subject"."""

    x: int
    y: int
    positive: bool


def work_scale(height: int, width: int) -> float:
    """Scale of the working copy of a height x width photo."""
    return min(1.0, WORK_SIDE / max(height, width))


def _work_size(height: int, width: int, scale: float) -> tuple[int, int]:
    return max(1, round(width * scale)), max(1, round(height * scale))


def _work_point(click: Click, scale: float, work_w: int, work_h: int) -> tuple[int, int, bool]:
    x = min(work_w - 1, int(click.x * scale))
    y = min(work_h - 1, int(click.y * scale))
    return x, y, click.positive


def prefetch_crops(
    segmenter: CropSegmenter, click: Click, cancel: CancelToken | None = None
) -> int:
    """Run the model on the crops `ClickSession.add(click)` would ask about, so that the click
    itself costs only local work (the editor calls it while the pointer rests on the photo);
    returns how many crops ran."""
    h, w = segmenter.image_shape
    scale = work_scale(h, w)
    work_w, work_h = _work_size(h, w, scale) if scale < 1.0 else (w, h)
    x, y, positive = _work_point(click, scale, work_w, work_h)
    return segmenter.prefetch(int(x / scale), int(y / scale), positive, cancel)


@dataclass
class _Step:
    click: Click
    work_rect: Rect
    work_before: np.ndarray
    decided_before: np.ndarray
    full_rect: Rect
    full_before: np.ndarray


class ClickSession:
    """Clicks on one image, applied one after the other to a starting mask (see module doc)."""

    def __init__(
        self,
        rgb: np.ndarray,
        mask: np.ndarray | None,
        segment: Segment | CropSegmenter | None = None,
    ) -> None:
        rgb = np.asarray(rgb)
        if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
            raise ValueError(f"rgb must be uint8 HxWx3, got {rgb.dtype} {rgb.shape}")
        h, w = rgb.shape[:2]
        if mask is None:
            full = np.zeros((h, w), np.float32)
        else:
            full = np.clip(np.nan_to_num(np.asarray(mask, np.float32)), 0.0, 1.0)
            if full.shape != (h, w):
                raise ValueError(f"mask shape {full.shape} != image {(h, w)}")
            full = full.copy()
        self.rgb = rgb
        if isinstance(segment, CropSegmenter):
            if segment.rgb is not rgb and segment.image_shape != (h, w):
                raise ValueError("the CropSegmenter belongs to another image")
            self.segmenter: CropSegmenter | None = segment
        else:
            self.segmenter = None if segment is None else CropSegmenter(rgb, segment)
        self.scale = work_scale(h, w)
        if self.scale < 1.0:
            size = _work_size(h, w, self.scale)
            self._work_rgb = cv2.resize(rgb, size, interpolation=cv2.INTER_AREA)
            self._work = cv2.resize(full, size, interpolation=cv2.INTER_AREA)
        else:
            self._work_rgb = rgb
            self._work = full  # one array: the working copy is the full-resolution mask
        self._full = full
        # +1 / -1 where a click set the label (working pixels), 0 where nobody clicked yet
        self._decided = np.zeros(self._work.shape, np.int8)
        self._steps: list[_Step] = []
        self._version = 0  # counts edits (add / undo): a preview is valid for one version
        self._previewed: tuple[Click, int, ClickEdit] | None = None

    # -- read access -----------------------------------------------------------------------
    @property
    def clicks(self) -> tuple[Click, ...]:
        return tuple(s.click for s in self._steps)

    @property
    def mask(self) -> np.ndarray:
        """The current selection, float32 HxW in [0, 1] (do not modify)."""
        return self._full

    # -- edits -----------------------------------------------------------------------------
    def add(self, click: Click, cancel: CancelToken | None = None) -> np.ndarray:
        """Apply one click; returns the new mask (the session's own array: copy to keep it)."""
        step = self._commit(click, self._edit(click, cancel))
        self._steps.append(step)
        self._version += 1
        return self._full

    def preview(self, click: Click, cancel: CancelToken | None = None) -> ClickEdit:
        """What `click` would change (window and changed pixels, in working pixels: divide by
        `scale` for image pixels), without changing anything; an `add` of the same click right
        after reuses it, so the click itself costs only writing the result."""
        return self._edit(click, cancel)

    def _edit(self, click: Click, cancel: CancelToken | None) -> ClickEdit:
        h, w = self._full.shape
        if not (0 <= click.x < w and 0 <= click.y < h):
            raise ValueError(f"click ({click.x}, {click.y}) outside the {w}x{h} image")
        cached = self._previewed
        if cached is not None and cached[0] == click and cached[1] == self._version:
            return cached[2]
        edit: ClickEdit = apply_click(
            self._work_rgb,
            self._work,
            self._decided,
            self._to_work(click),
            [self._to_work(c) for c in self.clicks],
            self.segmenter,
            self.scale,
            cancel,
        )
        self._previewed = (click, self._version, edit)
        return edit

    def undo(self) -> np.ndarray:
        """Take back the last click (no-op without clicks); returns the mask."""
        if self._steps:
            step = self._steps.pop()
            self._full[step.full_rect.slices()] = step.full_before
            self._work[step.work_rect.slices()] = step.work_before
            self._decided[step.work_rect.slices()] = step.decided_before
            self._version += 1
        return self._full

    @classmethod
    def replay(
        cls,
        rgb: np.ndarray,
        mask: np.ndarray | None,
        clicks: Iterable[Click],
        segment: Segment | CropSegmenter | None = None,
        cancel: CancelToken | None = None,
    ) -> ClickSession:
        """A session with `clicks` applied in order (deterministic)."""
        session = cls(rgb, mask, segment)
        for click in clicks:
            session.add(click, cancel)
        return session

    # -- internals -------------------------------------------------------------------------
    def _to_work(self, click: Click) -> tuple[int, int, bool]:
        hw, ww = self._work.shape
        return _work_point(click, self.scale, ww, hw)

    def _commit(self, click: Click, edit: ClickEdit) -> _Step:
        r = edit.rect
        work_before = self._work[r.slices()].copy()
        decided_before = self._decided[r.slices()].copy()
        changed = edit.changed
        self._work[r.slices()][changed] = edit.labels[changed].astype(np.float32)
        self._decided[r.slices()][changed] = np.where(edit.labels[changed], 1, -1)
        if self._work is self._full:
            return _Step(click, r, work_before, decided_before, r, work_before)
        h, w = self._full.shape
        s = 1.0 / self.scale
        fr = Rect(int(r.x0 * s), int(r.y0 * s), int(np.ceil(r.x1 * s)), int(np.ceil(r.y1 * s)))
        fr = fr.clipped(w, h)
        full_before = self._full[fr.slices()].copy()
        if changed.any():
            size = (fr.width, fr.height)
            grown = cv2.resize(changed.astype(np.uint8), size, interpolation=cv2.INTER_NEAREST)
            grown = cv2.dilate(grown, np.ones((3, 3), np.uint8)).astype(bool)
            soft = cv2.resize(edit.labels.astype(np.float32), size, interpolation=cv2.INTER_LINEAR)
            self._full[fr.slices()][grown] = soft[grown]
        return _Step(click, r, work_before, decided_before, fr, full_before)
