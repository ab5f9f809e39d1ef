"""Prometheus text metrics of the server: requests by route and status, latency histograms,
queue length, running jobs and the process's resident memory.

`MetricsMiddleware` (outermost, so refused requests count too) records every request;
`Metrics.render(pool)` writes the text format (version 0.0.4) that `GET /metrics` serves.
"""

from __future__ import annotations

import bisect
import os
import resource
import sys
import threading
import time
from collections import defaultdict

LATENCY_BUCKETS_S = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0)
OTHER_ROUTE = "other"  # unknown paths share one label: scanners cannot blow up the series


def rss_bytes(pid: int | str = "self") -> int:
    """Resident memory of process `pid` now (Linux: /proc; elsewhere: this process's peak, and
    0 for another process)."""
    try:
        with open(f"/proc/{pid}/statm") as handle:
            return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        if pid != "self":
            return 0
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return peak if sys.platform == "darwin" else peak * 1024


class Metrics:
    """Thread-safe counters and histograms; `routes` are the label values allowed."""

    def __init__(self, routes: tuple[str, ...]) -> None:
        self.routes = frozenset(routes)
        self._lock = threading.Lock()
        self._requests: dict[tuple[str, str, int], int] = defaultdict(int)
        self._buckets: dict[str, list[int]] = {}
        self._sums: dict[str, float] = defaultdict(float)
        self._counts: dict[str, int] = defaultdict(int)
        self.started = time.time()

    def route_label(self, path: str) -> str:
        return path if path in self.routes else OTHER_ROUTE

    def observe(self, method: str, path: str, status: int, seconds: float) -> None:
        route = self.route_label(path)
        with self._lock:
            self._requests[(route, method, status)] += 1
            buckets = self._buckets.setdefault(route, [0] * len(LATENCY_BUCKETS_S))
            index = bisect.bisect_left(LATENCY_BUCKETS_S, seconds)
            if index < len(buckets):
                buckets[index] += 1
            self._sums[route] += seconds
            self._counts[route] += 1

    def render(self, pool) -> str:
        lines = [
            "# HELP bgeraser_requests_total HTTP requests by route, method and status.",
            "# TYPE bgeraser_requests_total counter",
        ]
        with self._lock:
            for (route, method, status), count in sorted(self._requests.items()):
                labels = f'route="{route}",method="{method}",status="{status}"'
                lines.append(f"bgeraser_requests_total{{{labels}}} {count}")
            lines += [
                "# HELP bgeraser_request_seconds Time from request to response, by route.",
                "# TYPE bgeraser_request_seconds histogram",
            ]
            for route, buckets in sorted(self._buckets.items()):
                cumulative = 0
                for bound, count in zip(LATENCY_BUCKETS_S, buckets, strict=True):
                    cumulative += count
                    lines.append(
                        f'bgeraser_request_seconds_bucket{{route="{route}",le="{bound}"}} '
                        f"{cumulative}"
                    )
                total = self._counts[route]
                lines.append(
                    f'bgeraser_request_seconds_bucket{{route="{route}",le="+Inf"}} {total}'
                )
                lines.append(
                    f'bgeraser_request_seconds_sum{{route="{route}"}} {self._sums[route]:.6f}'
                )
                lines.append(f'bgeraser_request_seconds_count{{route="{route}"}} {total}')
        gauges = (
            ("queue_length", "Jobs waiting for a worker.", pool.queue_length),
            ("jobs_running", "Jobs a worker is running now.", pool.busy),
            ("queue_capacity", "Waiting jobs accepted before answering 503.", pool.max_queue),
            ("workers", "Worker processes, each with a loaded pipeline.", pool.workers),
            ("worker_restarts", "Worker processes replaced (died or stuck).", pool.restarts),
            ("resident_memory_bytes", "Resident memory (RSS) of the HTTP process.", rss_bytes()),
            (
                "workers_resident_memory_bytes",
                "Resident memory (RSS) of the worker processes together.",
                sum(rss_bytes(pid) for pid in pool.worker_pids()),
            ),
            ("uptime_seconds", "Seconds since the server started.", time.time() - self.started),
        )
        for name, help_text, value in gauges:
            lines += [
                f"# HELP bgeraser_{name} {help_text}",
                f"# TYPE bgeraser_{name} gauge",
                f"bgeraser_{name} {value:g}"
                if isinstance(value, float)
                else f"bgeraser_{name} {value}",
            ]
        return "\n".join(lines) + "\n"


class MetricsMiddleware:
    """Pure ASGI middleware: times every HTTP request and records its status."""

    def __init__(self, app, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_recording(message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_recording)
        finally:
            elapsed = time.perf_counter() - started
            self.metrics.observe(scope["method"], scope["path"], status, elapsed)
