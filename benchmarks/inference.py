"""Latency and peak memory per model: torch (each precision mode) vs ONNX Runtime, same file.

    python benchmarks/inference.py [--models-dir DIR ...] [--repeats 3] [--big]

Models: every .onnx file in the --models-dir folders (default ../models-cache, the ISNet files of
get-isnet.sh, and ../models-extra, the real U²-Net / U²-Netp files named in models/README.md).

Every configuration runs in its own subprocess so peak RSS is its own. Printed per row: median
wall seconds per inference at the model's input size (after a warm-up), process CPU seconds per
inference, the ratio to ONNX Runtime, peak RSS, and the mask IoU against torch fp32 on the same
photo.
--big also segments a 24 MP photo (the 6 MP bike photo upscaled) end to end and reports its RSS.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
PHOTO = REPO.parent / "shared" / "perf" / "bike_3000x2000.jpg"


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def child(args: argparse.Namespace) -> None:
    """Runs inside the subprocess: one model, one runtime/precision."""
    from PIL import Image

    from bgeraser_gui.backends.loader import load_backend
    from bgeraser_gui.backends.model_io import network_input
    from bgeraser_gui.backends.segmenter import RAW

    started = time.perf_counter()
    backend = load_backend(args.model, runtime=args.runtime, precision=args.precision, options=RAW)
    load_s = time.perf_counter() - started
    rgb = np.asarray(Image.open(args.photo).convert("RGB"))
    result: dict = {"load_s": round(load_s, 2), "device": backend.device}
    if args.big:
        import cv2

        big = cv2.resize(rgb, (6000, 4000), interpolation=cv2.INTER_CUBIC)
        del rgb
        before = _peak_rss_mb()
        started = time.perf_counter()
        mask = backend.predict(big)
        result.update(
            big_shape=list(mask.shape),
            big_s=round(time.perf_counter() - started, 2),
            rss_before_mb=round(before, 1),
        )
    else:
        batch = network_input(rgb, backend.spec)
        backend.warm_up()
        walls, cpus = [], []
        for _ in range(args.repeats):
            wall, cpu = time.perf_counter(), time.process_time()
            out = backend._run(batch)[0]
            walls.append(time.perf_counter() - wall)
            cpus.append(time.process_time() - cpu)
        np.save(args.save, out)
        result.update(wall_s=statistics.median(walls), cpu_s=statistics.median(cpus))
    result["peak_rss_mb"] = round(_peak_rss_mb(), 1)
    print("RESULT " + json.dumps(result), flush=True)


def run_child(model: Path, runtime: str, precision: str, repeats: int, big: bool, save: Path):
    command = [
        sys.executable,
        __file__,
        "--child",
        "--model",
        str(model),
        "--runtime",
        runtime,
        "--precision",
        precision,
        "--repeats",
        str(repeats),
        "--save",
        str(save),
        "--photo",
        str(PHOTO),
    ] + (["--big"] if big else [])
    proc = subprocess.run(command, capture_output=True, text=True, timeout=1800)
    for line in proc.stdout.splitlines():
        if line.startswith("RESULT "):
            return json.loads(line[7:])
    return {"error": (proc.stderr.strip().splitlines() or ["no output"])[-1]}


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    pa, pb = a >= 0.5, b >= 0.5
    union = np.count_nonzero(pa | pb)
    return 1.0 if union == 0 else np.count_nonzero(pa & pb) / union


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--models-dir",
        type=Path,
        nargs="+",
        default=[REPO.parent / "models-cache", REPO.parent / "models-extra"],
    )
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--big", action="store_true", help="also segment a 24 MP photo")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--model", help=argparse.SUPPRESS)
    parser.add_argument("--runtime", default="torch", help=argparse.SUPPRESS)
    parser.add_argument("--precision", default="auto", help=argparse.SUPPRESS)
    parser.add_argument("--save", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--photo", type=Path, default=PHOTO, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child(args)
        return 0
    from bgeraser_gui.backends.device import cpu_has_bf16_matmul, cpu_thread_count

    models = [model for folder in args.models_dir for model in sorted(folder.glob("*.onnx"))]
    modes = [("torch", "fp32"), ("torch", "channels_last")]
    if cpu_has_bf16_matmul():
        modes.append(("torch", "bf16"))
    modes.append(("onnxruntime", "auto"))
    print(
        f"threads {cpu_thread_count()}, load average {os.getloadavg()[0]:.1f}, "
        f"native bf16 {cpu_has_bf16_matmul()}, photo {PHOTO.name} -> each model's input size"
    )
    print(
        f"{'model':28} {'runtime':12} {'mode':14} {'wall s':>7} {'cpu s':>7} {'vs ORT':>7} "
        f"{'RSS MB':>7} {'IoU/fp32':>9}"
    )
    with tempfile.TemporaryDirectory() as folder:
        for model in models:
            rows = {}
            for runtime, precision in modes:
                if runtime == "torch" and "quint8" in model.name and precision != "fp32":
                    continue  # dequantised weights: one torch row is enough
                save = Path(folder) / f"{model.stem}-{runtime}-{precision}.npy"
                rows[(runtime, precision)] = (
                    run_child(model, runtime, precision, args.repeats, False, save),
                    save,
                )
            ort = rows.get(("onnxruntime", "auto"), ({}, None))[0].get("wall_s")
            reference = rows.get(("torch", "fp32"), ({}, None))[1]
            for (runtime, precision), (result, save) in rows.items():
                if "error" in result:
                    print(f"{model.name:28} {runtime:12} {precision:14} error: {result['error']}")
                    continue
                ratio = f"{result['wall_s'] / ort:7.2f}" if ort else "    n/a"
                agreement = (
                    f"{_iou(np.load(save), np.load(reference)):9.5f}"
                    if reference is not None and reference.exists()
                    else "      n/a"
                )
                print(
                    f"{model.name:28} {runtime:12} {precision:14} {result['wall_s']:7.2f} "
                    f"{result['cpu_s']:7.2f} {ratio} {result['peak_rss_mb']:7.0f} {agreement}",
                    flush=True,
                )
        if args.big:
            for model in models[:1]:
                for runtime in ("torch", "onnxruntime"):
                    result = run_child(model, runtime, "auto", 1, True, Path(folder) / "big.npy")
                    print(f"24 MP photo, {model.name}, {runtime}: {json.dumps(result)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
