"""Start-up cost (issue 20): a `bgeraser-cli` run loads only what its path needs.

`import torch` is ~2 s, numba + scipy ~1 s, onnx ~0.5 s, PySide6 more: each is checked in a
fresh interpreter (sys.modules), since an import cannot be undone inside the test process.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from bgeraser_gui.backends.loader import _is_quantized

HEAVY = ("torch", "PySide6", "numba", "pymatting", "scipy", "onnx", "onnxruntime", "psd_tools")


def _loaded_after(code: str) -> dict:
    """Run `code` in a fresh interpreter; the heavy modules it left loaded, and its `result`."""
    probe = (
        f"{code}\nimport json, sys\n"
        f"print(json.dumps({{'loaded': [m for m in {HEAVY!r} if m in sys.modules], "
        "'result': globals().get('result')}))"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_the_cli_parser_loads_no_heavy_library():
    answer = _loaded_after("from bgeraser_gui.cli import build_parser\nbuild_parser()")
    assert answer["loaded"] == []


def test_building_a_pipeline_loads_no_solver_and_no_network_library():
    code = (
        "from bgeraser_gui.assemble import PipelineSpec, build_pipeline\n"
        "build_pipeline(PipelineSpec(model='x.onnx', refine=True))"
    )
    assert _loaded_after(code)["loaded"] == []


def test_auto_device_on_a_machine_without_gpu_needs_no_torch():
    code = (
        "from bgeraser_gui.backends.device import gpu_may_exist, pick_device\n"
        "result = [pick_device('auto'), pick_device('cpu'), gpu_may_exist()]"
    )
    answer = _loaded_after(code)
    device, cpu, gpu_may_exist = answer["result"]
    assert cpu == "cpu"
    if not gpu_may_exist:
        assert device == "cpu"
        assert "torch" not in answer["loaded"]


def test_loading_the_onnxruntime_backend_loads_neither_torch_nor_onnx(isnet_fp16_path: Path):
    """The default on CPUs without bf16 matrix instructions; the model file's hash check, the
    runtime choice and the session need none of torch, onnx or the matting stack."""
    code = (
        "from bgeraser_gui.assemble import PipelineSpec, build_pipeline\n"
        f"spec = PipelineSpec(model={str(isnet_fp16_path)!r}, device='cpu', "
        "runtime='onnxruntime', quality='fast', refine=False)\n"
        "pipeline = build_pipeline(spec)\n"
        "result = type(pipeline.load()).__name__"
    )
    answer = _loaded_after(code)
    assert answer["result"] == "OrtSegmenter"
    assert answer["loaded"] == ["onnxruntime"]


def test_quantisation_is_told_by_a_byte_scan_as_by_parsing(isnet_fp16_path, isnet_quint8_path):
    import onnx

    for path in (isnet_fp16_path, isnet_quint8_path):
        graph = onnx.load(str(path), load_external_data=False).graph
        parsed = any(node.op_type in ("ConvInteger", "QLinearConv") for node in graph.node)
        assert _is_quantized(Path(path)) == parsed
    assert _is_quantized(Path(isnet_quint8_path)) and not _is_quantized(Path(isnet_fp16_path))
