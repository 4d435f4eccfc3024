"""Region-adaptive normalisation for the "w/o CA" ablation (paper Table 3).

SPADE/SEAN-style conditioning: each class's style code is broadcast over the pixels of
that class (the mask resized to the feature map), and from that style map a convolution
predicts per-pixel γ, β that de-normalise the instance-normalised features. Unlike
cross-attention this needs the mask inside the generator at every layer.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class RegionStyleNorm(nn.Module):
    """InstanceNorm(x) · (1 + γ) + β with γ, β predicted from the region-broadcast styles."""

    def __init__(self, channels: int, code_dim: int, hidden: int = 128):
        super().__init__()
        self.norm = nn.InstanceNorm2d(channels, affine=False)
        self.project = nn.Linear(code_dim, hidden)  # per class, before broadcasting: cheaper
        self.shared = nn.Sequential(nn.Conv2d(hidden, hidden, 3, padding=1), nn.ReLU(inplace=True))
        self.gamma = nn.Conv2d(hidden, channels, 3, padding=1)
        self.beta = nn.Conv2d(hidden, channels, 3, padding=1)

    def forward(self, x: torch.Tensor, codes: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        region = F.adaptive_avg_pool2d(mask, x.shape[-2:])  # (B, C, H, W)
        style_map = torch.einsum("bcd,bchw->bdhw", self.project(codes), region)
        h = self.shared(style_map)
        return self.norm(x) * (1 + self.gamma(h)) + self.beta(h)


class RegionStyleBlock(nn.Module):
    """Residual unit x + conv(act(RegionStyleNorm(x))): stands where the transformer would."""

    def __init__(self, channels: int, code_dim: int):
        super().__init__()
        self.modulate = RegionStyleNorm(channels, code_dim)
        self.conv = nn.Conv2d(channels, channels, 3, padding=1)

    def forward(self, x: torch.Tensor, codes: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return x + self.conv(F.silu(self.modulate(x, codes, mask)))
