"""Residual U-blocks (RSU) shared by U²-Net, U²-Netp and DIS ISNet, without BatchNorm.

The published ONNX files of these networks have BatchNorm folded into the convolutions, so each
"REBNCONV" here is a biased 3x3 convolution followed by ReLU. Attribute names follow the upstream
PyTorch code (`rebnconvin`, `rebnconv1`, ..., `rebnconv1d`, `conv_s1`) so that ONNX node names such
as `/stage1/rebnconvin/conv_s1/Conv` map one-to-one onto module paths.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def upsample_like(source: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Bilinear resize (half-pixel centres, like ONNX Resize linear) to the target's H and W."""
    if source.shape[2:] == target.shape[2:]:
        return source
    return F.interpolate(source, size=target.shape[2:], mode="bilinear", align_corners=False)


class ConvReLU(nn.Module):
    """REBNCONV with the BatchNorm folded away: 3x3 dilated convolution + ReLU."""

    def __init__(self, in_ch: int, out_ch: int, dilation: int = 1) -> None:
        super().__init__()
        self.conv_s1 = nn.Conv2d(in_ch, out_ch, 3, padding=dilation, dilation=dilation)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.conv_s1(x), inplace=True)


def _pool() -> nn.MaxPool2d:
    return nn.MaxPool2d(2, stride=2, ceil_mode=True)


class RSU(nn.Module):
    """RSU-L (L = depth 4..7): an encoder-decoder U inside a residual block.

    Encoder: rebnconv1..rebnconv(L-1) with 2x max-pooling between them, then rebnconvL with
    dilation 2 at the bottom. Decoder: rebnconv(L-1)d..rebnconv1d, each on the concatenation of
    the upsampled deeper result and the matching encoder feature. Output = rebnconv1d + rebnconvin.
    """

    def __init__(self, depth: int, in_ch: int, mid_ch: int, out_ch: int) -> None:
        super().__init__()
        if depth < 3:
            raise ValueError("RSU depth must be at least 3")
        self.depth = depth
        self.rebnconvin = ConvReLU(in_ch, out_ch)
        self.rebnconv1 = ConvReLU(out_ch, mid_ch)
        for level in range(1, depth - 1):
            self.add_module(f"pool{level}", _pool())
            self.add_module(f"rebnconv{level + 1}", ConvReLU(mid_ch, mid_ch))
        self.add_module(f"rebnconv{depth}", ConvReLU(mid_ch, mid_ch, dilation=2))
        for level in range(depth - 1, 1, -1):
            self.add_module(f"rebnconv{level}d", ConvReLU(mid_ch * 2, mid_ch))
        self.rebnconv1d = ConvReLU(mid_ch * 2, out_ch)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        hxin = self.rebnconvin(x)
        encoded = [self.rebnconv1(hxin)]
        for level in range(1, self.depth - 1):
            pooled = getattr(self, f"pool{level}")(encoded[-1])
            encoded.append(getattr(self, f"rebnconv{level + 1}")(pooled))
        hx = getattr(self, f"rebnconv{self.depth}")(encoded[-1])
        for level in range(self.depth - 1, 0, -1):
            skip = encoded[level - 1]
            hx = upsample_like(hx, skip)
            hx = getattr(self, f"rebnconv{level}d")(torch.cat((hx, skip), 1))
        return hx + hxin


class RSU4F(nn.Module):
    """RSU-4F: the resolution-keeping variant with dilations 1, 2, 4, 8 instead of pooling."""

    def __init__(self, in_ch: int, mid_ch: int, out_ch: int) -> None:
        super().__init__()
        self.rebnconvin = ConvReLU(in_ch, out_ch)
        self.rebnconv1 = ConvReLU(out_ch, mid_ch)
        self.rebnconv2 = ConvReLU(mid_ch, mid_ch, dilation=2)
        self.rebnconv3 = ConvReLU(mid_ch, mid_ch, dilation=4)
        self.rebnconv4 = ConvReLU(mid_ch, mid_ch, dilation=8)
        self.rebnconv3d = ConvReLU(mid_ch * 2, mid_ch, dilation=4)
        self.rebnconv2d = ConvReLU(mid_ch * 2, mid_ch, dilation=2)
        self.rebnconv1d = ConvReLU(mid_ch * 2, out_ch)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        hxin = self.rebnconvin(x)
        hx1 = self.rebnconv1(hxin)
        hx2 = self.rebnconv2(hx1)
        hx3 = self.rebnconv3(hx2)
        hx4 = self.rebnconv4(hx3)
        hx3d = self.rebnconv3d(torch.cat((hx4, hx3), 1))
        hx2d = self.rebnconv2d(torch.cat((hx3d, hx2), 1))
        hx1d = self.rebnconv1d(torch.cat((hx2d, hx1), 1))
        return hx1d + hxin


