"""Benchmark: the first refinement on a fresh install (empty numba cache) vs a warm one, 6 MP.

numba compiles the matting kernels into its cache on first use. Each measurement runs in its
own subprocess:

- cold: an empty NUMBA_CACHE_DIR; the time from importing the matting module to the end of
  the first `refine` (what the first Ctrl+M costs on a fresh install without warm-up);
- cache-warm: a new process on the cache the cold run filled (every later app start);
- warm: the second `refine` in the same process (what every later Ctrl+M costs);
- cold, pymatting's kernels (before core/matting_kernels.py): as cold, with pymatting's own
  incomplete Cholesky and foreground estimator (~10 s of CPU to compile) put back;
- cold, whole pymatting (--whole-pymatting-too): as cold, but `import pymatting` first, as
  the code did before core/kernel_cache.py (~30 kernels compile eagerly, most never used);
- app-like (--model-seconds S): an empty cache, the editor's background warm-up starts at
  t = 0 and Ctrl+M comes S seconds later (the model run in between); the time from Ctrl+M.
- editor (--app-model MODEL): an empty cache; the warm-up starts as the real model segments
  the photo (both share the CPU, as in the editor) and Ctrl+M comes as soon as the mask is
  there; the time from Ctrl+M.

    nice -n 5 python benchmarks/refine_cold_start.py [--image PHOTO] [--mp 6] [--skip-before]

Every figure is wall time and CPU time of all the process's threads (the background compile
included); the ratios divide by the warm refine's.

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


def child(rgb_file: str, mask_file: str, variant: str, model_s: float) -> None:
    import threading

    import numpy as np

    rgb, mask = np.load(rgb_file), np.load(mask_file)
    start, cpu_start = time.perf_counter(), time.process_time()
    from bgeraser_gui.core.matting import refine, warm_up

    if variant == "pymatting-kernels":  # before core/matting_kernels.py
        from bgeraser_gui.core import foreground, matting
        from bgeraser_gui.core.kernel_cache import pymatting_part

        matting.ichol = pymatting_part("preconditioner.ichol").ichol
        foreground.estimate_foreground_ml = pymatting_part(
            "foreground.estimate_foreground_ml"
        ).estimate_foreground_ml

    if model_s > 0:  # the editor: warm-up in the background while the model runs
        threading.Thread(target=warm_up, daemon=True).start()
        time.sleep(model_s)
        start, cpu_start = time.perf_counter(), time.process_time()
    if variant.startswith("model:"):  # the editor, with the real model run sharing the CPU
        from bgeraser_gui.backends.loader import load_backend

        threading.Thread(target=warm_up, daemon=True).start()
        load_backend(variant.removeprefix("model:")).predict(rgb)
        start, cpu_start = time.perf_counter(), time.process_time()

    if variant == "whole-pymatting":
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
    rgb_file: Path, mask_file: Path, cache_dir: str, variant: str = "now", model_s: float = 0.0
) -> dict:
    env = dict(os.environ, NUMBA_CACHE_DIR=cache_dir)
    extra = ["--variant", variant, "--model-seconds", str(model_s)]
    out = subprocess.run(
        [sys.executable, __file__, "--child", str(rgb_file), str(mask_file), *extra],
        env=env,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return json.loads(out.strip().splitlines()[-1])


def cold_run(rgb_file: Path, mask_file: Path, variant: str) -> dict:
    with tempfile.TemporaryDirectory(prefix="numba-cold-") as cache_dir:
        return run_child(rgb_file, mask_file, cache_dir, variant)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--image", type=Path, default=DEFAULT_IMAGE)
    parser.add_argument("--mp", type=int, default=6)
    parser.add_argument("--child", nargs=2, metavar=("RGB_NPY", "MASK_NPY"))
    parser.add_argument("--variant", default="now", help=argparse.SUPPRESS)
    parser.add_argument("--skip-before", action="store_true",
                        help="skip the run with pymatting's kernels")  # fmt: skip
    parser.add_argument("--whole-pymatting-too", action="store_true",
                        help="also the old `import pymatting` run (minutes)")  # fmt: skip
    parser.add_argument("--model-seconds", type=float, default=0.0, metavar="S",
                        help="also measure app-like: warm-up runs S s before Ctrl+M")  # fmt: skip
    parser.add_argument("--app-model", default="", metavar="MODEL",
                        help="also measure the editor: the warm-up runs while this model "
                        "segments the photo (sharing the CPU), then Ctrl+M")  # fmt: skip
    args = parser.parse_args()
    if args.child:
        child(*args.child, args.variant, args.model_seconds)
        return
    rgb_file, mask_file = prepare(args.image, args.mp)
    with tempfile.TemporaryDirectory(prefix="numba-cold-") as cache_dir:
        cold = run_child(rgb_file, mask_file, cache_dir)
        cache_warm = run_child(rgb_file, mask_file, cache_dir)
    before = None if args.skip_before else cold_run(rgb_file, mask_file, "pymatting-kernels")
    whole = cold_run(rgb_file, mask_file, "whole-pymatting") if args.whole_pymatting_too else None
    app_like = None
    if args.model_seconds > 0:
        with tempfile.TemporaryDirectory(prefix="numba-cold-") as cache_dir:
            app_like = run_child(rgb_file, mask_file, cache_dir, model_s=args.model_seconds)
    editor = None
    if args.app_model:
        editor = cold_run(rgb_file, mask_file, f"model:{args.app_model}")
    warm, warm_cpu = cache_warm["second_s"], cache_warm["second_cpu_s"]

    def line(label: str, run: dict, key: str = "first") -> None:
        wall, cpu = run[f"{key}_s"], run[f"{key}_cpu_s"]
        print(f"  {label:<52} {wall:6.1f} s wall {wall / warm:5.2f}x   "
              f"{cpu:6.1f} s CPU {cpu / warm_cpu:5.2f}x")  # fmt: skip

    print(f"{args.image.name} at {args.mp} MP (ratios: / warm refine)")
    line("warm refine (second in a process)", cache_warm, "second")
    line("cold first refine (empty numba cache)", cold)
    line("cache-warm first refine (new process, filled cache)", cache_warm)
    if before is not None:
        line("cold first refine, pymatting's kernels (before)", before)
    if whole is not None:
        line("cold first refine, whole pymatting imported (older)", whole)
    if app_like is not None:
        line(f"app-like: empty cache, Ctrl+M {args.model_seconds:.0f} s after start", app_like)
    if editor is not None:
        line("editor: empty cache, Ctrl+M right after the model's mask", editor)
    print(f"  cold / warm = {cold['first_s'] / warm:.2f}x wall, "
          f"{cold['first_cpu_s'] / warm_cpu:.2f}x CPU (target <= 2x)")  # fmt: skip


if __name__ == "__main__":
    main()
