"""Which torch device and CPU precision to run a model on.

Nothing here imports torch unless the answer needs it: `import torch` costs ~2 s of every
`bgeraser-cli` run, and on a machine without a GPU ONNX Runtime does the work (issue 20).
"""

from __future__ import annotations

import functools
import glob
import os
import sys
from pathlib import Path

from bgeraser_gui.core.errors import ModelError

DEVICES = ("auto", "cpu", "cuda", "mps")
# Architectures whose bf16 output agrees with fp32 closely enough to be chosen automatically.
# Measured by benchmarks/inference.py (mask IoU vs torch fp32 on the bike photo): ISNet 0.999;
# U²-Net 0.986 and U²-Netp 0.914 are not exact enough, so they run fp32 (or ONNX Runtime).
BF16_EXACT_ARCHS = frozenset({"isnet"})
# What a GPU torch can use leaves on Linux: the NVIDIA driver, ROCm's and WSL's device nodes.
_LINUX_GPU_MARKERS = ("/proc/driver/nvidia", "/dev/kfd", "/dev/dxg")


def gpu_may_exist() -> bool:
    """False only where torch cannot see a GPU, known without importing it: Linux with no
    NVIDIA driver and no NVIDIA, ROCm or WSL GPU device node. True elsewhere (ask torch)."""
    if not sys.platform.startswith("linux"):
        return True
    return any(os.path.exists(marker) for marker in _LINUX_GPU_MARKERS) or bool(
        glob.glob("/dev/nvidia[0-9]*")
    )


def pick_device(requested: str = "auto") -> str:
    """Resolve "auto" to the best available device (CUDA > MPS > CPU); validate an explicit one.

    An explicit device that is not available raises ModelError with a one-line reason.
    torch is asked only when it is loaded already or a GPU may exist.
    """
    requested = (requested or "auto").lower()
    if requested not in DEVICES and not requested.startswith("cuda:"):
        raise ModelError(f"unknown device {requested!r}; choose one of {', '.join(DEVICES)}")
    if requested == "cpu":
        return "cpu"
    if requested == "auto" and "torch" not in sys.modules and not gpu_may_exist():
        return "cpu"
    import torch

    cuda = torch.cuda.is_available()
    mps = bool(getattr(torch.backends, "mps", None) and torch.backends.mps.is_available())
    if requested == "auto":
        return "cuda" if cuda else "mps" if mps else "cpu"
    if requested.startswith("cuda") and not cuda:
        raise ModelError("CUDA was requested but no CUDA GPU is available to torch")
    if requested == "mps" and not mps:
        raise ModelError("MPS was requested but Apple Metal is not available to torch")
    return requested


@functools.lru_cache(maxsize=1)
def cpu_flags() -> frozenset[str]:
    """The CPU feature flags from /proc/cpuinfo (empty where that file does not exist)."""
    try:
        text = Path("/proc/cpuinfo").read_text(errors="replace")
    except OSError:
        return frozenset()
    for line in text.splitlines():
        if line.startswith(("flags", "Features")):
            return frozenset(line.split(":", 1)[1].split())
    return frozenset()


def cpu_has_bf16_matmul() -> bool:
    """True when the CPU executes bf16 matrix instructions natively (AVX512-BF16 or AMX-BF16),
    the only case where bf16 autocast is faster than fp32 instead of emulated and slower."""
    if os.environ.get("BGERASER_NO_BF16") == "1":
        return False
    if not {"avx512_bf16", "amx_bf16"} & cpu_flags():
        return False
    import torch

    return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())


_thread_limit: int | None = None  # limit_cpu_threads: a worker's share of the cores


def limit_cpu_threads(threads: int | None) -> None:
    """Models loaded from now on in this process use at most `threads` CPU threads (None: no
    limit); a worker process of a pool sets its share of the cores before loading."""
    global _thread_limit
    _thread_limit = threads


def cpu_thread_count() -> int:
    """Threads for a model on CPU (torch or ONNX Runtime): the cores this process may use, at
    most the limit set by `limit_cpu_threads`."""
    try:
        cores = max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # macOS, Windows
        cores = max(1, os.cpu_count() or 1)
    return min(cores, _thread_limit) if _thread_limit else cores
