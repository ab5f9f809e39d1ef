"""Engines: one model load per worker, every job reported, cancel stops the rest."""

from __future__ import annotations

from pathlib import Path

import pytest
from batch_fakes import LOAD_LOG_ENV, make_backend, write_corrupt, write_photo

from bgeraser_gui.assemble import PipelineSpec
from bgeraser_gui.core.batch_plan import collect_jobs
from bgeraser_gui.core.compose import ExportOptions
from bgeraser_gui.core.progress import CancelToken
from bgeraser_gui.engines.local import LocalEngine

TESTS_DIR = Path(__file__).resolve().parent


def _spec() -> PipelineSpec:
    return PipelineSpec(refine=False, export=ExportOptions(), backend_factory=make_backend)


def _jobs(tmp_path, count=6, broken=True):
    for i in range(count):
        write_photo(tmp_path / "in" / f"p{i}.jpg", (48, 40), seed=i)
    if broken:
        write_corrupt(tmp_path / "in" / "zz_broken.jpg")
    return collect_jobs([tmp_path / "in"], tmp_path / "out", recursive=False)


def _check(records, jobs, tmp_path):
    by_input = {r.input: r for r in records}
    assert set(by_input) == {j.source for j in jobs}
    for job in jobs:
        record = by_input[job.source]
        if "broken" in job.source:
            assert record.status == "failed" and "zz_broken" in record.error
        else:
            assert record.status == "ok", record.error
            assert Path(record.output).is_file()


def test_process_pool_loads_the_model_once_per_worker(tmp_path, monkeypatch):
    log = tmp_path / "loads"
    log.mkdir()
    monkeypatch.setenv(LOAD_LOG_ENV, str(log))
    jobs = _jobs(tmp_path)
    records = list(LocalEngine(_spec(), workers=2, pool="process").run(jobs))
    _check(records, jobs, tmp_path)
    loads = list(log.iterdir())
    assert 1 <= len(loads) <= 2  # never once per image
    assert len({p.name.split("-")[1] for p in loads}) == len(loads)  # distinct processes


def test_thread_pool_builds_one_pipeline_per_thread(tmp_path, monkeypatch):
    log = tmp_path / "loads"
    log.mkdir()
    monkeypatch.setenv(LOAD_LOG_ENV, str(log))
    jobs = _jobs(tmp_path)
    records = list(LocalEngine(_spec(), workers=2, pool="thread").run(jobs))
    _check(records, jobs, tmp_path)
    assert 1 <= len(list(log.iterdir())) <= 2


def test_cancel_reports_the_rest_as_cancelled(tmp_path):
    jobs = _jobs(tmp_path, count=8, broken=False)
    cancel = CancelToken()
    records = []
    for record in LocalEngine(_spec(), workers=1).run(jobs, cancel):
        records.append(record)
        cancel.cancel()
    assert len(records) == len(jobs)
    assert records[0].status == "ok"
    assert sum(r.status == "cancelled" for r in records) >= len(jobs) - 3
    written = list((tmp_path / "out").glob("*.png"))
    assert len(written) == sum(r.status == "ok" for r in records)


def test_model_that_cannot_load_fails_each_job_clearly(tmp_path):
    jobs = _jobs(tmp_path, count=2, broken=False)
    spec = PipelineSpec(model=str(tmp_path / "missing.onnx"), refine=False, device="cpu")
    records = list(LocalEngine(spec, workers=1).run(jobs))
    assert [r.status for r in records] == ["failed", "failed"]
    assert all("missing.onnx" in r.error for r in records)


@pytest.mark.slow
def test_ray_engine_two_actors_each_load_once(tmp_path):
    pytest.importorskip("ray")
    from bgeraser_gui.engines.ray_engine import RayEngine

    log = tmp_path / "loads"
    log.mkdir()
    env = {"env_vars": {"PYTHONPATH": str(TESTS_DIR), LOAD_LOG_ENV: str(log)}}
    jobs = _jobs(tmp_path, count=6)
    records = list(RayEngine(_spec(), workers=2, runtime_env=env).run(jobs))
    _check(records, jobs, tmp_path)
    loads = list(log.iterdir())
    assert len(loads) == 2  # two actors, one model each, reused for all 7 jobs
