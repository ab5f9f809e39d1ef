"""Benchmark: peak memory of `bgeraser-cli cutout` at 12 / 48 / 100 MP, with and without refinement.

Each run is the real CLI in its own subprocess (default settings, the fp16 ISNet file), so its
peak RSS (ru_maxrss from wait4) and CPU seconds are its own. The big photos are the 6 MP bike
upscaled (bicubic) to each size, written once into --workdir (outside the repository).

    nice -n 10 python benchmarks/memory_peak.py [--sizes 12,48,100] [--workdir DIR]

Prints one line per size: peak RSS and CPU seconds with refinement and with --no-refine side
by side. The goal (issue 15) is <= 4 GB at 100 MP with refinement.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from PIL import Image

PHOTO = Path(os.environ.get("BGERASER_SHARED", "/work/shared")) / "perf" / "bike_3000x2000.jpg"
MODEL = Path(os.environ.get("BGERASER_ISNET", "/work/models-cache/isnet_medium_fp16.onnx"))
WORKDIR = Path(tempfile.gettempdir()) / "bgeraser_memory_peak"
MODES = {"refine": [], "no-refine": ["--no-refine"]}


def upscaled_photo(photo: Path, megapixels: int, workdir: Path) -> Path:
    """`photo` upscaled to about `megapixels` MP (cached as a JPEG in `workdir`)."""
    target = workdir / f"{photo.stem}_{megapixels}mp.jpg"
    if target.exists():
        return target
    workdir.mkdir(parents=True, exist_ok=True)
    Image.MAX_IMAGE_PIXELS = None  # our own test photo, built here
    with Image.open(photo) as source:
        rgb = source.convert("RGB")
    scale = (megapixels * 1e6 / (rgb.width * rgb.height)) ** 0.5
    size = (round(rgb.width * scale), round(rgb.height * scale))
    rgb.resize(size, Image.Resampling.BICUBIC).save(target, quality=92)
    return target


def run_cli(photo: Path, model: Path, extra: list[str]) -> dict:
    """One `cutout` in a subprocess: its peak RSS (GB), CPU and wall seconds, exit status."""
    with tempfile.TemporaryDirectory(prefix="bgeraser_mem_") as out:
        cmd = [sys.executable, "-m", "bgeraser_gui", "cutout", str(photo), "-o", out, "-q"]
        cmd += ["--model", str(model), *extra]
        started = time.perf_counter()
        child = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        stderr = child.stderr.read() if child.stderr else b""
        _, status, usage = os.wait4(child.pid, 0)
        child.returncode = os.waitstatus_to_exitcode(status)
        return {
            "rss_gb": usage.ru_maxrss / 1e6,  # kilobytes on Linux
            "cpu_s": usage.ru_utime + usage.ru_stime,
            "wall_s": time.perf_counter() - started,
            "rc": child.returncode,
            "error": stderr.decode(errors="replace").strip().splitlines()[-1:] if status else [],
        }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="12,48,100", help="megapixels, comma separated")
    parser.add_argument("--photo", type=Path, default=PHOTO)
    parser.add_argument("--model", type=Path, default=MODEL)
    parser.add_argument("--workdir", type=Path, default=WORKDIR)
    args = parser.parse_args()
    if not args.model.exists():
        print(f"model not found: {args.model} (set BGERASER_ISNET)", file=sys.stderr)
        return 2
    print(f"bgeraser-cli cutout, default settings, model {args.model.name}")
    print(f"{'MP':>5} | {'refine: peak RSS, CPU':>24} | {'--no-refine: peak RSS, CPU':>27} | rc")
    for megapixels in (int(s) for s in args.sizes.split(",") if s.strip()):
        photo = upscaled_photo(args.photo, megapixels, args.workdir)
        runs = {mode: run_cli(photo, args.model, extra) for mode, extra in MODES.items()}
        cells = [f"{r['rss_gb']:6.2f} GB, {r['cpu_s']:6.1f} s CPU" for r in runs.values()]
        status = " ".join(
            f"{r['rc']}{' ' + r['error'][0] if r['error'] else ''}" for r in runs.values()
        )
        print(f"{megapixels:>5} | {cells[0]:>24} | {cells[1]:>27} | {status}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
