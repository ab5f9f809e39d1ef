"""Throughput of `bgeraser-cli batch` vs rembg's `rembg p`, side by side, same images and weights.

Both tools run the same ISNet general-use ONNX file (rembg through its `dis_custom` session),
without alpha matting, on the same N photos, one after the other in this run. For each we
report wall time, images/minute and peak RSS (of the tool's whole process tree, from
wait4), plus how close the two masks are (mean absolute alpha difference, IoU at 0.5).

    nice -n 10 python benchmarks/batch.py --count 50 \\
        --images /work/shared/eval/davis345_sub/images \\
        --model /work/models-cache/isnet_medium_fp16.onnx --rembg /work/venv-rembg/bin/rembg

rembg must live in its own environment (it pins its own onnxruntime and numpy).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

REPO = Path(__file__).resolve().parents[1]
DEFAULT_IMAGES = REPO.parent / "shared" / "eval" / "davis345_sub" / "images"
DEFAULT_MODEL = REPO.parent / "models-cache" / "isnet_medium_fp16.onnx"
DEFAULT_REMBG = REPO.parent / "venv-rembg" / "bin" / "rembg"
EXTENSIONS = {".jpg", ".jpeg", ".png", ".webp"}


def run_measured(command: list[str], env: dict | None = None) -> dict:
    """Run `command`; wall seconds, CPU seconds (user + system), exit code and peak RSS (MiB)
    of it and its children."""
    started = time.perf_counter()
    proc = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - started
    stderr = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
    proc.returncode = os.waitstatus_to_exitcode(status)
    return {
        "seconds": round(seconds, 2),
        "cpu_seconds": round(usage.ru_utime + usage.ru_stime, 2),
        "exit_code": proc.returncode,
        "peak_rss_mib": round(usage.ru_maxrss / 1024, 1),  # Linux reports KiB
        "stderr_tail": stderr[-600:],
    }


def alpha_of(path: Path) -> np.ndarray:
    with Image.open(path) as im:
        return np.asarray(im.getchannel("A"), np.float32) / 255.0


def compare_outputs(ours: dict[str, Path], theirs: dict[str, Path]) -> dict:
    mads, ious = [], []
    for stem in sorted(set(ours) & set(theirs)):
        a, b = alpha_of(ours[stem]), alpha_of(theirs[stem])
        if a.shape != b.shape:
            continue
        mads.append(float(np.abs(a - b).mean()))
        fa, fb = a >= 0.5, b >= 0.5
        union = np.count_nonzero(fa | fb)
        ious.append(np.count_nonzero(fa & fb) / union if union else 1.0)
    return {
        "compared": len(mads),
        "mean_abs_alpha_diff": round(float(np.mean(mads)), 4) if mads else None,
        "mean_iou": round(float(np.mean(ious)), 4) if ious else None,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--images", type=Path, default=DEFAULT_IMAGES)
    parser.add_argument("--count", type=int, default=50)
    parser.add_argument("--model", type=Path, default=DEFAULT_MODEL)
    parser.add_argument("--rembg", type=Path, default=DEFAULT_REMBG, help="rembg executable")
    parser.add_argument("--workers", type=int, default=1, help="bgeraser batch --workers")
    parser.add_argument("--json", type=Path, default=None, help="also write results here")
    parser.add_argument(
        "--ours-args", default="", help="extra bgeraser-cli batch arguments, e.g. '--runtime torch'"
    )
    parser.add_argument("--keep", type=Path, default=None, help="copy both outputs here")
    args = parser.parse_args(argv)

    images = sorted(p for p in args.images.iterdir() if p.suffix.lower() in EXTENSIONS)
    images = images[: args.count]
    if len(images) < args.count:
        print(f"only {len(images)} images in {args.images}", file=sys.stderr)
    for needed in (args.model, args.rembg):
        if not needed.exists():
            print(f"missing: {needed}", file=sys.stderr)
            return 2

    with tempfile.TemporaryDirectory(prefix="bgeraser-bench-batch-") as tmp:
        tmp = Path(tmp)
        inputs = tmp / "in"
        inputs.mkdir()
        for image in images:  # both tools read the very same files
            (inputs / image.name).symlink_to(image.resolve())
        ours_out, rembg_out = tmp / "ours", tmp / "rembg"
        ours_cmd = [sys.executable, "-m", "bgeraser_gui.cli", "batch", str(inputs)]
        ours_cmd += ["-o", str(ours_out), "--model", str(args.model), "--no-refine", "-q"]
        ours_cmd += ["--workers", str(args.workers), "--report", str(tmp / "report.jsonl")]
        ours_cmd += args.ours_args.split()
        # rembg only loads custom models from inside its home folder: link the file there.
        rembg_home = tmp / "rembg_home"
        rembg_home.mkdir()
        (rembg_home / args.model.name).symlink_to(args.model.resolve())
        rembg_env = {**os.environ, "REMBG_HOME": str(rembg_home)}
        rembg_env.pop("U2NET_HOME", None)
        extras = json.dumps({"model_path": str(rembg_home / args.model.name)})
        rembg_cmd = [str(args.rembg), "p", "-m", "dis_custom", "-x", extras]
        rembg_cmd += [str(inputs), str(rembg_out)]

        results = {}
        runs = (("bgeraser", ours_cmd, None), ("rembg", rembg_cmd, rembg_env))
        for name, command, env in runs:
            print(f"running {name}: {' '.join(command)}", file=sys.stderr)
            result = run_measured(command, env)
            out_dir = ours_out if name == "bgeraser" else rembg_out
            result["outputs"] = len(list(out_dir.glob("*.png"))) if out_dir.exists() else 0
            result["images_per_min"] = round(60.0 * result["outputs"] / result["seconds"], 2)
            results[name] = result

        ours_files = {p.stem.removesuffix("_cutout"): p for p in ours_out.glob("*.png")}
        rembg_files = {p.stem: p for p in rembg_out.glob("*.png")} if rembg_out.exists() else {}
        agreement = compare_outputs(ours_files, rembg_files)
        if args.keep is not None:
            for out_dir in (ours_out, rembg_out):
                if out_dir.exists():
                    shutil.copytree(out_dir, args.keep / out_dir.name, dirs_exist_ok=True)

    ratio = results["bgeraser"]["images_per_min"] / max(results["rembg"]["images_per_min"], 1e-9)
    summary = {
        "images": len(images),
        "model": args.model.name,
        "cpu_count": os.cpu_count(),
        "results": results,
        "throughput_ratio_ours_over_rembg": round(ratio, 3),
        "mask_agreement": agreement,
    }
    print("| tool | images | seconds | images/min | peak RSS MiB | exit |")
    print("|---|---|---|---|---|---|")
    for name, r in results.items():
        print(
            f"| {name} | {r['outputs']} | {r['seconds']} | {r['images_per_min']} "
            f"| {r['peak_rss_mib']} | {r['exit_code']} |"
        )
    print(f"\nthroughput ratio (ours / rembg): {ratio:.3f}")
    print(f"mask agreement: {agreement}")
    if args.json:
        args.json.write_text(json.dumps(summary, indent=2))
    for name, r in results.items():
        if r["exit_code"] != 0:
            print(f"{name} stderr: {r['stderr_tail']}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