def make_stage(kind: str, in_ch: int, mid_ch: int, out_ch: int) -> nn.Module:
    """`kind` is "7", "6", "5", "4" (RSU-L) or "4F"."""
    if kind == "4F":
        return RSU4F(in_ch, mid_ch, out_ch)
    return RSU(int(kind), in_ch, mid_ch, out_ch)


# (stage name, RSU kind, in, mid, out) for the six encoder and five decoder stages of U²-Net.
U2NET_STAGES: tuple[tuple[str, str, int, int, int], ...] = (
    ("stage1", "7", 3, 32, 64),
    ("stage2", "6", 64, 32, 128),
    ("stage3", "5", 128, 64, 256),
    ("stage4", "4", 256, 128, 512),
    ("stage5", "4F", 512, 256, 512),
    ("stage6", "4F", 512, 256, 512),
    ("stage5d", "4F", 1024, 256, 512),
    ("stage4d", "4", 1024, 128, 256),
    ("stage3d", "5", 512, 64, 128),
    ("stage2d", "6", 256, 32, 64),
    ("stage1d", "7", 128, 16, 64),
)

U2NETP_STAGES: tuple[tuple[str, str, int, int, int], ...] = (
    ("stage1", "7", 3, 16, 64),
    ("stage2", "6", 64, 16, 64),
    ("stage3", "5", 64, 16, 64),
    ("stage4", "4", 64, 16, 64),
    ("stage5", "4F", 64, 16, 64),
    ("stage6", "4F", 64, 16, 64),
    ("stage5d", "4F", 128, 16, 64),
    ("stage4d", "4", 128, 16, 64),
    ("stage3d", "5", 128, 16, 64),
    ("stage2d", "6", 128, 16, 64),
    ("stage1d", "7", 128, 16, 64),
)


class NestedUNet(nn.Module):
    """The two-level U structure common to U²-Net and ISNet: six RSU encoder stages with
    pooling, five RSU decoder stages, and six 3x3 side-output convolutions."""

    def __init__(self, stages: tuple[tuple[str, str, int, int, int], ...], out_ch: int = 1) -> None:
        super().__init__()
        for name, kind, cin, mid, cout in stages:
            self.add_module(name, make_stage(kind, cin, mid, cout))
        for pool_name in ("pool12", "pool23", "pool34", "pool45", "pool56"):
            self.add_module(pool_name, _pool())
        side_in = {
            1: "stage1d",
            2: "stage2d",
            3: "stage3d",
            4: "stage4d",
            5: "stage5d",
            6: "stage6",
        }
        widths = {name: cout for name, _, _, _, cout in stages}
        for level, stage_name in side_in.items():
            self.add_module(f"side{level}", nn.Conv2d(widths[stage_name], out_ch, 3, padding=1))

    def decode(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Run encoder and decoder on the (stem) features; returns [hx1d, hx2d, ..., hx5d, hx6]."""
        hx1 = self.stage1(x)
        hx2 = self.stage2(self.pool12(hx1))
        hx3 = self.stage3(self.pool23(hx2))
        hx4 = self.stage4(self.pool34(hx3))
        hx5 = self.stage5(self.pool45(hx4))
        hx6 = self.stage6(self.pool56(hx5))
        hx5d = self.stage5d(torch.cat((upsample_like(hx6, hx5), hx5), 1))
        hx4d = self.stage4d(torch.cat((upsample_like(hx5d, hx4), hx4), 1))
        hx3d = self.stage3d(torch.cat((upsample_like(hx4d, hx3), hx3), 1))
        hx2d = self.stage2d(torch.cat((upsample_like(hx3d, hx2), hx2), 1))
        hx1d = self.stage1d(torch.cat((upsample_like(hx2d, hx1), hx1), 1))
        return [hx1d, hx2d, hx3d, hx4d, hx5d, hx6]
