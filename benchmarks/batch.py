"""Throughput of `bgeraser-cli batch` vs `rembg p`, side by side, same photos and ISNet weights.

Variants: rembg p (its `dis_custom` session on the same file, no alpha matting), ours with
`--quality fast --no-refine`, ours with the default settings (flip averaging and refinement
on); `--compare-src DIR` adds both of ours from another checkout (before/after in one run),
`--rembg-mode` adds `--quality rembg --no-refine` and says how exactly it matches rembg.

Interleaved: the photos are split into `--chunks` groups; each group runs every variant once,
in a rotating order, so a machine whose load changes slows all of them alike. Per variant the
wall and CPU seconds (user + system of the tool's process tree, from wait4) are summed over
the groups; images/min and the ratios to rembg come from those sums.

    /work/notes/heavy python benchmarks/batch.py --count 50 --chunks 2 \\
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
FAST = ["--quality", "fast", "--no-refine"]
REMBG = "rembg p"


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
    """Mean |alpha difference|, IoU at 0.5, the largest difference (in 1/255) and the share
    of pixels whose 8-bit alpha is identical, over the photos both wrote."""
    mads, ious, equal, worst = [], [], [], 0
    for stem in sorted(set(ours) & set(theirs)):
        a, b = alpha_of(ours[stem]), alpha_of(theirs[stem])
        if a.shape != b.shape:
            continue
        mads.append(float(np.abs(a - b).mean()))
        fa, fb = a >= 0.5, b >= 0.5
        union = np.count_nonzero(fa | fb)
        ious.append(np.count_nonzero(fa & fb) / union if union else 1.0)
        steps = np.abs(np.rint(a * 255) - np.rint(b * 255))
        equal.append(float(np.mean(steps == 0)))
        worst = max(worst, int(steps.max()))
    if not mads:
        return {"compared": 0}
    return {
        "compared": len(mads),
        "mean_abs_alpha_diff": round(float(np.mean(mads)), 4),
        "mean_iou": round(float(np.mean(ious)), 4),
        "max_diff_255": worst,
        "identical_pixels_min": round(min(equal), 4),
    }


def ours_command() -> list[str]:
    """The `bgeraser-cli` console script of this environment (what users run)."""
    script = Path(sys.executable).with_name("bgeraser-cli")
    return [str(script)] if script.exists() else [sys.executable, "-m", "bgeraser_gui.cli"]


def rembg_setup(model: Path, tmp: Path) -> tuple[dict, str]:
    """(environment, `-x` extras) for rembg's `dis_custom` session on `model`: rembg only
    loads custom models from inside its home folder, so the file is linked there."""
    rembg_home = tmp / "rembg_home"
    rembg_home.mkdir()
    (rembg_home / model.name).symlink_to(model.resolve())
    rembg_env = {**os.environ, "REMBG_HOME": str(rembg_home)}
    rembg_env.pop("U2NET_HOME", None)
    return rembg_env, json.dumps({"model_path": str(rembg_home / model.name)})


def variants(args: argparse.Namespace, tmp: Path) -> dict[str, tuple]:
    """name -> (command(inputs, out_dir), environment)."""
    model = args.model
    extra = args.ours_args.split()

    def ours(*flags: str, cli: list[str] | None = None):
        def command(inputs: Path, out: Path) -> list[str]:
            base = [*(cli or ours_command()), "batch", str(inputs), "-o", str(out), "-q"]
            return [*base, "--model", str(model), *flags, *extra]

        return command

    rembg_env, extras = rembg_setup(model, tmp)

    def rembg(inputs: Path, out: Path) -> list[str]:
        return [str(args.rembg), "p", "-m", "dis_custom", "-x", extras, str(inputs), str(out)]

    here = dict(os.environ)
    found = {REMBG: (rembg, rembg_env), "ours fast --no-refine": (ours(*FAST), here)}
    found["ours default"] = (ours(), here)
    if args.compare_src is not None:  # another checkout of bgeraser (e.g. before a change)
        label = args.compare_src.name
        env = {**os.environ, "PYTHONPATH": str(args.compare_src.resolve())}
        found[f"{label} fast --no-refine"] = (ours(*FAST), env)
        found[f"{label} default"] = (ours(), env)
    if args.fit:  # the fast preset with the network input at the photo's aspect
        fit_cli = [sys.executable, str(Path(__file__).with_name("fit_cli.py"))]
        found["ours fast fit --no-refine"] = (ours(*FAST, cli=fit_cli), here)
    if args.rembg_mode:
        found["ours --quality rembg --no-refine"] = (
            ours("--quality", "rembg", "--no-refine"),
            here,
        )
    return found


def run_chunk(runs: dict, order: list[str], inputs: Path, outputs: Path) -> dict[str, dict]:
    results = {}
    for name in order:
        command, env = runs[name]
        out = outputs / name.replace(" ", "_")  # shared by the groups: count what is new
        before = len(list(out.glob("*.png"))) if out.exists() else 0
        result = run_measured(command(inputs, out), env)
        result["outputs"] = (len(list(out.glob("*.png"))) if out.exists() else 0) - before
        results[name] = result
        print(f"  {name}: {result['outputs']} images, {result['seconds']} s wall, "
              f"{result['cpu_seconds']} s CPU, exit {result['exit_code']}", flush=True)  # fmt: skip
    return results


def same_files(outputs: Path, first: str, second: str) -> str:
    """'k of n': how many photos both variants wrote with the very same pixels."""
    mine = outputs_by_stem(outputs / first.replace(" ", "_"))
    theirs = outputs_by_stem(outputs / second.replace(" ", "_"))
    both = sorted(set(mine) & set(theirs))
    same = sum(same_pixels(mine[stem], theirs[stem]) for stem in both)
    return f"{same} of {len(both)}"


def same_pixels(a: Path, b: Path) -> bool:
    with Image.open(a) as first, Image.open(b) as second:
        return first.size == second.size and np.array_equal(np.asarray(first), np.asarray(second))


def outputs_by_stem(folder: Path) -> dict[str, Path]:
    return {p.stem.removesuffix("_cutout"): p for p in folder.glob("*.png")}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--images", type=Path, default=DEFAULT_IMAGES)
    parser.add_argument("--count", type=int, default=50)
    parser.add_argument("--every", type=int, default=1, help="take every Nth photo")
    parser.add_argument("--chunks", type=int, default=2, help="groups run in rotating order")
    parser.add_argument("--model", type=Path, default=DEFAULT_MODEL)
    parser.add_argument("--rembg", type=Path, default=DEFAULT_REMBG, help="rembg executable")
    parser.add_argument("--only", default=None, help="comma-separated variant names to run")
    parser.add_argument("--rembg-mode", action="store_true", help="add --quality rembg")
    parser.add_argument("--compare-src", type=Path, default=None, help="another checkout")
    parser.add_argument("--fit", action="store_true", help="add fast with the 'fit' input")
    parser.add_argument("--ours-args", default="", help="extra batch arguments for ours")
    parser.add_argument("--json", type=Path, default=None, help="also write results here")
    parser.add_argument("--keep", type=Path, default=None, help="copy all outputs here")
    args = parser.parse_args(argv)

    found = sorted(p for p in args.images.iterdir() if p.suffix.lower() in EXTENSIONS)
    images = found[:: args.every][: args.count]
    for needed in (args.model, args.rembg):
        if not needed.exists():
            print(f"missing: {needed}", file=sys.stderr)
            return 2

    with tempfile.TemporaryDirectory(prefix="bgeraser-bench-batch-") as tmp:
        tmp = Path(tmp)
        runs = variants(args, tmp)
        if args.only:
            wanted = {REMBG, *args.only.split(",")}
            runs = {name: run for name, run in runs.items() if name in wanted}
        names = list(runs)
        chunks = [images[i :: args.chunks] for i in range(args.chunks)]
        load_before = os.getloadavg()
        per_chunk = []
        for index, chunk in enumerate(chunks):
            inputs = tmp / f"in{index}"
            inputs.mkdir()
            for image in chunk:  # every tool reads the very same files
                (inputs / image.name).symlink_to(image.resolve())
            order = names[index % len(names) :] + names[: index % len(names)]
            print(f"group {index + 1}/{len(chunks)}: {len(chunk)} photos", flush=True)
            per_chunk.append(run_chunk(runs, order, inputs, tmp / "out"))
        load_after = os.getloadavg()
        identical: dict[str, str] = {}
        agreement = {
            name: compare_outputs(
                outputs_by_stem(tmp / "out" / name.replace(" ", "_")),
                outputs_by_stem(tmp / "out" / REMBG.replace(" ", "_")),
            )
            for name in names
            if name != REMBG
        }
        if args.compare_src is not None:  # did the change alter what the tool writes?
            for mode in ("default", "fast --no-refine"):
                mine, theirs = f"ours {mode}", f"{args.compare_src.name} {mode}"
                if mine in runs and theirs in runs:
                    identical[mode] = same_files(tmp / "out", mine, theirs)
        if args.keep is not None:
            shutil.copytree(tmp / "out", args.keep, dirs_exist_ok=True)

    summary = {}
    for name in names:
        rows = [chunk[name] for chunk in per_chunk]
        wall = sum(r["seconds"] for r in rows)
        cpu = sum(r["cpu_seconds"] for r in rows)
        written = sum(r["outputs"] for r in rows)
        summary[name] = {
            "images": written,
            "wall_s": round(wall, 2),
            "cpu_s": round(cpu, 2),
            "images_per_min": round(60.0 * written / wall, 2),
            "cpu_s_per_image": round(cpu / max(written, 1), 3),
            "peak_rss_mib": max(r["peak_rss_mib"] for r in rows),
            "exit_codes": sorted({r["exit_code"] for r in rows}),
        }
    base = summary[REMBG]
    print(f"\n{len(images)} photos from {args.images} in {args.chunks} interleaved groups, "
          f"{args.model.name}, load average {load_before[0]:.1f} -> {load_after[0]:.1f} "
          f"(15 min: {load_before[2]:.1f} -> {load_after[2]:.1f}), {os.cpu_count()} CPUs")  # fmt: skip
    print("| variant | images | wall s | CPU s | images/min | CPU s/image | "
          "throughput / rembg | CPU / rembg | peak RSS MiB | exit |")  # fmt: skip
    print("|---|---|---|---|---|---|---|---|---|---|")
    for name, row in summary.items():
        row["throughput_ratio"] = round(row["images_per_min"] / base["images_per_min"], 3)
        row["cpu_ratio"] = round(row["cpu_s"] / max(base["cpu_s"], 1e-9), 3)
        print(
            f"| {name} | {row['images']} | {row['wall_s']} | {row['cpu_s']} | "
            f"{row['images_per_min']} | {row['cpu_s_per_image']} | {row['throughput_ratio']} | "
            f"{row['cpu_ratio']} | {row['peak_rss_mib']} | {row['exit_codes']} |"
        )
    for name, agree in agreement.items():
        print(f"alpha vs rembg, {name}: {agree}")
    for mode, same in identical.items():
        print(f"ours {mode} vs {args.compare_src.name}: {same} pixel-identical")
    if args.json:
        results = {"summary": summary, "groups": per_chunk, "agreement": agreement}
        results["identical_to_compare_src"] = identical
        results["load_average"] = {"before": load_before, "after": load_after}
        args.json.write_text(json.dumps(results, indent=2))
    failed = [name for name, row in summary.items() if row["exit_codes"] != [0]]
    for name in failed:
        print(f"{name} failed: {per_chunk[-1][name]['stderr_tail']}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
