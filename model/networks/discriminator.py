"""D, the multi-scale PatchGAN discriminator (as in pix2pixHD and SPADE).

Each scale judges (mask, image) pairs patch by patch; the input of scale k+1 is that of
scale k average-pooled by 2. Every intermediate activation is returned so the generator
can be trained with the feature-matching loss.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm


class PatchDiscriminator(nn.Module):
    """One scale: 4x4 convolutions, spectral norm + instance norm, LeakyReLU(0.2)."""

    def __init__(self, in_channels: int, channels: int = 64, layers: int = 4, max_channels: int = 512):
        super().__init__()
        blocks = [nn.Sequential(nn.Conv2d(in_channels, channels, 4, stride=2, padding=2), nn.LeakyReLU(0.2))]
        width = channels
        for n in range(1, layers):
            previous, width = width, min(width * 2, max_channels)
            stride = 1 if n == layers - 1 else 2
            blocks.append(
                nn.Sequential(
                    spectral_norm(nn.Conv2d(previous, width, 4, stride=stride, padding=2)),
                    nn.InstanceNorm2d(width),
                    nn.LeakyReLU(0.2),
                )
            )
        blocks.append(nn.Conv2d(width, 1, 4, stride=1, padding=2))
        self.blocks = nn.ModuleList(blocks)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        features = []
        for block in self.blocks:
            x = block(x)
            features.append(x)
        return features  # the last entry is the patch prediction


class MultiScaleDiscriminator(nn.Module):
    """D: (one-hot mask, image) → per scale, [intermediate features ..., prediction].

    Args:
        num_classes: C, mask channels concatenated to the 3 image channels.
        channels / layers: width of the first layer and number of conv layers per scale.
        scales: number of discriminators at successively halved resolutions.
    """

    def __init__(self, num_classes: int = 19, channels: int = 64, layers: int = 4, scales: int = 2):
        super().__init__()
        self.scales = nn.ModuleList(
            PatchDiscriminator(num_classes + 3, channels, layers) for _ in range(scales)
        )

    def forward(self, mask: torch.Tensor, image: torch.Tensor) -> list[list[torch.Tensor]]:
        x = torch.cat([mask, image], dim=1)
        outputs = []
        for index, scale in enumerate(self.scales):
            if index:
                x = F.avg_pool2d(x, 3, stride=2, padding=1, count_include_pad=False)
            outputs.append(scale(x))
        return outputs
