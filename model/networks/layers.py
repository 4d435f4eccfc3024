"""Small building blocks shared by several networks."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ..config import FEATURE_NORMS


def group_norm(channels: int, max_groups: int = 32) -> nn.GroupNorm:
    """GroupNorm with the largest group count ≤ max_groups that divides ``channels``."""
    groups = max(g for g in range(1, min(max_groups, channels) + 1) if channels % g == 0)
    return nn.GroupNorm(groups, channels, eps=1e-6)


class PixelNorm(nn.Module):
    """Layer norm over the channels of each pixel, with a per-channel scale and shift.

    Unlike GroupNorm it takes no statistics over space, so a GAN generator cannot shrink a
    whole feature map by planting one strong local spike in it: the "droplet" artifacts
    StyleGAN2 traced to instance normalisation, which G showed as dark blobs where the spike
    sat. Its parameters have GroupNorm's names and shapes, so GroupNorm weights load into it.
    """

    def __init__(self, channels: int, eps: float = 1e-6):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(channels))
        self.bias = nn.Parameter(torch.zeros(channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training:
            # One fused LayerNormalization over the channels (between two transposes) in an
            # exported graph, instead of nine element-wise passes over the feature map
            # (ORT profile at 256 px, docs/speed.md); the same norm up to float rounding.
            channels_last = F.layer_norm(x.movedim(1, -1), (x.shape[1],), self.weight, self.bias, self.eps)
            return channels_last.movedim(-1, 1)
        mean = x.mean(dim=1, keepdim=True)
        centred = x - mean
        variance = centred.square().mean(dim=1, keepdim=True)
        shape = (1, -1) + (1,) * (x.dim() - 2)
        return centred * torch.rsqrt(variance + self.eps) * self.weight.view(shape) + self.bias.view(shape)


def feature_norm(channels: int, kind: str = "group") -> nn.Module:
    """The normalisation of G's feature maps: ``group`` (GroupNorm) or ``pixel`` (PixelNorm)."""
    if kind == "group":
        return group_norm(channels)
    if kind == "pixel":
        return PixelNorm(channels)
    raise ValueError(f"unknown feature norm '{kind}' (one of {FEATURE_NORMS})")


def concat_groups(a: torch.Tensor, b: torch.Tensor, groups: int) -> torch.Tensor:
    """Concatenate two grouped feature maps group by group.

    A grouped convolution reads group g from a contiguous slice of channels, so a plain
    ``torch.cat`` along channels would hand class j's skip features to another class's
    filters. Here the result holds [a_g, b_g] for each group g in turn.
    """
    n, _, h, w = a.shape
    a = a.reshape(n, groups, -1, h, w)
    b = b.reshape(n, groups, -1, h, w)
    return torch.cat([a, b], dim=2).reshape(n, -1, h, w)
