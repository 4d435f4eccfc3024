"""G, the cross-attention generator (paper §III-C, Fig. 1 right).

Up-sampling blocks, each a convolutional residual block followed by a spatial transformer
(self-attention up to ``self_attention_max_size``, cross-attention on the style codes,
feed-forward). The input is the C x 16 x 16 grid of part latents from E_m: the mask enters
only there, and the styles only through cross-attention, with no SPADE layer.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from .attention import SpatialTransformer
from .layers import feature_norm
from .spade import RegionStyleBlock


class ResBlock(nn.Module):
    """Norm-SiLU-conv twice with a (1x1) skip; optionally doubles the resolution."""

    def __init__(self, in_channels: int, out_channels: int, upsample: bool, norm: str = "group"):
        super().__init__()
        self.upsample = upsample
        self.norm1 = feature_norm(in_channels, norm)
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, padding=1)
        self.norm2 = feature_norm(out_channels, norm)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, padding=1)
        self.skip = nn.Conv2d(in_channels, out_channels, 1) if in_channels != out_channels else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = F.silu(self.norm1(x))
        if self.upsample:
            h = F.interpolate(h, scale_factor=2.0, mode="nearest")
            x = F.interpolate(x, scale_factor=2.0, mode="nearest")
        h = self.conv1(h)
        h = self.conv2(F.silu(self.norm2(h)))
        return self.skip(x) + h


class Generator(nn.Module):
    """G: part latents (B, C, s, s) and style codes (B, C, code_dim) → RGB in [-1, 1].

    Args:
        num_classes: C.
        code_dim: size of a class's style code (the cross-attention context).
        input_channels: width of the 1x1 convolution applied to the latent grid.
        channels: output width of each block; block 0 keeps the latent side, every further
            block doubles it (16 → 256 in five blocks in the paper).
        heads / head_dims: attention heads and head size d per block.
        latent_side: s, the side of the latent grid.
        self_attention_max_size: blocks on larger maps use cross-attention only.
        conditioning: "cross_attention" (CA2-SIS) or "spade" (the "w/o CA" ablation, which
            needs the mask at every block).
        norm: "group" (GroupNorm, as in latent diffusion's U-Net) or "pixel" (per-pixel
            channel norm: no spatial statistics, so no droplet artifacts under GAN training).
        mask_bias: β of the cross-attention's prior from the mask (``attention.layout_bias``;
            0: none, as in the paper).
    """

    def __init__(
        self,
        num_classes: int = 19,
        code_dim: int = 1280,
        input_channels: int = 1024,
        channels: Sequence[int] = (512, 256, 128, 64, 64),
        heads: Sequence[int] = (8, 8, 8, 8, 4),
        head_dims: Sequence[int] = (64, 64, 64, 64, 32),
        latent_side: int = 16,
        self_attention_max_size: int = 64,
        conditioning: str = "cross_attention",
        norm: str = "group",
        mask_bias: float = 0.0,
    ):
        super().__init__()
        if conditioning not in ("cross_attention", "spade"):
            raise ValueError(f"unknown conditioning '{conditioning}'")
        self.conditioning = conditioning
        self.mask_bias = mask_bias
        self.conv_in = nn.Conv2d(num_classes, input_channels, 1)
        self.res_blocks = nn.ModuleList()
        self.style_blocks = nn.ModuleList()
        previous = input_channels
        for index, width in enumerate(channels):
            size = latent_side * 2**index
            self.res_blocks.append(ResBlock(previous, width, upsample=index > 0, norm=norm))
            if conditioning == "cross_attention":
                block = SpatialTransformer(
                    width, code_dim, heads[index], head_dims[index],
                    self_attention=size <= self_attention_max_size, norm=norm, mask_bias=mask_bias,
                )
            else:
                block = RegionStyleBlock(width, code_dim)
            self.style_blocks.append(block)
            previous = width
        self.norm_out = feature_norm(previous, norm)
        self.conv_out = nn.Conv2d(previous, 3, 3, padding=1)

    def forward(
        self, latent_grid: torch.Tensor, codes: torch.Tensor, mask: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """Returns the image and the cross-attention maps M_A of every block, each of shape
        (B, heads, C, H, W) (an empty list under "spade" conditioning, which needs ``mask``).

        ``mask``: the one-hot mask (B, C, H, W), or a soft class layout; cross-attention uses
        it only for the mask bias (β > 0), and without it runs unbiased.
        """
        if self.conditioning == "spade" and mask is None:
            raise ValueError("the 'spade' generator needs the one-hot mask")
        x = self.conv_in(latent_grid)
        attention_maps = []
        for res_block, style_block in zip(self.res_blocks, self.style_blocks):
            x = res_block(x)
            if self.conditioning == "cross_attention":
                x, attention_map = style_block(x, codes, mask)
                attention_maps.append(attention_map)
            else:
                x = style_block(x, codes, mask)
        image = torch.tanh(self.conv_out(F.silu(self.norm_out(x))))
        return image, attention_maps
