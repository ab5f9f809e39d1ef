"""`bgeraser-cli serve` under pressure, against real server processes on loopback with the slow
fake backend (seconds per image, polling the cancel token like the real model): a full queue or
too many requests in progress answer 503 with Retry-After, a request past its timeout (or whose
client left) frees its worker, a worker holding the GIL for seconds stalls neither timeouts nor
/health, and a SIGTERM lets in-flight work finish (or cancels it after the grace period)."""

from __future__ import annotations

import os
import signal
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from batch_fakes import SLOW_SECONDS_ENV, write_photo
from serve_process import CRASH, CRASH_MARKER_ENV, GIL, GIL_SECONDS_ENV, SLOW, start_server

pytest.importorskip("fastapi")
pytest.importorskip("uvicorn")


@pytest.fixture(scope="module")
def photo_bytes(tmp_path_factory) -> bytes:
    return write_photo(tmp_path_factory.mktemp("in") / "p.jpg", size=(96, 64)).read_bytes()


def _slow_server(tmp_path, seconds: float, *args: str, own_group: bool = False):
    env = {SLOW_SECONDS_ENV: str(seconds)}
    return start_server(tmp_path, [*SLOW, "--no-refine", *args], env=env, own_group=own_group)


def _post(url: str, body: bytes) -> httpx.Response:
    return httpx.post(f"{url}/api/remove", content=body, timeout=60)


def _wait_until_running(server, jobs: int = 1) -> None:
    deadline = time.monotonic() + 20
    while server.client.get("/health").json()["jobs_running"] < jobs:
        assert time.monotonic() < deadline, "the job never started"
        time.sleep(0.05)


@pytest.mark.parametrize("workers, max_queue", [(1, 1), (2, 0)])
def test_full_queue_answers_503_with_retry_after(tmp_path, photo_bytes, workers, max_queue):
    limits = ["--workers", str(workers), "--max-queue", str(max_queue)]
    server = _slow_server(tmp_path, 2.0, *limits)
    try:
        with ThreadPoolExecutor(4) as pool:
            answers = list(pool.map(lambda _: _post(server.url, photo_bytes), range(4)))
        statuses = sorted(a.status_code for a in answers)
        assert statuses == [200, 200, 503, 503], [a.text[:200] for a in answers]
        for refused in (a for a in answers if a.status_code == 503):
            assert int(refused.headers["retry-after"]) >= 1
            assert refused.json()["errors"][0]["code"] == "queue_full"
        metrics = server.client.get("/metrics").text
        assert 'route="/api/remove",method="POST",status="503"} 2' in metrics
    finally:
        server.stop()


def test_too_many_requests_in_progress_answer_json_503(tmp_path, photo_bytes):
    server = _slow_server(tmp_path, 2.0, "--max-queue", "8", "--max-connections", "2")
    try:
        with ThreadPoolExecutor(4) as pool:
            answers = list(pool.map(lambda _: _post(server.url, photo_bytes), range(4)))
            # while two requests are in progress, monitoring still gets through
            assert server.client.get("/health").status_code == 200
        statuses = sorted(a.status_code for a in answers)
        assert statuses == [200, 200, 503, 503], [a.text[:200] for a in answers]
        for refused in (a for a in answers if a.status_code == 503):
            assert refused.headers["content-type"] == "application/json"
            assert refused.json()["errors"][0]["code"] == "too_many_requests"
            assert int(refused.headers["retry-after"]) >= 1
    finally:
        server.stop()


def test_a_worker_holding_the_gil_stalls_neither_timeouts_nor_health(tmp_path, photo_bytes):
    """The worker's first image holds the GIL for `work_s` in one call (like a numba stage);
    meanwhile every /health answers well within that time, and the request's 1 s timeout
    answers 504 long before the work could have ended."""
    work_s = 8.0
    env = {GIL_SECONDS_ENV: str(work_s)}
    server = start_server(tmp_path, [*GIL, "--no-refine", "--timeout", "1"], env=env)
    answers: list[tuple[httpx.Response, float]] = []

    def request() -> None:
        started = time.monotonic()
        answer = _post(server.url, photo_bytes)
        answers.append((answer, time.monotonic() - started))

    try:
        thread = threading.Thread(target=request)
        thread.start()
        polls: list[tuple[float, int]] = []  # (seconds to answer, jobs running)
        until = time.monotonic() + work_s / 2
        while time.monotonic() < until:
            started = time.monotonic()
            health = httpx.get(f"{server.url}/health", timeout=work_s * 3)
            polls.append((time.monotonic() - started, health.json()["jobs_running"]))
            time.sleep(0.05)
        slowest = max(seconds for seconds, _ in polls)
        assert slowest < work_s / 4, polls
        assert any(running for _, running in polls), "the job never ran"
        thread.join(work_s * 3)
        answer, seconds = answers[0]
        assert answer.status_code == 504, answer.text
        assert seconds < work_s / 2, seconds  # on time: not once the work let go of the GIL
        assert server.client.get("/metrics").status_code == 200
    finally:
        server.stop()


