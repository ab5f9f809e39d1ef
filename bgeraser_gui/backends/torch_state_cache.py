"""The torch runtime's weights, converted from the ONNX file once (issue 20).

Building the torch network parsed the whole ONNX file on every start (import onnx, read 88 MB,
fp16 -> fp32, fold BatchNorm: ~4.7 s on the loaded 2-core test machine). The first build saves
the network's architecture and state dict (backends/converted_cache.py); later starts map that
file into memory (`torch.load(mmap=True)`) and build the network on it: the same float32
tensors, so the same network (tests/test_converted_cache.py).
"""

from __future__ import annotations

from pathlib import Path

import torch

from bgeraser_gui.backends.converted_cache import converted_file, partial_file, publish
from bgeraser_gui.backends.networks import build_network

FORMAT = 1  # bump when what is saved changes


def _file(model: Path) -> Path | None:
    return converted_file(model, "torch", f"{FORMAT}:{torch.__version__}", ".pt")


def load_network(model: Path) -> tuple[str, torch.nn.Module] | None:
    """(architecture, network in eval mode) from the converted weights of `model`; None when
    there are none (or they do not fit the network: that file is deleted)."""
    file = _file(model)
    if file is None or not file.is_file():
        return None
    try:
        saved = torch.load(file, map_location="cpu", mmap=True, weights_only=True)
        arch = saved["arch"]
        with torch.device("meta"):  # no random initialisation of weights that are replaced
            network = build_network(arch)
        network.load_state_dict(saved["state"], strict=True, assign=True)
    except Exception:  # noqa: BLE001 - damaged or from another layout: convert again
        file.unlink(missing_ok=True)
        return None
    return arch, network.eval()


def save_network(model: Path, arch: str, network: torch.nn.Module) -> None:
    """Keep `network`'s weights (converted from `model`) for the next start; best effort."""
    file = _file(model)
    partial = partial_file(file) if file is not None else None
    if partial is None:
        return
    try:
        torch.save({"arch": arch, "state": network.state_dict()}, partial)
    except Exception:  # noqa: BLE001 - a full disk costs the next start its time, nothing else
        partial.unlink(missing_ok=True)
        return
    publish(partial, file)
