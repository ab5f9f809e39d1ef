"""The download manager against a loopback HTTP server (never the internet)."""

from __future__ import annotations

import dataclasses
import hashlib
import http.server
import os
import socket
import threading
from pathlib import Path

import pytest

from bgeraser_gui.backends import download
from bgeraser_gui.backends.download import ensure_model
from bgeraser_gui.backends.model_cache import part_path
from bgeraser_gui.backends.registry import ModelSpec, get_spec
from bgeraser_gui.core.errors import Cancelled, ModelError
from bgeraser_gui.core.progress import CancelToken

PAYLOAD = os.urandom(1_500_000)


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.payload = PAYLOAD
        self.honour_range = True
        self.drop_after: int | None = None  # first GET sends only this many body bytes
        self.requests: list[dict[str, str | None]] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/model.onnx"


class _Handler(http.server.BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, *args) -> None:  # keep pytest output clean
        pass

    def do_GET(self) -> None:
        server = self.server
        requested = self.headers.get("Range")
        server.requests.append({"path": self.path, "range": requested})
        if self.path != "/model.onnx":
            self.send_error(404)
            return
        data, start = server.payload, 0
        if requested and server.honour_range:
            start = int(requested.removeprefix("bytes=").split("-")[0])
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        else:
            self.send_response(200)
        body = data[start:]
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if server.drop_after is not None:
            cut, server.drop_after = server.drop_after, None
            self.wfile.write(body[:cut])
            self.wfile.flush()
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        self.wfile.write(body)


@pytest.fixture
def server():
    srv = _Server()
    thread = threading.Thread(target=srv.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    yield srv
    srv.shutdown()
    srv.server_close()


@pytest.fixture
def cache(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("BGERASER_MODEL_DIR", str(tmp_path / "cache"))
    monkeypatch.setattr(download, "CHUNK_BYTES", 64 * 1024)
    return tmp_path / "cache"


def _left_in(cache: Path) -> list[str]:
    """Files in the cache apart from the (empty) inter-process lock file."""
    if not cache.exists():
        return []
    return sorted(p.name for p in cache.iterdir() if p.name != ".download.lock")


def _spec(urls: tuple[str, ...], payload: bytes = PAYLOAD, **changes) -> ModelSpec:
    base = get_spec("u2netp")
    fields = {
        "name": "loopback-test",
        "urls": urls,
        "file_name": "loopback-test.onnx",
        "md5": hashlib.md5(payload).hexdigest(),
        "sha256": hashlib.sha256(payload).hexdigest(),
        "size_bytes": len(payload),
    }
    fields.update(changes)
    return dataclasses.replace(base, **fields)


def test_download_reports_progress_up_to_100_percent(server, cache):
    events: list[tuple[float, str]] = []
    path = ensure_model(_spec((server.url,)), progress=lambda f, m: events.append((f, m)))
    assert path == cache / "loopback-test.onnx"
    assert path.read_bytes() == PAYLOAD
    assert not part_path(_spec((server.url,))).exists()
    fractions = [f for f, _ in events]
    assert len(fractions) >= 5
    assert fractions == sorted(fractions)
    assert 0.0 < fractions[len(fractions) // 2] < 1.0
    assert fractions[-1] == 1.0
    assert "loopback-test" in events[-1][1]
    # a second call finds the cached file and does not touch the network
    assert ensure_model(_spec((server.url,))) == path
    assert len(server.requests) == 1


def test_hash_mismatch_leaves_nothing_behind(server, cache):
    spec = _spec((server.url,), sha256="0" * 64, md5=None)
    with pytest.raises(ModelError, match="corrupt"):
        ensure_model(spec)
    assert not (cache / "loopback-test.onnx").exists()
    assert not part_path(spec).exists()
    assert _left_in(cache) == []


def test_md5_alone_is_checked(server, cache):
    spec = _spec((server.url,), sha256=None, md5="f" * 32)
    with pytest.raises(ModelError):
        ensure_model(spec)
    assert _left_in(cache) == []


def test_resume_after_dropped_connection_uses_range(server, cache):
    server.drop_after = 600_000
    path = ensure_model(_spec((server.url,)))
    assert path.read_bytes() == PAYLOAD
    assert len(server.requests) == 2
    assert server.requests[0]["range"] is None
    assert server.requests[1]["range"] == "bytes=600000-"


def test_server_ignoring_range_restarts_cleanly(server, cache):
    server.drop_after = 500_000
    server.honour_range = False
    path = ensure_model(_spec((server.url,)))
    assert path.read_bytes() == PAYLOAD
    assert server.requests[1]["range"] == "bytes=500000-"  # asked to resume, got a 200


def test_cancel_keeps_partial_file_and_next_call_resumes(server, cache):
    token = CancelToken()
    spec = _spec((server.url,))

    def cancel_midway(fraction: float, message: str) -> None:
        if fraction > 0.3:
            token.cancel()

    with pytest.raises(Cancelled):
        ensure_model(spec, progress=cancel_midway, cancel=token)
    partial = part_path(spec).stat().st_size
    assert 0 < partial < len(PAYLOAD)
    assert not (cache / "loopback-test.onnx").exists()
    assert ensure_model(spec).read_bytes() == PAYLOAD
    assert server.requests[-1]["range"] == f"bytes={partial}-"


def test_corrupt_partial_file_is_discarded_and_downloaded_again(server, cache):
    spec = _spec((server.url,))
    part = part_path(spec)
    part.parent.mkdir(parents=True)
    part.write_bytes(b"\0" * 1000)  # not a prefix of the real file
    assert ensure_model(spec).read_bytes() == PAYLOAD
    assert server.requests[0]["range"] == "bytes=1000-"
    assert server.requests[-1]["range"] is None
    assert not part.exists()


def test_falls_back_to_the_next_url(server, cache):
    missing = server.url.replace("model.onnx", "missing.onnx")
    path = ensure_model(_spec((missing, server.url)))
    assert path.read_bytes() == PAYLOAD
    assert [r["path"] for r in server.requests] == ["/missing.onnx", "/model.onnx"]


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_offline_error_tells_how_to_import(cache):
    spec = _spec((f"http://127.0.0.1:{_closed_port()}/model.onnx",))
    with pytest.raises(ModelError) as info:
        ensure_model(spec)
    message = str(info.value)
    assert "models import PATH --name loopback-test" in message
    assert "refused" in message.lower()
    assert _left_in(cache) == []


def test_model_without_url_asks_for_import(cache):
    with pytest.raises(ModelError, match="models import PATH --name isnet-general-use-fp16"):
        ensure_model("isnet-general-use-fp16")


def test_unknown_model_name(cache):
    with pytest.raises(ModelError, match="unknown model 'nope'"):
        ensure_model("nope")


def test_concurrent_requests_download_once(server, cache):
    spec = _spec((server.url,))
    results: list[Path] = []
    threads = [
        threading.Thread(target=lambda: results.append(ensure_model(spec))) for _ in range(3)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert len(results) == 3 and len(set(results)) == 1
    assert results[0].read_bytes() == PAYLOAD
    assert len(server.requests) == 1


def test_not_enough_disk_space_is_reported_before_downloading(server, cache, monkeypatch):
    real_usage = download.shutil.disk_usage

    def tiny_disk(path):
        return real_usage(path)._replace(free=1000)

    monkeypatch.setattr(download.shutil, "disk_usage", tiny_disk)
    with pytest.raises(ModelError, match="not enough disk space.*BGERASER_MODEL_DIR"):
        ensure_model(_spec((server.url,)))
    assert server.requests == []
