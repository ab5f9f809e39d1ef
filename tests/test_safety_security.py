"""Issue 15, security: no output path leaves the output root (object keys with `..`), the local
Ray cluster listens on loopback only, and files of ours in the model folder are never written
through a symlink someone put there."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from batch_fakes import make_backend, write_photo
from safety_helpers import run_batch

from bgeraser_gui.backends import download, model_cache
from bgeraser_gui.core.errors import ModelError

TESTS_DIR = Path(__file__).resolve().parent


@pytest.fixture
def memory_fs():
    fsspec = pytest.importorskip("fsspec")
    fs = fsspec.filesystem("memory")
    fs.store.clear()
    fs.pseudo_dirs.clear()
    fs.pseudo_dirs.append("")
    yield fs
    fs.store.clear()


def test_object_keys_with_dotdot_never_write_outside_the_output(tmp_path, memory_fs, capsys):
    photo = write_photo(tmp_path / "p.jpg").read_bytes()
    for key in ("/in/a.jpg", "/in/sub/../../escape.jpg", "/in/../../top.jpg"):
        memory_fs.pipe(key, photo)
    local_out = tmp_path / "deep" / "out"
    assert run_batch(["memory://in", "-o", "memory://out", "--recursive", "--no-refine", "-q"]) == 1
    assert run_batch(["memory://in", "-o", str(local_out), "--recursive", "--no-refine", "-q"]) == 1
    err = capsys.readouterr().err
    assert err.count("would leave the output folder") == 4 and "Traceback" not in err
    outputs = [k for k in memory_fs.store if k.endswith("_cutout.png")]
    assert [k for k in outputs if not k.startswith("/out/")] == []
    assert outputs == ["/out/a_cutout.png"]
    written = [p for p in tmp_path.rglob("*_cutout*.png")]
    assert written == [local_out / "a_cutout.png"]


def _descendants(root: int) -> set[int]:
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            parents[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
    found, frontier = {root}, [root]
    while frontier:
        pid = frontier.pop()
        children = [c for c, p in parents.items() if p == pid and c not in found]
        found.update(children)
        frontier.extend(children)
    return found


def _listening_addresses(pids: set[int]) -> list[str]:
    """Local addresses of the TCP sockets in LISTEN state owned by `pids` (from /proc)."""
    inodes: set[str] = set()
    for pid in pids:
        try:
            for fd in Path(f"/proc/{pid}/fd").iterdir():
                target = os.readlink(fd)
                if target.startswith("socket:["):
                    inodes.add(target[8:-1])
        except OSError:
            continue
    found = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            if fields[3] == "0A" and fields[9] in inodes:  # 0A = LISTEN
                address = fields[1].split(":")[0]
                raw = bytes.fromhex(address)
                words = [raw[i : i + 4][::-1] for i in range(0, len(raw), 4)]
                found.append(
                    ".".join(str(b) for b in words[-1])
                    if len(raw) == 4 or (b"".join(words[:3]) == b"\0" * 10 + b"\xff\xff")
                    else b"".join(words).hex()
                )
    return found


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/net/tcp").exists(), reason="reads /proc")
def test_the_local_ray_cluster_listens_on_loopback_only(tmp_path):
    pytest.importorskip("ray")
    from bgeraser_gui.assemble import PipelineSpec
    from bgeraser_gui.core.batch_plan import collect_jobs
    from bgeraser_gui.core.compose import ExportOptions
    from bgeraser_gui.engines.ray_engine import RayEngine

    for i in range(2):
        write_photo(tmp_path / "in" / f"p{i}.jpg", seed=i)
    jobs = collect_jobs([tmp_path / "in"], tmp_path / "out", recursive=False)
    spec = PipelineSpec(refine=False, export=ExportOptions(), backend_factory=make_backend)
    env = {"env_vars": {"PYTHONPATH": str(TESTS_DIR)}}
    records = RayEngine(spec, workers=1, runtime_env=env).run(jobs)
    first = next(records)  # the cluster is up while the run goes on
    addresses = _listening_addresses(_descendants(os.getpid()))
    rest = list(records)
    assert [r.status for r in [first, *rest]] == ["ok", "ok"]
    assert len(addresses) >= 3  # GCS, raylet, object manager, workers...
    assert [a for a in addresses if not a.startswith("127.") and a != "0" * 31 + "1"] == []


def test_the_download_never_writes_through_a_symlinked_part_file(tmp_path, monkeypatch):
    folder = tmp_path / "models"
    folder.mkdir()
    monkeypatch.setenv(model_cache.MODEL_DIR_ENV, str(folder))
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    spec = model_cache.resolve_spec("u2netp")
    part = model_cache.part_path_of(model_cache.model_path(spec))
    part.symlink_to(victim)

    class Body:
        status = 200
        headers = {"Content-Length": "4"}

        def read(self, n):
            return b""

    with pytest.raises(ModelError, match="symbolic link"):
        download._stream(Body(), part, 0, None, download._Reporter(spec, None), None)
    assert victim.read_text() == "precious"
    lock = folder / ".download.lock"
    part.unlink()
    lock.symlink_to(victim)
    with (
        pytest.raises(ModelError, match="symbolic link"),
        download._exclusive(model_cache.model_path(spec)),
    ):
        pass
    assert victim.read_text() == "precious"


def test_sidecars_are_written_through_unique_exclusive_temp_files(tmp_path):
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    sidecar = tmp_path / "custom" / "mine.json"
    sidecar.parent.mkdir()
    (sidecar.parent / "mine.json.part").symlink_to(victim)  # the old fixed temp name
    model_cache._write_json_atomic(sidecar, {"name": "mine"})
    assert victim.read_text() == "precious"
    assert sidecar.read_text().strip().startswith("{")
