"""Load on `bgeraser-cli serve` vs `rembg s`, side by side: same photos, same ISNet file, loopback.

The servers' runs are interleaved (the machine may be shared: a load change hits all of them
alike): for each concurrency level in turn, each server is started in its own process, warmed up
with one request, sent `--requests` uploads of real photos (cycling through `--images`), and
stopped; the run stops by itself. Per run: throughput (images/min), p50/p95 latency, errors by
status (anything but 200; 0: no answer), the server's CPU seconds per image (its processes
together: the figure a busy shared machine does not inflate), its RSS (processes together) read
idle after `--rss-at` requests (default 1/6, 1/2 and all; the clients pause until nothing is in
flight) and sampled every `--sample-s` over time (after warm-up the idle RSS must not drift: a
leak shows as growth), and the 1-minute load average before and after. A server whose
RSS leaves less than `--min-available-gb` of the machine's memory is stopped (its run counts
the unanswered requests as errors, status 0) so the benchmark never takes the machine down.

    nice -n 10 python benchmarks/serve.py --requests 300 --concurrency 1,4,16 \\
        --model /work/models-cache/isnet_medium_fp16.onnx --rembg /work/venv-rembg/bin/rembg

bgeraser runs once per `--ours-args` (default: its default settings, edge refinement on, and
"--quality fast --no-refine", rembg's amount of work); rembg runs plain (`dis_custom` session on
the same file, no alpha matting). Every server gets a queue deep enough for the highest
concurrency, so every error counts.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import signal
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
CLIENT_TIMEOUT_S = 3600  # the clients wait as long as the server's --timeout: errors are its
SETTLE_S = 1.0  # idle time before an RSS checkpoint is read
PROGRESS_EVERY = 25  # answers between progress lines (stderr)
STOP = threading.Event()  # set by SIGTERM: no new requests; the runs so far are reported


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def process_tree(pid: int) -> list[int]:
    """`pid` and its descendants alive now (any thread's children: workers start from threads)."""
    found, pending = [], [pid]
    while pending:
        current = pending.pop()
        try:
            for thread in Path(f"/proc/{current}/task").iterdir():
                pending += [int(child) for child in (thread / "children").read_text().split()]
        except (OSError, ValueError):
            continue
        found.append(current)
    return found


def rss_mib(pid: int) -> float:
    """Resident memory of `pid` and its children (MiB)."""
    total = 0
    for current in process_tree(pid):
        try:
            with open(f"/proc/{current}/status") as handle:
                total += sum(int(line.split()[1]) for line in handle if line.startswith("VmRSS:"))
        except (OSError, ValueError):
            continue
    return round(total / 1024, 1)


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system) of `pid`, its children alive now and those it waited for."""
    ticks = 0
    for current in process_tree(pid):
        try:
            fields = Path(f"/proc/{current}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        ticks += sum(int(value) for value in fields[11:15])  # utime stime cutime cstime
    return ticks / os.sysconf("SC_CLK_TCK")


class Target:
    """One server under test: how to start it and how to send it a photo."""

    def __init__(self, name: str, command: list[str], env: dict, path: str, field, params):
        # field: the multipart field of the upload; None: the photo is the raw request body
        self.name, self.command, self.env = name, command, env
        self.path, self.field, self.params = path, field, params
        self.url = ""
        self.process: subprocess.Popen | None = None

    def start(self, log: Path, ready_s: float = 600) -> None:
        port = free_port()
        self.url = f"http://127.0.0.1:{port}"
        command = [*self.command, "--port", str(port)]
        print(f"starting {self.name}: {shlex.join(command)}", file=sys.stderr)
        with open(log, "ab") as out:
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


def available_gib() -> float:
    """The machine's available memory (MemAvailable), GiB."""
    with open("/proc/meminfo") as handle:
        for line in handle:
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) / 2**20
    return float("inf")


class RssSampler(threading.Thread):
    """Samples the server's RSS every `every_s` while a run lasts; stops the server when the
    machine's available memory falls under `floor_gib`."""

    def __init__(self, target: Target, every_s: float, floor_gib: float) -> None:
        super().__init__(daemon=True)
        self.target, self.every_s, self.floor_gib = target, every_s, floor_gib
        self.started = time.perf_counter()
        self.samples: list[tuple[float, float]] = []  # (seconds, MiB)
        self.stopped_for_memory = False
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.wait(self.every_s):
            elapsed = round(time.perf_counter() - self.started, 1)
            self.samples.append((elapsed, rss_mib(self.target.process.pid)))
            if available_gib() < self.floor_gib and not self.stopped_for_memory:
                self.stopped_for_memory = True
                print(f"{self.target.name}: machine memory low, stopping it", file=sys.stderr)
                self.target.process.kill()


