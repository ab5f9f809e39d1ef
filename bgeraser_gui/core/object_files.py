"""Cutouts written per object (`--objects each|largest` of `bgeraser-cli cutout` and `batch`).

`ObjectsPipeline` is the one pipeline (`core.pipeline.Pipeline`: same model, refinement and
export options) whose `process_file` splits the cutout into objects (`core.objects`) and writes
- "each": every object of the automatic cutout as its own file, named by the naming pattern
  plus `_1`, `_2`, ... (biggest first; with `--name-pattern {stem}`: `{stem}_1.png`, ...),
  written last to first, so `_1` exists only when all of them do (`batch --resume` looks
  for it: `resume_options`; a photo without objects gets its empty cutout as `_1`),
- "largest": only the main subject (the biggest object), under the usual name,
each with the usual crop / margin / size / background options, the crop following the object.
The objects of the latest file are in `last_objects` (the batch report lists them).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import cv2
import numpy as np

from bgeraser_gui.core.compose import ExportOptions, output_path_for, refuse_overwriting_input
from bgeraser_gui.core.objects import WHOLE_SUBJECTS, SubjectObject, split_objects
from bgeraser_gui.core.pipeline import Pipeline
from bgeraser_gui.core.progress import CancelToken, ProgressFn, no_progress

OBJECT_MODES = ("each", "largest")
EDGE_PX = 3  # the refined alpha is kept this far around an object's own soft mask


def object_alpha(obj: SubjectObject, alpha: np.ndarray) -> np.ndarray:
    """float32 HxW: `alpha` (the refined cutout) kept only around `obj` (its soft mask's
    support grown by EDGE_PX, so the matting's hair and edges stay with their object)."""
    support = (obj.alpha > 0).astype(np.uint8)
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * EDGE_PX + 1,) * 2)
    h, w = alpha.shape[:2]
    box = obj.bbox
    x0, y0 = max(0, box.x0 - EDGE_PX), max(0, box.y0 - EDGE_PX)
    x1, y1 = min(w, box.x1 + EDGE_PX), min(h, box.y1 + EDGE_PX)
    padded = np.zeros((y1 - y0, x1 - x0), np.uint8)
    padded[box.y0 - y0 : box.y1 - y0, box.x0 - x0 : box.x1 - x0] = support
    out = np.zeros((h, w), np.float32)
    keep = cv2.dilate(padded, kernel) > 0
    out[y0:y1, x0:x1] = np.where(keep, np.asarray(alpha[y0:y1, x0:x1], np.float32), 0.0)
    return out


def object_options(options: ExportOptions, number: int) -> ExportOptions:
    """The export options of object `number` with `--objects each`: the name plus `_number`."""
    return dataclasses.replace(options, name_pattern=f"{options.name_pattern}_{number}")


def resume_options(options: ExportOptions, objects: str | None) -> ExportOptions:
    """The options whose output says a photo is done, for `batch --resume`: with `--objects
    each` the first object's file (written last), else the usual cutout."""
    return object_options(options, 1) if objects == "each" else options


def describe(obj: SubjectObject, output: Path | None) -> dict:
    """One object as the batch report lists it."""
    b = obj.bbox
    return {
        "id": obj.id, "name": obj.name, "bbox": [b.x0, b.y0, b.x1, b.y1],
        "area": obj.area, "score": obj.score, "output": None if output is None else str(output),
    }  # fmt: skip


class ObjectsPipeline(Pipeline):
    """A pipeline that writes objects (`objects` = "each" or "largest") instead of one cutout."""

    def __init__(self, *args, objects: str = "each", **kwargs) -> None:
        if objects not in OBJECT_MODES:
            raise ValueError(f"objects must be one of {', '.join(OBJECT_MODES)}")
        super().__init__(*args, **kwargs)
        self.objects = objects
        self.last_objects: list[dict] | None = None

    def process_file(
        self,
        path: str | Path,
        out_dir: str | Path,
        progress: ProgressFn | None = None,
        cancel: CancelToken | None = None,
        notes: list[str] | None = None,
    ) -> Path | None:
        """Cut out one file into `out_dir`, one file per object written; returns the first
        written path (None when every target existed and the policy skipped them)."""
        progress = progress or no_progress
        self.last_result, self.last_objects = None, None
        options = self.export_options
        refuse_overwriting_input(self.output_path(path, out_dir), {Path(path).resolve()}, options)
        progress(0.0, f"loading {Path(path).name}")
        image = self.load_image(path)
        result = self.cutout(image, progress, cancel)
        if notes is not None:
            notes.extend(result.notes)
        whole = WHOLE_SUBJECTS if self.objects == "largest" else None  # not half a subject
        split = split_objects(image.rgb, result.mask, settings=whole, cancel=cancel)
        objects = [o for o in split if o.suggested]
        chosen = objects[:1] if self.objects == "largest" else objects
        if not chosen:  # nothing found: the (empty) cutout, as `_1` with "each" (resume)
            self.last_objects = []
            own = object_options(options, 1) if self.objects == "each" else options
            return self.export(
                image, result.alpha, output_path_for(path, out_dir, own), options=own
            )
        listed = []
        # the last object first: `_1` is written last, so its presence says the photo is done
        for k, obj in reversed(list(enumerate(chosen, start=1))):
            if cancel is not None:
                cancel.check()
            own = options
            if self.objects == "each":
                own = object_options(options, k)
            target = output_path_for(path, out_dir, own)
            written = None
            if not (own.existing == "skip" and target.exists()):
                alpha = object_alpha(obj, result.alpha)
                written = self.export(image, alpha, target, result.foreground, own)
            listed.insert(0, describe(obj, written))
        self.last_objects = listed
        progress(1.0, f"done {Path(path).name}: {len(chosen)} object(s)")
        return next((Path(o["output"]) for o in listed if o["output"] is not None), None)
