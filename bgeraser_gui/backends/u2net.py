"""U²-Net and U²-Netp (Qin et al., Pattern Recognition 2020) without BatchNorm, built from the
shared RSU blocks. The same module paths as upstream, so published ONNX weights map by name."""

from __future__ import annotations

import torch
from torch import nn

from bgeraser_gui.backends.rsu import U2NET_STAGES, U2NETP_STAGES, NestedUNet, upsample_like


class U2Net(NestedUNet):
    """Full U²-Net (176 MB) or, with `small=True`, U²-Netp (4.7 MB).

    `forward` returns the fused map sigmoid(outconv(concat(side1..side6))) at input size, the
    first output of the published ONNX files (u2net, u2netp, u2net_human_seg).
    """

    def __init__(self, small: bool = False, in_ch: int = 3, out_ch: int = 1) -> None:
        stages = U2NETP_STAGES if small else U2NET_STAGES
        if in_ch != 3:
            stages = ((stages[0][0], stages[0][1], in_ch, *stages[0][3:]), *stages[1:])
        super().__init__(stages, out_ch)
        self.arch = "u2netp" if small else "u2net"
        self.outconv = nn.Conv2d(6 * out_ch, out_ch, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        features = self.decode(x)
        sides = [
            upsample_like(getattr(self, f"side{level + 1}")(feature), x)
            for level, feature in enumerate(features)
        ]
        return torch.sigmoid(self.outconv(torch.cat(sides, 1)))
