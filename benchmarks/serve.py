"""Load on `bgeraser-cli serve` vs `rembg s`, side by side: same photos, same ISNet file, loopback.

Each server is started in its own process, warmed up with one request, then sent `--requests`
uploads of real photos (cycling through `--images`) at each concurrency level, one level after
the other; the run stops by itself. Per level: throughput (images/min), p50/p95 latency, errors
(anything but 200), and the server's RSS after 1/6, 1/2 and all of the level's requests (so
50/150/300 with the default 300): after warm-up the RSS must not drift (a leak shows as growth).

    nice -n 10 python benchmarks/serve.py --requests 300 --concurrency 1,4,16 \\
        --model /work/models-cache/isnet_medium_fp16.onnx --rembg /work/venv-rembg/bin/rembg

bgeraser runs with its default settings (edge refinement on) and, with `--ours-args`, any of
`bgeraser-cli serve`'s flags (e.g. "--quality fast --no-refine" for rembg's amount of work);
rembg runs plain (`dis_custom` session on the same file, no alpha matting). Both servers get a
queue deep enough for the highest concurrency, so every error counts.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import socket
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import numpy as np

REPO = Path(__file__).resolve().parents[1]
DEFAULT_IMAGES = REPO.parent / "shared" / "eval" / "davis345_sub" / "images"
DEFAULT_MODEL = REPO.parent / "models-cache" / "isnet_medium_fp16.onnx"
DEFAULT_REMBG = REPO.parent / "venv-rembg" / "bin" / "rembg"
EXTENSIONS = {".jpg", ".jpeg", ".png", ".webp"}
CLIENT_TIMEOUT_S = (
    3600  # the clients wait as long as the server's --timeout: errors are the server's
)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def rss_mib(pid: int) -> float:
    """Resident memory of `pid` and its children (MiB)."""
    total = 0
    pending = [pid]
    while pending:
        current = pending.pop()
        try:
            with open(f"/proc/{current}/status") as handle:
                for line in handle:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1])
            with open(f"/proc/{current}/task/{current}/children") as handle:
                pending += [int(child) for child in handle.read().split()]
        except (OSError, ValueError):
            continue
    return round(total / 1024, 1)


class Target:
    """One server under test: how to start it and how to send it a photo."""

    def __init__(self, name: str, command: list[str], env: dict, path: str, field, params):
        # field: the multipart field of the upload; None: the photo is the raw request body
        self.name, self.command, self.env = name, command, env
        self.path, self.field, self.params = path, field, params
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen | None = None

    def start(self, log: Path, ready_s: float = 600) -> None:
        command = [*self.command, "--port", str(self.port)]
        print(f"starting {self.name}: {shlex.join(command)}", file=sys.stderr)
        with open(log, "wb") as out:
            self.process = subprocess.Popen(
                command, stdout=out, stderr=subprocess.STDOUT, env=self.env
            )
        deadline = time.monotonic() + ready_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited: {log.read_text()[-2000:]}")
            try:
                httpx.get(self.url + "/", timeout=2)
                return
            except httpx.TransportError:
                time.sleep(0.5)
        raise RuntimeError(f"{self.name} did not start in {ready_s} s")

    def send(self, client: httpx.Client, photo: Path, data: bytes) -> tuple[int, float]:
        started = time.perf_counter()
        if self.field is None:
            response = client.post(self.url + self.path, content=data, params=self.params)
        else:
            upload = {self.field: (photo.name, data)}
            query, form = self.params
            response = client.post(self.url + self.path, files=upload, data=form, params=query)
        return response.status_code, time.perf_counter() - started

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(60)
            except subprocess.TimeoutExpired:
                self.process.kill()


def run_level(target: Target, photos: list[tuple[Path, bytes]], requests: int, concurrency: int):
    checkpoints = sorted({max(1, requests // 6), max(1, requests // 2), requests})
    latencies: list[float] = []
    statuses: list[int] = []
    rss: dict[int, float] = {}
    lock = threading.Lock()
    counter = iter(range(requests))

    def client_loop() -> None:
        with httpx.Client(timeout=CLIENT_TIMEOUT_S) as client:
            for index in counter:  # shared iterator: each request index is taken once
                photo, data = photos[index % len(photos)]
                try:
                    status, seconds = target.send(client, photo, data)
                except httpx.HTTPError:
                    status, seconds = 0, 0.0
                with lock:
                    statuses.append(status)
                    if status == 200:
                        latencies.append(seconds)
                    if len(statuses) in checkpoints:
                        rss[len(statuses)] = rss_mib(target.process.pid)

    started = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        for future in [pool.submit(client_loop) for _ in range(concurrency)]:
            future.result()
    wall = time.perf_counter() - started
    ok = len(latencies)
    first = rss[checkpoints[0]]
    return {
        "concurrency": concurrency,
        "requests": requests,
        "ok": ok,
        "errors": requests - ok,
        "statuses": {str(k): statuses.count(k) for k in sorted(set(statuses))},  # 0: no answer
        "seconds": round(wall, 1),
        "images_per_min": round(60 * ok / wall, 2),
        "p50_s": round(float(np.percentile(latencies, 50)), 3) if ok else None,
        "p95_s": round(float(np.percentile(latencies, 95)), 3) if ok else None,
        "rss_mib": rss,
        "rss_drift_pct": round(100 * (rss[checkpoints[-1]] - first) / first, 2),
    }


def targets(args, home: Path) -> list[Target]:
    ours_cmd = [sys.executable, "-m", "bgeraser_gui.cli", "serve", "--model", str(args.model)]
    ours_cmd += ["--max-queue", str(max(args.levels) * 2), "--log-level", "warning"]
    ours_cmd += ["--timeout", "3600", *shlex.split(args.ours_args)]
    found = [Target("bgeraser", ours_cmd, dict(os.environ), "/api/remove", None, None)]
    if args.rembg is not None and args.rembg.exists():
        # rembg only loads custom models from inside its home folder: link the file there.
        (home / args.model.name).symlink_to(args.model.resolve())
        env = {**os.environ, "REMBG_HOME": str(home)}
        env.pop("U2NET_HOME", None)
        extras = json.dumps({"model_path": str(home / args.model.name)})
        command = [str(args.rembg), "s", "--no-ui", "--host", "127.0.0.1", "--log_level", "warning"]
        params = ({"extras": extras}, {"model": "dis_custom"})  # (query, form fields)
        found.append(Target("rembg", command, env, "/api/remove", "file", params))
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--images", type=Path, default=DEFAULT_IMAGES)
    parser.add_argument("--photos", type=int, default=20, help="distinct photos to cycle through")
    parser.add_argument("--requests", type=int, default=300, help="per concurrency level")
    parser.add_argument("--concurrency", default="1,4,16")
    parser.add_argument("--model", type=Path, default=DEFAULT_MODEL)
    parser.add_argument("--rembg", type=Path, default=DEFAULT_REMBG, help="rembg executable")
    parser.add_argument("--no-rembg", dest="rembg", action="store_const", const=None)
    parser.add_argument("--only", choices=("bgeraser", "rembg"), default=None, help="one server")
    parser.add_argument("--ours-args", default="", help="extra `bgeraser-cli serve` flags")
    parser.add_argument("--json", type=Path, default=None, help="also write results here")
    args = parser.parse_args(argv)
    args.levels = [int(c) for c in args.concurrency.split(",")]
    files = sorted(p for p in args.images.iterdir() if p.suffix.lower() in EXTENSIONS)
    photos = [(p, p.read_bytes()) for p in files[: args.photos]]
    results: dict[str, list] = {}
    with tempfile.TemporaryDirectory(prefix="bgeraser-bench-serve-") as tmp:
        home = Path(tmp) / "rembg_home"
        home.mkdir()
        for target in targets(args, home):
            if args.only not in (None, target.name):
                continue
            log = Path(tmp) / f"{target.name}.log"
            try:
                target.start(log)
                with httpx.Client(timeout=600) as client:  # warm-up (rembg loads lazily)
                    status, seconds = target.send(client, *photos[0])
                print(f"{target.name} warm-up: {status} in {seconds:.1f} s", file=sys.stderr)
                results[target.name] = []
                for level in args.levels:
                    result = run_level(target, photos, args.requests, level)
                    print(f"{target.name}: {result}", file=sys.stderr)
                    results[target.name].append(result)
            finally:
                target.stop()
                if any(r["errors"] for r in results.get(target.name, [])):
                    print(
                        f"{target.name} log:\n{log.read_text(errors='replace')[-3000:]}",
                        file=sys.stderr,
                    )
    print(f"\n{len(photos)} photos from {args.images}, {os.cpu_count()} CPUs, {args.model.name}")
    print(
        "| server | concurrency | requests | errors | images/min | p50 s | p95 s | RSS MiB | drift |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for name, levels in results.items():
        for r in levels:
            rss = " / ".join(f"{v:g}" for v in r["rss_mib"].values())
            failed = {k: v for k, v in r["statuses"].items() if k != "200"}
            print(
                f"| {name} | {r['concurrency']} | {r['requests']} | {r['errors']} {failed or ''} "
                f"| {r['images_per_min']} | {r['p50_s']} | {r['p95_s']} | {rss} "
                f"| {r['rss_drift_pct']} % |"
            )
    if {"bgeraser", "rembg"} <= set(results):
        for ours, theirs in zip(results["bgeraser"], results["rembg"], strict=True):
            ratio = ours["images_per_min"] / max(theirs["images_per_min"], 1e-9)
            print(f"throughput ratio ours/rembg at concurrency {ours['concurrency']}: {ratio:.2f}")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