def run_level(
    target: Target, photos, requests: int, concurrency: int, sampler: RssSampler, rss_at=None
):
    """Send `requests` photos from `concurrency` clients. After each count in `rss_at` (default:
    1/6, 1/2 and all of them) the clients pause until no request is in flight, and the server's
    RSS is read idle: what it keeps between requests, where a leak shows."""
    checkpoints = sorted({n for n in rss_at or () if n <= requests}) or sorted(
        {max(1, requests // 6), max(1, requests // 2), requests}
    )
    latencies: list[float] = []
    statuses: list[int] = []
    rss: dict[int, float] = {}
    gate = threading.Condition()
    state = {"in_flight": 0, "paused": False}
    counter = iter(range(requests))

    def checkpoint() -> None:  # under `gate`, by the client whose answer reached a count
        if state["paused"]:  # a checkpoint is waiting already: its reading covers this count
            return
        state["paused"] = True
        gate.wait_for(lambda: state["in_flight"] == 0)  # answers in flight arrive meanwhile
        time.sleep(SETTLE_S)  # the worker frees the job's memory after answering
        mib = rss_mib(target.process.pid)
        for count in (n for n in checkpoints if n <= len(statuses) and n not in rss):
            rss[count] = mib
            progress(f"after {count}: idle RSS {mib:g} MiB")
        state["paused"] = False
        gate.notify_all()

    def progress(what: str) -> None:
        errors = len(statuses) - len(latencies)
        elapsed = time.perf_counter() - started
        print(
            f"{target.name} c={concurrency}: {what} ({len(statuses)} answered, {errors} errors, "
            f"{elapsed:.0f} s, server CPU {cpu_seconds(target.process.pid) - cpu_before:.0f} s, "
            f"load {os.getloadavg()[0]:.1f})",
            file=sys.stderr,
            flush=True,
        )

    def client_loop() -> None:
        with httpx.Client(timeout=CLIENT_TIMEOUT_S) as client:
            for index in counter:  # shared iterator: each request index is taken once
                if STOP.is_set():
                    return
                photo, data = photos[index % len(photos)]
                with gate:
                    gate.wait_for(lambda: not state["paused"])
                    state["in_flight"] += 1
                try:
                    status, seconds = target.send(client, photo, data)
                except httpx.HTTPError:
                    status, seconds = 0, 0.0
                with gate:
                    state["in_flight"] -= 1
                    gate.notify_all()
                    statuses.append(status)
                    if status == 200:
                        latencies.append(seconds)
                    if len(statuses) in checkpoints:
                        checkpoint()
                    elif len(statuses) % PROGRESS_EVERY == 0:
                        progress("progress")

    cpu_before = cpu_seconds(target.process.pid)
    load_before = os.getloadavg()[0]
    started = time.perf_counter()
    sampler.start()
    try:
        with ThreadPoolExecutor(concurrency) as pool:
            for future in [pool.submit(client_loop) for _ in range(concurrency)]:
                future.result()
    finally:
        sampler.done.set()
    wall = time.perf_counter() - started
    cpu = cpu_seconds(target.process.pid) - cpu_before
    ok = len(latencies)
    idle = [rss[n] for n in checkpoints if n in rss]  # fewer when stopped early
    first = idle[0] if idle and idle[0] else 1.0
    return {
        "server": target.name,
        "concurrency": concurrency,
        "requests": len(statuses),  # fewer than asked when stopped early (SIGTERM)
        "stopped_early": len(statuses) < requests,
        "ok": ok,
        "errors": len(statuses) - ok,
        "statuses": {str(k): statuses.count(k) for k in sorted(set(statuses))},  # 0: no answer
        "seconds": round(wall, 1),
        "cpu_s": round(cpu, 1),  # the server's processes together, warm-up excluded
        "cpu_s_per_image": round(cpu / max(ok, 1), 2),
        "images_per_min": round(60 * ok / wall, 2),
        "p50_s": round(float(np.percentile(latencies, 50)), 3) if ok else None,
        "p95_s": round(float(np.percentile(latencies, 95)), 3) if ok else None,
        "rss_mib": rss,
        "rss_drift_pct": round(100 * (idle[-1] - first) / first, 2) if idle else None,
        "rss_over_time": sampler.samples,
        "rss_peak_mib": max((mib for _, mib in sampler.samples), default=None),
        "stopped_for_memory": sampler.stopped_for_memory,
        "load_before": round(load_before, 2),
        "load_after": round(os.getloadavg()[0], 2),
    }


def targets(args, home: Path) -> list[Target]:
    found = []
    for extra in args.ours_args:
        command = [sys.executable, "-m", "bgeraser_gui.cli", "serve", "--model", str(args.model)]
        command += ["--max-queue", str(max(args.levels) * 2), "--log-level", "warning"]
        command += ["--timeout", "3600", *shlex.split(extra)]
        name = f"bgeraser {extra}".strip()
        found.append(Target(name, command, dict(os.environ), "/api/remove", None, None))
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


def one_run(target: Target, photos, args, level: int, log: Path) -> dict:
    """Start `target`, warm it up, run one concurrency level, stop it."""
    try:
        target.start(log)
        with httpx.Client(timeout=600) as client:  # warm-up (rembg loads lazily)
            status, seconds = target.send(client, *photos[0])
        print(f"{target.name} warm-up: {status} in {seconds:.1f} s", file=sys.stderr)
        sampler = RssSampler(target, args.sample_s, args.min_available_gb)
        result = run_level(target, photos, args.requests, level, sampler, args.rss_at)
    finally:
        target.stop()
    print(f"{target.name}: {json.dumps(result)}", file=sys.stderr)
    if result["errors"]:
        print(f"{target.name} log:\n{log.read_text(errors='replace')[-3000:]}", file=sys.stderr)
    return result


def print_table(runs: list[dict], photos: int, args) -> None:
    print(f"\n{photos} photos from {args.images}, {os.cpu_count()} CPUs, {args.model.name}")
    print(
        "| server | concurrency | requests | errors | images/min | p50 s | p95 s "
        "| CPU s/image | idle RSS MiB after n requests | peak RSS | drift | load avg before/after |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for r in runs:
        rss = ", ".join(f"{n}: {v:g}" for n, v in r["rss_mib"].items())
        failed = {k: v for k, v in r["statuses"].items() if k != "200"}
        print(
            f"| {r['server']} | {r['concurrency']} | {r['requests']}"
            f"{' (stopped)' if r.get('stopped_early') else ''} | {r['errors']} "
            f"{failed or ''} | {r['images_per_min']} | {r['p50_s']} | {r['p95_s']} "
            f"| {r['cpu_s_per_image']} | {rss} "
            f"| {r['rss_peak_mib']} | {r['rss_drift_pct']} % "
            f"| {r['load_before']} / {r['load_after']} |"
        )
    by_level: dict[int, dict[str, dict]] = {}
    for r in runs:
        by_level.setdefault(r["concurrency"], {})[r["server"]] = r
    for level, servers in by_level.items():
        theirs = servers.get("rembg")
        for name, ours in servers.items():
            if theirs is not None and name != "rembg":
                ratio = ours["images_per_min"] / max(theirs["images_per_min"], 1e-9)
                print(f"throughput ratio {name} / rembg at concurrency {level}: {ratio:.2f}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--images", type=Path, default=DEFAULT_IMAGES)
    parser.add_argument("--photos", type=int, default=20, help="distinct photos to cycle through")
    parser.add_argument("--requests", type=int, default=300, help="per server and level")
    parser.add_argument("--concurrency", default="1,4,16")
    parser.add_argument("--model", type=Path, default=DEFAULT_MODEL)
    parser.add_argument("--rembg", type=Path, default=DEFAULT_REMBG, help="rembg executable")
    parser.add_argument("--no-rembg", dest="rembg", action="store_const", const=None)
    parser.add_argument("--only", default=None, help="run only the servers whose name has this")
    parser.add_argument(
        "--ours-args",
        action="append",
        default=None,
        help="`bgeraser-cli serve` flags of one bgeraser server (repeat for several; default: "
        '"" and "--quality fast --no-refine")',
    )
    parser.add_argument(
        "--rss-at",
        type=lambda text: [int(n) for n in text.split(",")],
        default=None,
        help="request counts after which the idle RSS is read (default: 1/6, 1/2, all)",
    )
    parser.add_argument("--sample-s", type=float, default=5.0, help="RSS sampling period")
    parser.add_argument("--min-available-gb", type=float, default=3.0, help="memory floor")
    parser.add_argument("--json", type=Path, default=None, help="also write results here")
    args = parser.parse_args(argv)
    # stopped from outside (timeout): no new requests; the run in progress ends when the answers
    # in flight are in, is reported like the others (requests: those answered), its server stopped
    signal.signal(signal.SIGTERM, lambda *_: STOP.set())
    args.levels = [int(c) for c in args.concurrency.split(",")]
    if args.ours_args is None:
        args.ours_args = ["", "--quality fast --no-refine"]
    files = sorted(p for p in args.images.iterdir() if p.suffix.lower() in EXTENSIONS)
    photos = [(p, p.read_bytes()) for p in files[: args.photos]]
    runs: list[dict] = []
    with tempfile.TemporaryDirectory(prefix="bgeraser-bench-serve-") as tmp:
        home = Path(tmp) / "rembg_home"
        home.mkdir()
        servers = [t for t in targets(args, home) if args.only is None or args.only in t.name]
        for level in args.levels:  # interleaved: every server at this level, then the next
            for index, target in enumerate(servers):
                if STOP.is_set():
                    break
                runs.append(one_run(target, photos, args, level, Path(tmp) / f"{index}.log"))
                if args.json:  # written as it goes: a long run interrupted keeps its results
                    args.json.write_text(json.dumps(runs, indent=2))
    print_table(runs, len(photos), args)
    return 143 if STOP.is_set() else 0


if __name__ == "__main__":
    sys.exit(main())
