"""Test helper: run `bgeraser-cli serve` for real, in a subprocess on a free loopback port; and
a backend that holds the GIL like a numba stage (the server's worker processes import this)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
from batch_fakes import EllipseBackend

TESTS = Path(__file__).resolve().parent
FAKE = ["--backend-factory", "batch_fakes:make_backend"]
SLOW = ["--backend-factory", "batch_fakes:make_slow_backend"]
GIL = ["--backend-factory", "serve_process:make_gil_backend"]
GIL_SECONDS_ENV = "BGERASER_TEST_GIL_S"
CRASH = ["--backend-factory", "serve_process:make_crashing_backend"]
CRASH_MARKER_ENV = "BGERASER_TEST_CRASH_MARKER"


def hold_gil(seconds: float) -> None:
    """Keep the GIL for about `seconds` in one C call, as a numba stage without nogil does: the
    builtin sum over a range runs no bytecode, so no other thread of the process runs meanwhile
    (its length is measured on a short run first)."""
    probe = 1_000_000
    started = time.perf_counter()
    sum(range(probe))
    per_item = max(time.perf_counter() - started, 1e-9) / probe
    sum(range(int(seconds / per_item)))


class GilBackend(EllipseBackend):
    """EllipseBackend that first holds the GIL for `seconds` without polling the cancel token."""

    name = "fake-gil"

    def __init__(self, seconds: float) -> None:
        super().__init__()
        self.seconds = seconds

    def predict(self, rgb, progress=None, cancel=None):
        hold_gil(self.seconds)
        return super().predict(rgb, progress, cancel)


def make_gil_backend() -> GilBackend:
    """Backend factory: seconds of GIL per image from GIL_SECONDS_ENV (default 1)."""
    return GilBackend(float(os.environ.get(GIL_SECONDS_ENV, "1.0")))


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Server:
    """A started server; `client` talks to it (with the API key when one was given)."""

    def __init__(
        self,
        args: list[str],
        log: Path,
        env: dict | None = None,
        key: str | None = None,
        own_group: bool = False,  # a process group of its own, to signal as systemd does
    ):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = log
        command = [sys.executable, "-m", "bgeraser_gui.cli", "serve", "--port", str(self.port)]
        environment = {**os.environ, **(env or {})}
        environment["PYTHONPATH"] = os.pathsep.join(
            p for p in (str(TESTS), environment.get("PYTHONPATH", "")) if p
        )
        with open(log, "wb") as out:
            self.process = subprocess.Popen(
                [*command, *args],
                stdout=out,
                stderr=subprocess.STDOUT,
                env=environment,
                start_new_session=own_group,
            )
        headers = {"X-Api-Key": key} if key else {}
        self.client = httpx.Client(base_url=self.url, headers=headers, timeout=120)

    def wait_ready(self, timeout_s: float = 300) -> Server:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited ({self.process.returncode}):\n{self.output()}")
            try:
                if self.client.get("/health", timeout=2).status_code == 200:
                    return self
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"server not ready in {timeout_s} s:\n{self.output()}")

    def output(self) -> str:
        return self.log.read_text(errors="replace")[-4000:]

    def stop(self, timeout_s: float = 60) -> int:
        """SIGTERM (a graceful shutdown) and the exit code."""
        self.client.close()
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout_s)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self.process.returncode


def start_server(
    tmp_path: Path, args: list[str], env=None, key=None, name="server", own_group=False
) -> Server:
    return Server(args, tmp_path / f"{name}.log", env, key, own_group).wait_ready()


class CrashingBackend(EllipseBackend):
    """EllipseBackend whose process dies (as in a native crash) on the first image it is sent,
    then works: the marker file says the crash happened."""

    name = "fake-crash"

    def __init__(self, marker: Path) -> None:
        super().__init__()
        self.marker = marker

    def predict(self, rgb, progress=None, cancel=None):
        if not self.marker.exists():
            self.marker.touch()
            os._exit(70)
        return super().predict(rgb, progress, cancel)


def make_crashing_backend() -> CrashingBackend:
    return CrashingBackend(Path(os.environ[CRASH_MARKER_ENV]))
