"""E_m, the mask parts embedder (paper §III-B, Fig. 1 middle).

Each mask channel M_j is resized, flattened and passed *separately* through one linear
layer shared by all classes, giving a latent m_j of size 256; the C latents are reshaped
to C x 16 x 16 and become the generator's input. Because every part has its own latent,
a part's shape can be swapped or interpolated alone (§IV-C):

    m_j = α E_m(M_j^1) + (1 - α) E_m(M_j^2)
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn


class MaskEmbedder(nn.Module):
    """E_m: one-hot mask (B, C, H, W) → part latents (B, C, latent_dim).

    Args:
        input_size: side each mask channel is resized to before flattening.
        latent_dim: size of m_j; must be a square number (reshaped for G).
        learned: False builds the "w/o E_m" ablation: the latent is the mask channel
            itself, area-resized to sqrt(latent_dim) x sqrt(latent_dim).
    """

    def __init__(self, input_size: int = 128, latent_dim: int = 256, learned: bool = True):
        super().__init__()
        side = math.isqrt(latent_dim)
        if side * side != latent_dim:
            raise ValueError(f"latent_dim={latent_dim} is not a square number")
        self.input_size = input_size
        self.latent_dim = latent_dim
        self.side = side
        self.learned = learned
        self.linear = nn.Linear(input_size * input_size, latent_dim) if learned else None

    def forward(self, mask: torch.Tensor) -> torch.Tensor:
        """Latents m_j of every channel; channels are independent of each other."""
        size = self.input_size if self.learned else self.side
        # Area resizing: a part keeps its exact coverage fraction, so thin parts survive.
        resized = F.adaptive_avg_pool2d(mask, (size, size))
        flat = resized.flatten(2)  # (B, C, size*size)
        return self.linear(flat) if self.linear is not None else flat

    def to_grid(self, latents: torch.Tensor) -> torch.Tensor:
        """(B, C, latent_dim) → (B, C, side, side), the generator's input."""
        return latents.view(latents.shape[0], latents.shape[1], self.side, self.side)
