"""IFNet, the flow network of RIFE (Huang et al., "Real-Time Intermediate Flow Estimation for
Video Frame Interpolation", ECCV 2022), written here in torch.

Four IFBlocks work coarse to fine (at 1/8, 1/4, 1/2 and 1/1 of the frame by default). Each sees
both frames (warped to time t by the flow so far), the timestep t as a constant channel and the
fusion mask so far, and adds a correction to the intermediate flows F_t->0, F_t->1 (4 channels)
and to the mask (1 channel). The output is warp(I0, F_t->0) * m + warp(I1, F_t->1) * (1 - m),
m = sigmoid(mask). Any t in (0, 1) works: the network is conditioned on it, not trained for 0.5
only.

Layer names and shapes follow the published RIFE 4.x IFNet (block0 192 channels on 7 inputs,
blocks 1-3 with 128, 96 and 64 channels on 8 + 4 inputs), so a state dict of that layout loads
as it is (see neural.py).
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

BLOCK_CHANNELS = (192, 128, 96, 64)
DEFAULT_SCALES = (8.0, 4.0, 2.0, 1.0)


def _conv(in_channels: int, out_channels: int, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, kernel_size=3, stride=stride, padding=1, bias=True),
        nn.LeakyReLU(0.2, inplace=True),
    )


def backward_warp(image: torch.Tensor, flow: torch.Tensor) -> torch.Tensor:
    """Sample `image` (N, C, H, W) at each pixel moved by `flow` (N, 2, H, W, in pixels)."""
    height, width = flow.shape[-2:]
    ys = torch.linspace(-1.0, 1.0, height, device=flow.device, dtype=flow.dtype)
    xs = torch.linspace(-1.0, 1.0, width, device=flow.device, dtype=flow.dtype)
    base_y, base_x = torch.meshgrid(ys, xs, indexing="ij")
    scale = flow.new_tensor([(width - 1.0) / 2.0, (height - 1.0) / 2.0]).view(1, 2, 1, 1)
    grid = torch.stack((base_x, base_y), dim=0).unsqueeze(0) + flow / scale
    return F.grid_sample(
        image, grid.permute(0, 2, 3, 1), mode="bilinear", padding_mode="border", align_corners=True
    )


class IFBlock(nn.Module):
    """One coarse-to-fine step: works at 1/scale of the frame, returns flow and mask corrections
    at full size."""

    def __init__(self, in_channels: int, channels: int) -> None:
        super().__init__()
        self.conv0 = nn.Sequential(_conv(in_channels, channels // 2, 2), _conv(channels // 2, channels, 2))
        self.convblock = nn.Sequential(*(_conv(channels, channels) for _ in range(8)))
        self.lastconv = nn.ConvTranspose2d(channels, 5, kernel_size=4, stride=2, padding=1)

    def forward(
        self, x: torch.Tensor, flow: torch.Tensor | None, scale: float
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """(flow correction, mask correction) for inputs `x` and the flow so far."""
        if scale != 1:
            x = F.interpolate(x, scale_factor=1.0 / scale, mode="bilinear", align_corners=False)
        if flow is not None:
            flow = F.interpolate(flow, scale_factor=1.0 / scale, mode="bilinear", align_corners=False) / scale
            x = torch.cat((x, flow), dim=1)
        x = self.conv0(x)
        x = self.convblock(x) + x
        out = F.interpolate(self.lastconv(x), scale_factor=scale * 2, mode="bilinear", align_corners=False)
        return out[:, :4] * scale * 2, out[:, 4:5]


class IFNet(nn.Module):
    """RIFE's intermediate flow network: two frames and t in, the frame at t out."""

    def __init__(self) -> None:
        super().__init__()
        self.block0 = IFBlock(7, BLOCK_CHANNELS[0])
        self.block1 = IFBlock(8 + 4, BLOCK_CHANNELS[1])
        self.block2 = IFBlock(8 + 4, BLOCK_CHANNELS[2])
        self.block3 = IFBlock(8 + 4, BLOCK_CHANNELS[3])

    @staticmethod
    def size_multiple(scales: tuple[float, ...] = DEFAULT_SCALES) -> int:
        """Height and width must be multiples of this (pad the frames to it)."""
        return int(max(scales) * 4)

    def forward(
        self,
        first: torch.Tensor,
        second: torch.Tensor,
        timestep: torch.Tensor,
        scales: tuple[float, ...] = DEFAULT_SCALES,
    ) -> torch.Tensor:
        """Frames (N, 3, H, W) in [0, 1] and t (N,) -> the frames at t (N, 3, H, W)."""
        batch, _, height, width = first.shape
        t = timestep.to(first.dtype).view(batch, 1, 1, 1).expand(batch, 1, height, width)
        flow, mask = self.block0(torch.cat((first, second, t), dim=1), None, scales[0])
        for block, scale in zip((self.block1, self.block2, self.block3), scales[1:], strict=True):
            warped = (backward_warp(first, flow[:, :2]), backward_warp(second, flow[:, 2:4]))
            flow_step, mask_step = block(torch.cat((*warped, t, mask), dim=1), flow, scale)
            flow, mask = flow + flow_step, mask + mask_step
        weight = torch.sigmoid(mask)
        return backward_warp(first, flow[:, :2]) * weight + backward_warp(second, flow[:, 2:4]) * (1 - weight)
