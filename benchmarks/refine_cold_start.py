"""Benchmark: the first refinement on a fresh install (empty numba cache) vs a warm one, 6 MP.

numba compiles the matting kernels into its cache on first use. Each measurement runs in its
own subprocess:

- cold: an empty NUMBA_CACHE_DIR; the time from importing the matting module to the end of
  the first `refine` (what the first Ctrl+M costs on a fresh install without warm-up);
- cache-warm: a new process on the cache the cold run filled (every later app start);
- warm: the second `refine` in the same process (what every later Ctrl+M costs);
- cold, whole pymatting: as cold, but `import pymatting` first, as the code did before
  core/kernel_cache.py (the package __init__ compiles ~30 kernels eagerly, most never used);
- app-like (--model-seconds S): an empty cache, the editor's background warm-up starts at
  t = 0 and Ctrl+M comes S seconds later (the model run in between); the time from Ctrl+M.

    nice -n 5 python benchmarks/refine_cold_start.py [--image PHOTO] [--mp 6]

The ISNet mask comes from onnxruntime and is cached (benchmarks/matting.py's `prepare`).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from matting import DEFAULT_IMAGE, prepare  # noqa: E402 - sibling benchmark module


def child(rgb_file: str, mask_file: str, whole_pymatting: bool, model_s: float) -> None:
    import threading

    import numpy as np

    rgb, mask = np.load(rgb_file), np.load(mask_file)
    start, cpu_start = time.perf_counter(), time.process_time()
    from bgeraser_gui.core.matting import refine, warm_up

    if model_s > 0:  # the editor: warm-up in the background while the model runs
        threading.Thread(target=warm_up, daemon=True).start()
        time.sleep(model_s)
        start, cpu_start = time.perf_counter(), time.process_time()

    if whole_pymatting:
        import pymatting  # noqa: F401 - the old import: every pymatting kernel compiles

    imported = time.perf_counter()
    refine(rgb, mask)
    first, cpu_first = time.perf_counter(), time.process_time()
    refine(rgb, mask)
    second, cpu_second = time.perf_counter(), time.process_time()
    print(
        json.dumps(
            {
                "import_s": imported - start,
                "first_s": first - start,
                "second_s": second - first,
                # CPU seconds of all the process's threads: what a loaded machine distorts least
                "first_cpu_s": cpu_first - cpu_start,
                "second_cpu_s": cpu_second - cpu_first,
            }
        )
    )


def run_child(
    rgb_file: Path, mask_file: Path, cache_dir: str, whole: bool = False, model_s: float = 0.0
) -> dict:
    env = dict(os.environ, NUMBA_CACHE_DIR=cache_dir)
    extra = (["--whole-pymatting"] if whole else []) + ["--model-seconds", str(model_s)]
    out = subprocess.run(
        [sys.executable, __file__, "--child", str(rgb_file), str(mask_file), *extra],
        env=env,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return json.loads(out.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--image", type=Path, default=DEFAULT_IMAGE)
    parser.add_argument("--mp", type=int, default=6)
    parser.add_argument("--child", nargs=2, metavar=("RGB_NPY", "MASK_NPY"))
    parser.add_argument("--whole-pymatting", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--skip-whole", action="store_true", help="skip the old-import run")
    parser.add_argument("--model-seconds", type=float, default=0.0, metavar="S",
                        help="also measure app-like: warm-up runs S s before Ctrl+M")  # fmt: skip
    args = parser.parse_args()
    if args.child:
        child(*args.child, args.whole_pymatting, args.model_seconds)
        return
    rgb_file, mask_file = prepare(args.image, args.mp)
    whole = None
    if not args.skip_whole:
        with tempfile.TemporaryDirectory(prefix="numba-cold-") as cache_dir:
            whole = run_child(rgb_file, mask_file, cache_dir, whole=True)
    with tempfile.TemporaryDirectory(prefix="numba-cold-") as cache_dir:
        cold = run_child(rgb_file, mask_file, cache_dir)
        cache_warm = run_child(rgb_file, mask_file, cache_dir)
    app_like = None
    if args.model_seconds > 0:
        with tempfile.TemporaryDirectory(prefix="numba-cold-") as cache_dir:
            app_like = run_child(rgb_file, mask_file, cache_dir, model_s=args.model_seconds)
    warm = cache_warm["second_s"]
    print(f"{args.image.name} at {args.mp} MP")
    print(f"  cold first refine (empty cache): {cold['first_s']:6.1f} s  "
          f"(import {cold['import_s']:.1f} s)")  # fmt: skip
    print(f"  cache-warm first refine (new process): {cache_warm['first_s']:6.1f} s  "
          f"(import {cache_warm['import_s']:.1f} s)")  # fmt: skip
    print(f"  warm refine (same process): {warm:6.1f} s   (cold run's second: "
          f"{cold['second_s']:.1f} s)")  # fmt: skip
    if whole is not None:
        print(f"  cold first refine, whole pymatting imported (before): {whole['first_s']:6.1f} s"
              f"  = {whole['first_s'] / warm:.1f}x warm")  # fmt: skip
    if app_like is not None:
        print(f"  app-like, empty cache, Ctrl+M {args.model_seconds:.0f} s after start: "
              f"{app_like['first_s']:6.1f} s = {app_like['first_s'] / warm:.2f}x warm")  # fmt: skip
    warm_cpu = cache_warm["second_cpu_s"]
    print(f"  CPU time: cold first {cold['first_cpu_s']:.1f} s, cache-warm first "
          f"{cache_warm['first_cpu_s']:.1f} s, warm {warm_cpu:.1f} s: cold / warm = "
          f"{cold['first_cpu_s'] / warm_cpu:.2f}x")  # fmt: skip
    if whole is not None:
        print(f"  CPU time, whole pymatting (before): {whole['first_cpu_s']:.1f} s = "
              f"{whole['first_cpu_s'] / warm_cpu:.1f}x warm")  # fmt: skip
    print(f"  cold / warm = {cold['first_s'] / warm:.2f}x;  "
          f"cache-warm / warm = {cache_warm['first_s'] / warm:.2f}x")  # fmt: skip


if __name__ == "__main__":
    main()
