"""M_s, the mapping network for diversity-driven generation (paper §IV-G, Fig. 15).

z ~ N(0, 1) passes through 3 shared linear layers of 512, then branches into C paths of
4 linear layers (512, 512, 512, then the code size 1280), one path per class. The C codes
replace E_s(y) as the cross-attention Key and Value (Eq. 7); like E_s's, they pass a tanh.
It is trained after the main networks, with G frozen, a re-initialised D, and L_D + the
diversity loss L_dv.
"""

from __future__ import annotations

import torch
from torch import nn


def _mlp(sizes: list[int]) -> nn.Sequential:
    layers: list[nn.Module] = []
    for index, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(nn.Linear(a, b))
        if index < len(sizes) - 2:
            layers.append(nn.ReLU(inplace=True))
    return nn.Sequential(*layers)


class MappingNetwork(nn.Module):
    """M_s: noise (B, z_dim) → style codes (B, C, code_dim), one branch per class."""

    def __init__(
        self,
        num_classes: int = 19,
        code_dim: int = 1280,
        z_dim: int = 256,
        hidden: int = 512,
        branch_hidden: int = 512,
    ):
        super().__init__()
        self.z_dim = z_dim
        self.shared = nn.Sequential(_mlp([z_dim, hidden, hidden, hidden]), nn.ReLU(inplace=True))
        self.branches = nn.ModuleList(
            _mlp([hidden, branch_hidden, branch_hidden, branch_hidden, code_dim]) for _ in range(num_classes)
        )

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        h = self.shared(z)
        # tanh as at the end of E_s: the codes stay in the range G was trained on.
        return torch.tanh(torch.stack([branch(h) for branch in self.branches], dim=1))
