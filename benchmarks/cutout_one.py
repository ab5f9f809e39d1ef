"""One photo, process start to file: `bgeraser-cli cutout` (default and `--quality fast
--no-refine`) vs `rembg i`, side by side, same photo and ISNet weights (issue 20).

Each round runs every variant once, in a rotating order (interleaved, so a busy machine slows
all of them alike); after one unmeasured warm-up round (disk cache, numba cache) it reports the
median wall and CPU seconds (user + system, of the process and its children) over the rounds
and the ratio of the medians to rembg's. rembg runs its `dis_custom` session on the same file,
without alpha matting.

    nice -n 10 python benchmarks/cutout_one.py --rounds 3 \\
        --model /work/models-cache/isnet_medium_fp16.onnx --rembg /work/venv-rembg/bin/rembg

`--torch` adds `fast --no-refine --runtime torch` (the other runtime, to see which is faster
for one photo on this machine); `--compare-src DIR` adds both modes of the bgeraser package in
DIR (an older checkout: before/after in one run). rembg must live in its own environment.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from batch import (  # noqa: E402
    DEFAULT_MODEL,
    DEFAULT_REMBG,
    REPO,
    ours_command,
    rembg_setup,
    run_measured,
    same_pixels,
)

DEFAULT_PHOTO = REPO.parent / "shared" / "perf" / "alpaca_650x434.jpg"
FAST = ["--quality", "fast", "--no-refine"]


def variants(args: argparse.Namespace, tmp: Path) -> dict[str, tuple[list[str], dict, Path]]:
    """name -> (command, environment, output file it must write)."""
    photo, model = args.photo, args.model

    def ours(folder: str, *extra: str, cli: list[str] | None = None) -> list[str]:
        out = str(tmp / folder)
        command = [*(cli or ours_command()), "cutout", str(photo), "-o", out, "-q"]
        command += ["--model", str(model)]
        return [*command, "--existing", "overwrite", *extra]

    def written(folder: str) -> Path:
        return tmp / folder / f"{photo.stem}_cutout.png"

    rembg_env, extras = rembg_setup(model, tmp)
    rembg_out = tmp / "rembg.png"
    found = {
        "ours default": (ours("default"), dict(os.environ), written("default")),
        "ours fast --no-refine": (ours("fast", *FAST), dict(os.environ), written("fast")),
        "rembg i": (
            [str(args.rembg), "i", "-m", "dis_custom", "-x", extras, str(photo), str(rembg_out)],
            rembg_env,
            rembg_out,
        ),
    }
    if args.compare_src is not None:  # another checkout of bgeraser (e.g. before a change)
        label = args.compare_src.name
        env = {**os.environ, "PYTHONPATH": str(args.compare_src.resolve())}
        found[f"{label} default"] = (ours("src-default"), env, written("src-default"))
        found[f"{label} fast --no-refine"] = (ours("src-fast", *FAST), env, written("src-fast"))
    if args.fit:  # the fast preset with the network input at the photo's aspect
        fit_cli = [sys.executable, str(Path(__file__).with_name("fit_cli.py"))]
        fit_fast = ours("fit-fast", *FAST, cli=fit_cli)
        found["ours fast fit --no-refine"] = (fit_fast, dict(os.environ), written("fit-fast"))
    if args.torch:
        torch_fast = ours("torch-fast", *FAST, "--runtime", "torch")
        found["ours fast --no-refine torch"] = (torch_fast, dict(os.environ), written("torch-fast"))
    return found


def measure_round(runs: dict, order: list[str]) -> dict[str, dict]:
    results = {}
    for name in order:
        command, env, output = runs[name]
        output.unlink(missing_ok=True)
        result = run_measured(command, env)
        if result["exit_code"] != 0 or not output.is_file():
            raise RuntimeError(f"{name} failed ({result['exit_code']}): {result['stderr_tail']}")
        results[name] = result
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--photo", type=Path, default=DEFAULT_PHOTO)
    parser.add_argument("--model", type=Path, default=DEFAULT_MODEL)
    parser.add_argument("--rembg", type=Path, default=DEFAULT_REMBG, help="rembg executable")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--torch", action="store_true", help="also time the torch runtime")
    parser.add_argument("--fit", action="store_true", help="also time fast with the 'fit' input")
    parser.add_argument(
        "--compare-src",
        type=Path,
        default=None,
        help="also time the bgeraser package found in this folder (e.g. an older checkout)",
    )
    parser.add_argument("--json", type=Path, default=None, help="also write results here")
    args = parser.parse_args(argv)
    for needed in (args.photo, args.model, args.rembg):
        if not needed.exists():
            print(f"missing: {needed}", file=sys.stderr)
            return 2

    with tempfile.TemporaryDirectory(prefix="bgeraser-bench-one-") as tmp:
        runs = variants(args, Path(tmp))
        names = list(runs)
        load_before = os.getloadavg()[0]
        measure_round(runs, names)  # warm-up: disk cache, numba cache, model hash check
        rounds = []
        for index in range(args.rounds):
            order = names[index % len(names) :] + names[: index % len(names)]
            rounds.append(measure_round(runs, order))
            print(f"round {index + 1}: " + ", ".join(
                f"{n} {rounds[-1][n]['seconds']:.2f} s" for n in names
            ), flush=True)  # fmt: skip
        load_after = os.getloadavg()[0]
        identical = {}
        if args.compare_src is not None:  # same pixels before and after?
            for mode in ("default", "fast --no-refine"):
                mine, theirs = runs[f"ours {mode}"][2], runs[f"{args.compare_src.name} {mode}"][2]
                identical[mode] = same_pixels(mine, theirs)

    summary = {}
    for name in names:
        summary[name] = {
            "median_wall_s": statistics.median(r[name]["seconds"] for r in rounds),
            "median_cpu_s": statistics.median(r[name]["cpu_seconds"] for r in rounds),
            "peak_rss_mib": max(r[name]["peak_rss_mib"] for r in rounds),
        }
    base = summary["rembg i"]
    print(f"\n{args.photo.name}, {args.model.name}, {args.rounds} interleaved rounds "
          f"(load average {load_before:.1f} -> {load_after:.1f})")  # fmt: skip
    print(f"{'variant':30s} {'wall s':>7s} {'CPU s':>7s} {'wall/rembg':>10s} {'CPU/rembg':>9s}")
    for name, row in summary.items():
        row["wall_ratio_to_rembg"] = round(row["median_wall_s"] / base["median_wall_s"], 3)
        row["cpu_ratio_to_rembg"] = round(row["median_cpu_s"] / base["median_cpu_s"], 3)
        print(
            f"{name:30s} {row['median_wall_s']:7.2f} {row['median_cpu_s']:7.2f} "
            f"{row['wall_ratio_to_rembg']:10.3f} {row['cpu_ratio_to_rembg']:9.3f}"
        )
    for mode, same in identical.items():
        print(f"{mode}: output {'identical to' if same else 'DIFFERS from'} {args.compare_src}")
    if args.json:
        results = {"summary": summary, "rounds": rounds, "identical": identical}
        args.json.write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