def test_a_worker_process_that_dies_is_replaced(tmp_path, photo_bytes):
    env = {CRASH_MARKER_ENV: str(tmp_path / "crashed")}
    server = start_server(tmp_path, [*CRASH, "--no-refine"], env=env)
    try:
        crashed = _post(server.url, photo_bytes)
        assert crashed.status_code == 500, crashed.text
        assert "worker process ended" in crashed.json()["errors"][0]["title"]
        assert _post(server.url, photo_bytes).status_code == 200  # the same worker slot
        assert "bgeraser_worker_restarts 1" in server.client.get("/metrics").text
    finally:
        server.stop()
    assert "Traceback" not in server.output()


def test_a_cancelled_worker_that_does_not_stop_is_replaced_after_the_cancel_grace(
    tmp_path, photo_bytes
):
    """The GIL-holding backend never polls the cancel token: after the 1 s timeout its worker
    is killed and replaced once --cancel-grace (1 s here, 10 s by default) has passed."""
    env = {GIL_SECONDS_ENV: "60"}
    args = [*GIL, "--no-refine", "--timeout", "1", "--cancel-grace", "1"]
    server = start_server(tmp_path, args, env=env)
    try:
        assert _post(server.url, photo_bytes).status_code == 504
        deadline = time.monotonic() + 8  # before the default grace could have ended
        while "bgeraser_worker_restarts 1" not in server.client.get("/metrics").text:
            assert time.monotonic() < deadline, "the worker was not replaced"
            time.sleep(0.1)
        _wait_until_idle(server, within_s=20)
    finally:
        server.stop()
    assert "Traceback" not in server.output()


def _wait_until_idle(server, within_s: float) -> None:
    deadline = time.monotonic() + within_s
    while server.client.get("/health").json()["jobs_running"]:
        assert time.monotonic() < deadline, "a job nobody waits for kept its worker"
        time.sleep(0.05)


def test_timeout_or_a_client_gone_cancels_the_job(tmp_path, photo_bytes):
    server = _slow_server(tmp_path, 30.0, "--timeout", "8")
    try:
        with pytest.raises(httpx.ReadTimeout):  # the client gives up and closes the connection
            httpx.post(f"{server.url}/api/remove", content=photo_bytes, timeout=1)
        _wait_until_idle(server, within_s=3)  # cancelled long before the server's 8 s timeout
        started = time.monotonic()
        answer = _post(server.url, photo_bytes)
        assert answer.status_code == 504, answer.text
        assert answer.json()["errors"][0]["code"] == "timeout"
        assert time.monotonic() - started < 20  # not the backend's 30 s
        _wait_until_idle(server, within_s=10)
    finally:
        server.stop()


@pytest.mark.parametrize("whole_group", [False, True], ids=["server", "process-group"])
def test_sigterm_lets_in_flight_work_finish(tmp_path, photo_bytes, whole_group):
    """SIGTERM to the server, or to its whole process group as systemd (KillMode=control-group),
    `timeout` or `kill -TERM -PGID` send it: the worker processes leave the shutdown to the
    server, so the request in flight is still answered."""
    server = _slow_server(tmp_path, 2.0, "--shutdown-grace", "30", own_group=whole_group)
    answers: list[httpx.Response] = []
    request = threading.Thread(target=lambda: answers.append(_post(server.url, photo_bytes)))
    request.start()
    _wait_until_running(server)
    if whole_group:
        os.killpg(server.process.pid, signal.SIGTERM)
    else:
        server.process.send_signal(signal.SIGTERM)
    request.join(60)
    assert answers and answers[0].status_code == 200, server.output()
    assert answers[0].headers["content-type"] == "image/png"
    assert server.process.wait(30) in (0, -signal.SIGTERM)
    assert "Application shutdown complete" in server.output()


def test_sigterm_cancels_work_past_the_grace_period(tmp_path, photo_bytes):
    server = _slow_server(tmp_path, 60.0, "--shutdown-grace", "1")
    failures: list[Exception] = []

    def request() -> None:
        try:
            _post(server.url, photo_bytes)
        except httpx.HTTPError as exc:  # the connection closes without an answer
            failures.append(exc)

    thread = threading.Thread(target=request)
    thread.start()
    _wait_until_running(server)
    stopped = time.monotonic()
    server.process.send_signal(signal.SIGTERM)
    assert server.process.wait(30) in (0, -signal.SIGTERM)
    assert time.monotonic() - stopped < 20  # the 60 s job was cancelled, not waited for
    thread.join(30)
    assert "Traceback" not in server.output()
