"""`bgeraser-cli models ...` end to end, in a temporary model cache."""

from __future__ import annotations

import argparse
import hashlib
import http.server
import threading
from pathlib import Path

import pytest

from bgeraser_gui.backends.download import ensure_model, list_models
from bgeraser_gui.commands import models as models_command

PAYLOAD = bytes(range(256)) * 2000


def run_cli(*argv: str) -> int:
    parser = argparse.ArgumentParser(prog="bgeraser-cli")
    models_command.register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(list(argv))
    return args.func(args)


@pytest.fixture
def cache(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("BGERASER_MODEL_DIR", str(tmp_path / "cache"))
    return tmp_path / "cache"


def _row(output: str, name: str) -> str:
    rows = [line for line in output.splitlines() if line.split(" ", 1)[0] == name]
    assert len(rows) == 1, output
    return rows[0]


def test_list_shows_registry_and_cache(cache, capsys):
    assert run_cli("models", "list") == 0
    out = capsys.readouterr().out
    assert "default" in _row(out, "isnet-general-use")
    assert "non-commercial" in _row(out, "bria-rmbg")
    assert "installed" not in out
    assert f"cache: {cache}" in out


def test_import_real_isnet_under_custom_name(cache, capsys, isnet_fp16_path):
    assert run_cli("models", "import", str(isnet_fp16_path), "--name", "my-isnet") == 0
    imported = cache / "custom" / "my-isnet.onnx"
    assert imported.stat().st_size == isnet_fp16_path.stat().st_size
    capsys.readouterr()

    assert run_cli("models", "list") == 0
    row = _row(capsys.readouterr().out, "my-isnet")
    assert "installed" in row and "imported" in row

    status = {s.spec.name: s for s in list_models()}["my-isnet"]
    assert status.installed and status.spec.custom
    assert status.spec.arch == "isnet" and status.spec.input_size == 1024
    assert status.spec.sha256 == hashlib.sha256(imported.read_bytes()).hexdigest()
    assert ensure_model("my-isnet") == imported

    assert run_cli("models", "remove", "my-isnet") == 0
    assert not imported.exists()
    assert "my-isnet" not in {s.spec.name for s in list_models()}


def test_import_recognises_a_registry_file_by_hash(cache, capsys, isnet_quint8_path):
    assert run_cli("models", "import", str(isnet_quint8_path)) == 0
    installed = cache / "isnet_small_quint8.onnx"
    assert installed.is_file()
    assert ensure_model("isnet-general-use-quint8") == installed
    capsys.readouterr()
    assert run_cli("models", "list") == 0
    assert "installed" in _row(capsys.readouterr().out, "isnet-general-use-quint8")


def test_import_under_a_registry_name_checks_the_hash(cache, capsys, tmp_path):
    fake = tmp_path / "u2netp.onnx"
    fake.write_bytes(b"not the real u2netp")
    assert run_cli("models", "import", str(fake), "--name", "u2netp") == 1
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "not the published u2netp" in err
    assert len(err.strip().splitlines()) == 1
    assert not (cache / "u2netp.onnx").exists()
    assert [p.name for p in cache.iterdir()] == []  # no temporary file left behind


def test_import_rejects_a_file_that_is_not_onnx(cache, capsys, tmp_path):
    junk = tmp_path / "junk.onnx"
    junk.write_bytes(b"\x00garbage" * 100)
    assert run_cli("models", "import", str(junk), "--name", "junk") == 1
    assert "not a valid ONNX model" in capsys.readouterr().err
    assert not (cache / "custom" / "junk.onnx").exists()
    assert not (cache / "custom" / "junk.json").exists()


def test_errors_are_one_line_with_non_zero_exit(cache, capsys, tmp_path):
    assert run_cli("models", "remove", "u2net") == 1
    assert capsys.readouterr().err == "error: model 'u2net' is not installed\n"
    assert run_cli("models", "download", "no-such-model") == 1
    assert "unknown model 'no-such-model'" in capsys.readouterr().err
    assert run_cli("models", "import", str(tmp_path / "missing.onnx")) == 1
    assert "no such file" in capsys.readouterr().err


def test_path_prints_cache_and_model_location(cache, capsys):
    assert run_cli("models", "path") == 0
    assert capsys.readouterr().out.strip() == str(cache)
    assert run_cli("models", "path", "u2netp") == 0
    assert capsys.readouterr().out.strip() == str(cache / "u2netp.onnx")


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:
        pass


def test_download_command_with_progress_bar(cache, capsys, tmp_path, monkeypatch):
    served = tmp_path / "served"
    served.mkdir()
    (served / "tiny.onnx").write_bytes(PAYLOAD)
    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), lambda *a: _Quiet(*a, directory=str(served))
    )
    threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True).start()
    manifest = tmp_path / "manifest.toml"
    manifest.write_text(
        f"""
[models.tiny]
arch = "u2netp"
description = "loopback test model"
urls = ["http://127.0.0.1:{server.server_address[1]}/tiny.onnx"]
sha256 = "{hashlib.sha256(PAYLOAD).hexdigest()}"
size_bytes = {len(PAYLOAD)}
file_name = "tiny.onnx"
input_size = 320
mean = [0.485, 0.456, 0.406]
std = [0.229, 0.224, 0.225]
output = "minmax"
licence = "MIT"
commercial_use = true
""",
        encoding="utf-8",
    )
    monkeypatch.setenv("BGERASER_MODEL_MANIFEST", str(manifest))
    try:
        assert run_cli("models", "download", "tiny") == 0
        captured = capsys.readouterr()
        assert (cache / "tiny.onnx").read_bytes() == PAYLOAD
        assert "downloaded tiny" in captured.out
        assert "tiny" in captured.err  # the tqdm bar
        assert run_cli("models", "download", "tiny") == 0
        assert "already installed" in capsys.readouterr().out
    finally:
        server.shutdown()
        server.server_close()


def test_import_with_an_unknown_like_model_fails(cache, capsys, isnet_quint8_path):
    assert run_cli("models", "import", str(isnet_quint8_path), "--name", "x", "--like", "nope") == 1
    assert "--like: unknown registry model 'nope'" in capsys.readouterr().err
    assert not (cache / "custom" / "x.onnx").exists()


def test_models_command_is_wired_into_the_real_cli(cache, capsys):
    from bgeraser_gui.cli import main

    assert main(["models", "path"]) == 0
    assert capsys.readouterr().out.strip() == str(cache)


def test_verify_detects_a_damaged_file(cache, capsys, isnet_quint8_path):
    assert run_cli("models", "import", str(isnet_quint8_path)) == 0
    assert run_cli("models", "verify", "isnet-general-use-quint8") == 0
    assert "matches its published hash" in capsys.readouterr().out
    installed = cache / "isnet_small_quint8.onnx"
    with installed.open("r+b") as stream:
        stream.seek(1000)
        stream.write(b"\xff\xfe")
    assert run_cli("models", "verify", "isnet-general-use-quint8") == 1
    assert "is damaged" in capsys.readouterr().err
