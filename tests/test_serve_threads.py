"""`serve --workers N` (and `batch --workers N`) give each worker process its share of the
cores: `--threads-per-worker` (PipelineSpec.torch_threads) limits the model's threads whichever
runtime runs it. With the ONNX Runtime (the fp16 ISNet file on CPUs without bf16), each session
used every core (2 workers on 2 cores: 4 threads) and torch was imported only to be told a
thread count it never used (~0.5 GB per worker)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

pytestmark = pytest.mark.slow

PROBE = """
import sys
from bgeraser_gui.assemble import PipelineSpec
spec = PipelineSpec(model=sys.argv[1], runtime="onnxruntime", refine=False, torch_threads=1)
backend = spec.load_backend()
print(backend.session.get_session_options().intra_op_num_threads, "torch" in sys.modules)
"""


def test_threads_per_worker_limit_the_onnx_runtime_session_without_torch(isnet_fp16_path):
    if len(os.sched_getaffinity(0)) < 2:
        pytest.skip("one core: every session uses one thread anyway")
    probe = subprocess.run(
        [sys.executable, "-c", PROBE, str(isnet_fp16_path)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert probe.returncode == 0, probe.stderr[-2000:]
    threads, torch_loaded = probe.stdout.split()
    assert threads == "1"
    assert torch_loaded == "False"
