"""Small building blocks shared by several networks."""

from __future__ import annotations

import torch
from torch import nn


def group_norm(channels: int, max_groups: int = 32) -> nn.GroupNorm:
    """GroupNorm with the largest group count ≤ max_groups that divides ``channels``."""
    groups = max(g for g in range(1, min(max_groups, channels) + 1) if channels % g == 0)
    return nn.GroupNorm(groups, channels, eps=1e-6)


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
