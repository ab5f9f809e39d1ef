"""What autosave costs per brush stroke on a 24 MP photo, and how much of it the UI thread pays.

One document (6000x4000 by default, the bike photo scaled up) with a soft model mask, tracked
by `core.autosave.AutosaveWriter`, and the same strokes painted side by side on an untracked
twin. Per stroke size we report:
  - UI thread: the autosave listener's CPU time (copying the entry list, queueing the job),
    and the stroke's `finish()` (commit) wall time tracked vs untracked: the difference adds
    the GIL the woken writer thread takes while the UI thread still updates the alpha (on a
    loaded machine mostly scheduling noise: compare several runs);
  - writer CPU (thread time of mirroring the entry in its shadow, encoding, appending);
  - writer: time from the commit until the journal is fsynced (the stroke is crash-safe);
  - bytes appended to the journal;
  - the longest stall of a 1 ms timer loop on the main thread while the writer works
    (the GIL the writer holds is the only way it can slow painting).
Plus: `track()` on the UI thread, the model-mask blob, a full snapshot, a recovery.

    nice -n 5 python benchmarks/autosave.py [--width 6000 --height 4000] [--root DIR]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
from PIL import Image

from bgeraser_gui.core.autosave import AutosaveWriter, DocumentJournal
from bgeraser_gui.core.brush import BrushSettings, BrushStroke
from bgeraser_gui.core.document import Document
from bgeraser_gui.core.image_io import load_image
from bgeraser_gui.core.journal import find_recoverable, recover_document

REPO = Path(__file__).resolve().parents[1]
PHOTO = REPO.parent / "shared" / "perf" / "bike_3000x2000.jpg"
STROKES = ((40, 8, "40 px, short"), (200, 30, "200 px, long"), (800, 20, "800 px, huge"))


def soft_mask(h: int, w: int) -> np.ndarray:
    ys, xs = np.ogrid[:h, :w]
    d = np.hypot((ys - h / 2) / (h * 0.35), (xs - w / 2) / (w * 0.3))
    return np.clip((1.1 - d) * 8.0, 0.0, 1.0).astype(np.float32)


def stall_during(work) -> tuple[float, float]:
    """Run `work()` on the main thread's behalf while a 1 ms tick loop measures its lateness;
    (seconds work took, longest tick in ms). The tick loop stands in for the UI event loop."""
    done, worst = threading.Event(), [0.0]
    result = [0.0]

    def runner() -> None:
        t0 = time.perf_counter()
        work()
        result[0] = time.perf_counter() - t0
        done.set()

    thread = threading.Thread(target=runner)
    last = time.perf_counter()
    thread.start()
    while not done.is_set():
        time.sleep(0.001)
        now = time.perf_counter()
        worst[0] = max(worst[0], now - last)
        last = now
    thread.join()
    return result[0], worst[0] * 1000


def timed(cls, name: str, clock) -> list[float]:
    """Wrap method `name` of `cls` to record each call's duration on `clock`."""
    durations: list[float] = []
    original = getattr(cls, name)

    def wrapper(self, *args, **kwargs):
        t0 = clock()
        try:
            return original(self, *args, **kwargs)
        finally:
            durations.append(clock() - t0)

    setattr(cls, name, wrapper)
    return durations


def stroke(doc: Document, size: int, points: list[tuple[float, float]]) -> float:
    s = BrushStroke(doc, "keep", BrushSettings(size, 0.6), points[0])
    for p in points[1:]:
        s.add_point(p)
    t0 = time.perf_counter()
    s.finish()
    return time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--width", type=int, default=6000)
    parser.add_argument("--height", type=int, default=4000)
    parser.add_argument("--root", type=Path, help="journal folder (default: a temp folder)")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bgeraser-autosave-"))
    root = args.root or tmp / "recovery"
    photo = tmp / "photo.jpg"
    with Image.open(PHOTO) as im:
        im.convert("RGB").resize((args.width, args.height)).save(photo, quality=92)
    image = load_image(photo)
    h, w = image.rgb.shape[:2]
    print(f"photo {w}x{h} ({w * h / 1e6:.1f} MP), journal in {root}")
    tracked, twin = Document(image), Document(image)
    writer = AutosaveWriter(root)
    listener = timed(DocumentJournal, "_on_history", time.thread_time)
    writer_cpu = [timed(DocumentJournal, name, time.thread_time) for name in ("_sync", "flush")]
    t0 = time.perf_counter()
    prepared = writer.prepare(tracked)
    t1 = time.perf_counter()
    writer.track(tracked, prepared)
    t2 = time.perf_counter()
    print(
        f"prepare() on the loader thread {(t1 - t0) * 1000:.1f} ms (layer copy), "
        f"track() on the UI thread {(t2 - t1) * 1000:.2f} ms"
    )
    mask = soft_mask(h, w)
    twin.set_model_mask(mask)
    tracked.set_model_mask(mask)
    secs, stall = stall_during(writer.wait_idle)
    print(
        f"model mask (first snapshot + 96 MB blob): writer {secs:.2f} s, worst tick {stall:.0f} ms"
    )
    rng = np.random.default_rng(0)
    print(
        "stroke           listener  finish: untracked  tracked  +autosave"
        "  writer CPU  writer->fsynced  bytes  worst tick"
    )
    for size, n_points, label in STROKES:
        rows = []
        for _ in range(args.repeat):
            x, y = rng.uniform(0.1, 0.9) * w, rng.uniform(0.1, 0.9) * h
            pts = [(x + i * size * 0.5, y + i * size * 0.2) for i in range(n_points)]
            pts = [(min(px, w - 1), min(py, h - 1)) for px, py in pts]
            base = stroke(twin, size, pts)
            log_before = sum(p.stat().st_size for p in root.rglob("journal-*.log"))
            marks = [len(listener), *(len(c) for c in writer_cpu)]
            ui = stroke(tracked, size, pts)
            secs, stall = stall_during(writer.wait_idle)
            log_after = sum(p.stat().st_size for p in root.rglob("journal-*.log"))
            heard = sum(listener[marks[0] :])
            cpu = sum(sum(c[m:]) for c, m in zip(writer_cpu, marks[1:], strict=True))
            rows.append((heard, base, ui, cpu, secs, log_after - log_before, stall))
        m = [statistics.median(c) * 1000 for c in zip(*rows, strict=True)]  # ms
        m[5], m[6] = m[5] / 1000, m[6] / 1000  # bytes and ms as they were
        print(
            f"{label:15s} {m[0] * 1000:6.1f} µs {m[1]:15.1f} ms {m[2]:6.1f} ms {m[2] - m[1]:+7.1f} ms"
            f" {m[3]:8.1f} ms {m[4]:13.1f} ms {m[5] / 1024:5.0f}K {m[6]:8.0f} ms"
        )
    journal = writer._journals[tracked]
    secs, stall = stall_during(lambda: (writer.submit(journal.snapshot), writer.wait_idle()))
    print(f"compaction (full snapshot, blob reused): {secs:.2f} s, worst tick {stall:.0f} ms")
    writer.close(discard=False)
    t0 = time.perf_counter()
    (found,) = find_recoverable(root)
    doc = recover_document(found)
    print(f"recovery (find + load photo + replay): {time.perf_counter() - t0:.2f} s")
    assert np.array_equal(doc.touchups, tracked.touchups)
    assert np.array_equal(doc.alpha(), tracked.alpha())
    print("recovered state is bit-identical")


if __name__ == "__main__":
    main()
