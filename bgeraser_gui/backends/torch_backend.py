"""TorchSegmenter: runs a hand-written network (ISNet, U²-Net) with weights mapped from ONNX.

Precision modes: "fp32"; "channels_last" (fp32, NHWC kernels, faster on CPU); "bf16" (autocast
to bfloat16 + channels_last, only on CPUs with native bf16 matrix instructions); "fp16" (CUDA).
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from bgeraser_gui.backends.cancel_scope import install_convolution_checks
from bgeraser_gui.backends.device import BF16_EXACT_ARCHS, cpu_has_bf16_matmul, cpu_thread_count
from bgeraser_gui.backends.model_io import InputSpec
from bgeraser_gui.backends.segmenter import QualityOptions, Segmenter
from bgeraser_gui.core.errors import ModelError

PRECISIONS = ("auto", "fp32", "channels_last", "bf16", "fp16")


def auto_precision(device: str, arch: str = "isnet") -> str:
    """fp16 on CUDA, fp32 on MPS; on CPU bf16 where the CPU has native bf16 matmul and `arch`
    stays exact in bf16, else channels_last."""
    if device.startswith("cuda"):
        return "fp16"
    if device == "mps":
        return "fp32"
    if cpu_has_bf16_matmul() and arch in BF16_EXACT_ARCHS:
        return "bf16"
    return "channels_last"


def prepare_network(network: nn.Module, device: str, precision: str) -> nn.Module:
    """Move `network` to `device` in the layout/dtype `precision` needs (in place); eval mode."""
    if precision not in PRECISIONS[1:]:
        raise ModelError(f"unknown precision {precision!r}; choose one of {', '.join(PRECISIONS)}")
    if precision == "fp16" and not device.startswith("cuda"):
        raise ModelError("fp16 inference needs a CUDA device")
    if device == "cpu":
        torch.set_num_threads(cpu_thread_count())
    network = network.to(device).eval()
    if precision == "fp16":
        network = network.half()
    if precision in ("channels_last", "bf16", "fp16"):
        network = network.to(memory_format=torch.channels_last)
    for parameter in network.parameters():
        parameter.requires_grad_(False)
    return network


class TorchSegmenter(Segmenter):
    """A SegmentationBackend on a torch network."""

    def __init__(
        self,
        network: nn.Module,
        name: str,
        device: str,
        precision: str,
        spec: InputSpec,
        options: QualityOptions,
    ) -> None:
        super().__init__(name, device, spec, options)
        self.network = network
        # Cancel checks before every convolution (inert outside Segmenter.predict's scope).
        install_convolution_checks(network)
        self.precision = precision
        self.runtime = "torch"

    def _run(self, batch: np.ndarray) -> np.ndarray:
        x = torch.from_numpy(batch).to(self.device)
        if self.precision == "fp16":
            x = x.half()
        if self.precision != "fp32":
            x = x.contiguous(memory_format=torch.channels_last)
        with torch.inference_mode():
            if self.precision == "bf16":
                with torch.autocast("cpu", dtype=torch.bfloat16):
                    out = self.network(x)
            else:
                out = self.network(x)
        return out[:, 0].float().cpu().numpy()

    def __repr__(self) -> str:
        return (
            f"TorchSegmenter({self.name!r}, device={self.device!r}, precision={self.precision!r})"
        )
