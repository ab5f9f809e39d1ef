"""DIS ISNet (Qin et al., "Highly Accurate Dichotomous Image Segmentation", ECCV 2022), inference
form: BatchNorm folded into the convolutions, only the finest side output is computed."""

from __future__ import annotations

import torch
from torch import nn

from bgeraser_gui.backends.rsu import U2NET_STAGES, NestedUNet, upsample_like

# ISNet's first stage sees the 64-channel stem output instead of the RGB image.
ISNET_STAGES = (("stage1", "7", 64, 32, 64), *U2NET_STAGES[1:])


class ISNet(NestedUNet):
    """ISNet-DIS: a stride-2 stem convolution, then the U²-Net encoder/decoder.

    `forward` returns sigmoid(side1) upsampled to the input size, i.e. the `output` tensor of
    the published ONNX files. side2..side6 exist so that every published tensor has a home, but
    they are not evaluated (they only feed training losses).
    """

    arch = "isnet"

    def __init__(self, in_ch: int = 3, out_ch: int = 1) -> None:
        super().__init__(ISNET_STAGES, out_ch)
        self.conv_in = nn.Conv2d(in_ch, 64, 3, stride=2, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        features = self.decode(self.conv_in(x))
        return torch.sigmoid(upsample_like(self.side1(features[0]), x))
