"""Objects stored in the document: three layers, so the history undoes them and the autosave
journal keeps them like any other layer.

  "object_labels"  uint16 HxW: which object owns each pixel (0 = none), or None
  "object_found"   uint8 HxW: soft masks of the objects found on crops (not in the model's
                   mask), or None
  "object_table"   uint8 1xN: UTF-8 JSON list of {"id", "name", "visible", "source"}, or None

What the cutout becomes (`gate_alpha`, applied by the document to its base mask before the
touch-ups): pixels of a hidden or deleted object are 0, visible found objects add their soft
mask, every other pixel keeps the base (model, click or refined mask). So the cutout is the
union of the visible objects plus clicks and strokes, a new model mask or a refinement keeps
the objects, and a toggle is a table change: no model run, no split.
Every edit is one undoable step (`Document.transaction`).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import asdict, dataclass, replace

import numpy as np

from bgeraser_gui.core.objects import SubjectObject

OBJECT_LABELS = "object_labels"
OBJECT_FOUND = "object_found"
OBJECT_TABLE = "object_table"
OBJECT_LAYERS = (OBJECT_LABELS, OBJECT_FOUND, OBJECT_TABLE)


@dataclass(frozen=True)
class ObjectEntry:
    """One object as the document keeps it (its pixels are in the label layer)."""

    id: int
    name: str
    visible: bool
    source: str  # "model", "crop", "faint" or "hidden" (see core.objects)


def encode_table(entries: Iterable[ObjectEntry]) -> np.ndarray:
    data = json.dumps([asdict(e) for e in entries], ensure_ascii=False).encode("utf-8")
    return np.frombuffer(data, np.uint8).reshape(1, -1).copy()


def decode_table(table: np.ndarray | None) -> list[ObjectEntry]:
    if table is None or table.size == 0:
        return []
    return [ObjectEntry(**row) for row in json.loads(table.tobytes().decode("utf-8"))]


def object_layers(
    objects: list[SubjectObject], shape: tuple[int, int]
) -> tuple[np.ndarray, np.ndarray | None, np.ndarray]:
    """(labels, found, table) of a split (run it on a worker: full-size work)."""
    labels = np.zeros(shape, np.uint16)
    found = None
    for obj in objects:
        view = labels[obj.bbox.slices()]
        view[(obj.alpha > 0) & (view == 0)] = obj.id
        if not obj.suggested:
            found = np.zeros(shape, np.uint8) if found is None else found
            fview = found[obj.bbox.slices()]
            np.maximum(fview, np.where(view == obj.id, obj.alpha, 0).astype(np.uint8), out=fview)
    entries = [ObjectEntry(o.id, o.name, o.suggested, o.source) for o in objects]
    return labels, found, encode_table(entries)


def _visible_lut(entries: list[ObjectEntry]) -> np.ndarray:
    """float32 lookup id -> 1 (shown) / 0 (hidden or deleted); id 0 (no object) -> 1."""
    lut = np.zeros(65536, np.float32)  # every uint16 label: ids no entry lists are deleted
    lut[0] = 1.0
    for e in entries:
        lut[e.id] = 1.0 if e.visible else 0.0
    return lut


def gate_alpha(out: np.ndarray, sl, layers: dict) -> None:
    """Apply the objects to `out` (the base alpha of the window `sl`), in place."""
    labels, table = layers.get(OBJECT_LABELS), layers.get(OBJECT_TABLE)
    if labels is None or table is None:
        return
    ids = labels[sl]
    shown = _visible_lut(decode_table(table))[ids]
    out *= shown
    found = layers.get(OBJECT_FOUND)
    if found is not None:  # within the box of the found objects' pixels (all labelled)
        soft = found[sl]
        rows = np.flatnonzero(soft.any(axis=1))
        if rows.size:
            cols = np.flatnonzero(soft.any(axis=0))
            box = (slice(rows[0], rows[-1] + 1), slice(cols[0], cols[-1] + 1))
            own = soft[box].astype(np.float32)
            own *= shown[box]
            own *= np.float32(1 / 255)
            np.maximum(out[box], own, out=out[box])


# -- edits (each one undoable step) ---------------------------------------------------------
def set_objects(doc, layers: tuple[np.ndarray, np.ndarray | None, np.ndarray]) -> None:
    """Store a split (`object_layers`); replaces earlier objects."""
    with doc.transaction("Find objects") as tx:
        for name, array in zip(OBJECT_LAYERS, layers, strict=True):
            tx.replace(name, array)


def clear_objects(doc) -> None:
    with doc.transaction("Clear objects") as tx:
        for name in OBJECT_LAYERS:
            tx.replace(name, None)


def objects_of(doc) -> list[ObjectEntry]:
    return decode_table(doc.layer(OBJECT_TABLE))


def _set_table(doc, entries: list[ObjectEntry], label: str) -> None:
    with doc.transaction(label) as tx:
        tx.replace(OBJECT_TABLE, encode_table(entries))


def toggle(doc, object_id: int) -> None:
    entries = objects_of(doc)
    entry = next(e for e in entries if e.id == object_id)
    verb = "Hide" if entry.visible else "Show"
    new = [replace(e, visible=not e.visible) if e.id == object_id else e for e in entries]
    _set_table(doc, new, f"{verb} {entry.name}")


def solo(doc, object_id: int) -> None:
    entries = objects_of(doc)
    name = next(e.name for e in entries if e.id == object_id)
    _set_table(doc, [replace(e, visible=e.id == object_id) for e in entries], f"Solo {name}")


def show_all(doc) -> None:
    _set_table(doc, [replace(e, visible=True) for e in objects_of(doc)], "Show all objects")


def rename(doc, object_id: int, name: str) -> None:
    name = name.strip()
    entries = objects_of(doc)
    if not name or any(e.id == object_id and e.name == name for e in entries):
        return
    new = [replace(e, name=name) if e.id == object_id else e for e in entries]
    _set_table(doc, new, f"Rename object to {name}")


def delete(doc, object_id: int) -> None:
    """Remove the object from the list and from the cutout (its pixels stay labelled, so
    they stay out; undo brings it back)."""
    entries = objects_of(doc)
    name = next(e.name for e in entries if e.id == object_id)
    _set_table(doc, [e for e in entries if e.id != object_id], f"Delete {name}")


def merge(doc, object_ids: Iterable[int]) -> None:
    """Merge objects into the first of them (shown if any of them was)."""
    ids = sorted(set(object_ids))
    if len(ids) < 2:
        return
    entries = objects_of(doc)
    keep = next(e for e in entries if e.id == ids[0])
    visible = any(e.visible for e in entries if e.id in ids)
    labels = doc.layer(OBJECT_LABELS)
    merged = np.where(np.isin(labels, ids[1:]), np.uint16(ids[0]), labels).astype(np.uint16)
    new = [replace(e, visible=visible) if e.id == keep.id else e for e in entries]
    new = [e for e in new if e.id not in ids[1:]]
    with doc.transaction(f"Merge {len(ids)} objects into {keep.name}") as tx:
        tx.replace(OBJECT_LABELS, merged)
        tx.replace(OBJECT_TABLE, encode_table(new))
