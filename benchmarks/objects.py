"""Time to split a photo into objects (core.objects) at 6 and 24 MP, and what the editor's UI
thread pays for it.

    python benchmarks/objects.py [--model PATH] [--photo PATH] [--cache DIR] [--repeats 3]
                                 [--crops 2]

The photo (default: the 6 MP bike photo) is resized to each size (24 MP = upscaled). The
model's automatic mask is computed once on the photo and cached in --cache (the model sees
1024 px whatever the size; the mask is resized with the photo). Per size it prints, with wall
and process CPU seconds (the machine may be shared: CPU / cores is the idle estimate):
  split        - split_objects without the crop search (what batch --objects does), on a worker
  + crops      - with the crop search on a --crops x --crops grid, crops already computed
                 (the model's own time on the crops is printed apart: `crop model`)
  layers       - object_layers (worker: label layer, found masks, table)
  UI: store    - set_objects on the document (UI thread: swap layers, update the cutout)
  UI: thumbs   - thumbnails of the dock (UI thread, once per split)
  UI: toggle   - one toggle (UI thread: table edit + the cutout's update)
  heartbeat    - the longest gap (s) of a 5 ms heartbeat on the main thread while the split
                 runs on a worker thread (how long the GIL keeps the editor's UI thread waiting)
Ratios 24 MP / 6 MP are printed side by side.
"""

from __future__ import annotations

import argparse
import resource
import time
from pathlib import Path

import cv2
import numpy as np

REPO = Path(__file__).resolve().parents[1]
PHOTO = REPO.parent / "shared" / "perf" / "bike_3000x2000.jpg"
MODEL = REPO.parent / "models-cache" / "isnet_medium_fp16.onnx"
SIZES_MP = (6, 24)


def _cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def _timed(fn, repeats: int):
    walls, cpus, result = [], [], None
    for _ in range(repeats):
        w, c = time.perf_counter(), _cpu()
        result = fn()
        walls.append(time.perf_counter() - w)
        cpus.append(_cpu() - c)
    return min(walls), min(cpus), result


def _model_mask(args, rgb: np.ndarray) -> np.ndarray:
    path = args.cache / f"{Path(args.photo).stem}_mask.png"
    if path.exists():
        return cv2.imread(str(path), cv2.IMREAD_GRAYSCALE).astype(np.float32) / 255.0
    from bgeraser_gui.backends.loader import load_backend

    mask = load_backend(str(args.model), "cpu").predict(rgb)
    args.cache.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), np.clip(mask * 255 + 0.5, 0, 255).astype(np.uint8))
    return mask


def _heartbeat_gap(work) -> float:
    """Longest gap between 5 ms ticks of this thread while `work()` runs on another."""
    import threading

    worker = threading.Thread(target=work)
    worker.start()
    last, gap = time.perf_counter(), 0.0
    while worker.is_alive():
        time.sleep(0.005)
        now = time.perf_counter()
        gap, last = max(gap, now - last), now
    worker.join()
    return gap


def _one_size(args, mp: int, rgb: np.ndarray, mask: np.ndarray, segment, rows: dict) -> None:
    """The rows of one size."""
    from bgeraser_gui.core import object_layers as ol
    from bgeraser_gui.core.click_proposals import CropSegmenter
    from bgeraser_gui.core.document import Document
    from bgeraser_gui.core.image_io import LoadedImage
    from bgeraser_gui.core.object_split import crop_centres
    from bgeraser_gui.core.objects import SplitSettings, split_objects
    from bgeraser_gui.gui.objects_panel import thumbnails

    plain = SplitSettings(crop_grid=0)
    wall, cpu, objects = _timed(lambda: split_objects(rgb, mask, settings=plain), args.repeats)
    rows.setdefault("split", {})[mp] = (wall, cpu)
    gap = _heartbeat_gap(lambda: split_objects(rgb, mask, settings=plain))
    rows.setdefault("heartbeat", {})[mp] = (gap, float("nan"))
    if segment is not None:
        crops = CropSegmenter(rgb, segment)
        settings = SplitSettings(crop_grid=args.crops)
        w0, c0 = time.perf_counter(), _cpu()
        for x, y, side in crop_centres(*rgb.shape[:2], settings):
            crops.proposal(x, y, side)
        rows.setdefault("crop model", {})[mp] = (time.perf_counter() - w0, _cpu() - c0)
        wall, cpu, objects = _timed(lambda: split_objects(rgb, mask, crops, settings), args.repeats)
        rows.setdefault("+ crops", {})[mp] = (wall, cpu)
    wall, cpu, layers = _timed(lambda: ol.object_layers(objects, mask.shape), args.repeats)
    rows.setdefault("layers", {})[mp] = (wall, cpu)
    doc = Document(LoadedImage(None, rgb, None, None, None, 8, "JPEG"), mask)
    rows.setdefault("UI: store", {})[mp] = _timed(lambda: ol.set_objects(doc, layers), 1)[:2]
    labels = doc.layer(ol.OBJECT_LABELS)
    rows.setdefault("UI: thumbs", {})[mp] = _timed(lambda: thumbnails(rgb, labels), 1)[:2]
    first = ol.objects_of(doc)[0].id
    rows.setdefault("UI: toggle", {})[mp] = _timed(lambda: ol.toggle(doc, first), 3)[:2]
    names = ", ".join(f"{o.name} ({o.source})" for o in objects)
    print(f"{mp} MP {rgb.shape[1]}x{rgb.shape[0]}: {len(objects)} objects: {names}", flush=True)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--photo", type=Path, default=PHOTO)
    p.add_argument("--model", type=Path, default=MODEL)
    p.add_argument("--cache", type=Path, default=Path("/tmp/bgeraser-objects-bench"))
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--crops", type=int, default=2, help="crop grid of the '+ crops' row (0 = none)")
    args = p.parse_args()

    photo = cv2.cvtColor(cv2.imread(str(args.photo)), cv2.COLOR_BGR2RGB)
    base_mask = _model_mask(args, photo)
    segment = None
    if args.crops > 0:
        from bgeraser_gui.backends.loader import load_backend
        from bgeraser_gui.core.click_proposals import model_segment

        segment = model_segment(load_backend(str(args.model), "cpu"))
    rows: dict[str, dict[int, tuple[float, float]]] = {}
    for mp in SIZES_MP:
        f = np.sqrt(mp * 1e6 / (photo.shape[0] * photo.shape[1]))
        size = (round(photo.shape[1] * f), round(photo.shape[0] * f))
        rgb = cv2.resize(photo, size, interpolation=cv2.INTER_CUBIC)
        mask = cv2.resize(base_mask, size, interpolation=cv2.INTER_LINEAR)
        _one_size(args, mp, rgb, mask, segment, rows)
        del rgb, mask
    print(f"\n{'step':<12} " + " ".join(f"{mp:>4} MP wall / cpu s" for mp in SIZES_MP) + "  24/6")
    for name, by_size in rows.items():
        cells = " ".join(f"{by_size[mp][0]:>8.3f} / {by_size[mp][1]:>6.3f} " for mp in SIZES_MP)
        ratio = by_size[24][0] / max(by_size[6][0], 1e-9)
        print(f"{name:<12} {cells} {ratio:5.2f}")


if __name__ == "__main__":
    main()
