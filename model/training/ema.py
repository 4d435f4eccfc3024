"""Exponential moving average of the generator-side weights (E_s, E_m, G, or M_s).

GAN weights oscillate from step to step; their running average gives consistently better
faces (Yazici et al. 2019; StyleGAN's G_ema). The average is defined by its half-life in
thousands of images (kimg), so it does not depend on the batch size, with StyleGAN2-ADA's
ramp-up: early in training the half-life is at most ``rampup`` of the images seen, so the
average does not drag the random initial weights along. The copies are what samples,
validation and export use.
"""

from __future__ import annotations

import copy

import torch
from torch import nn


class WeightAverage(nn.Module):
    """Averaged copies of ``networks``; ``update`` after every optimizer step.

    Args:
        networks: the trained networks by name (their averages get the same names).
        half_life_kimg: images (in thousands) after which an old weight's share halves.
        rampup: cap of the half-life as a fraction of the images seen so far (None: off).
    """

    def __init__(self, networks: dict[str, nn.Module], half_life_kimg: float = 10.0, rampup: float | None = 0.05):
        super().__init__()
        if half_life_kimg <= 0:
            raise ValueError("the EMA half-life must be positive")
        self.half_life_kimg = half_life_kimg
        self.rampup = rampup
        self.averages = nn.ModuleDict({name: copy.deepcopy(net).requires_grad_(False).eval()
                                       for name, net in networks.items()})

    def train(self, mode: bool = True) -> WeightAverage:  # noqa: ARG002
        return super().train(False)  # averages are only ever evaluated

    def beta(self, batch_images: int, images_seen: int) -> float:
        """Share of the old average kept after a step of ``batch_images`` images."""
        half_life = self.half_life_kimg * 1000
        if self.rampup is not None:
            half_life = min(half_life, max(images_seen, 1) * self.rampup)
        return 0.5 ** (batch_images / max(half_life, 1e-8))

    @torch.no_grad()
    def update(self, networks: dict[str, nn.Module], batch_images: int, images_seen: int) -> None:
        beta = self.beta(batch_images, images_seen)
        for name, net in networks.items():
            average = self.averages[name]
            for p_avg, p in zip(average.parameters(), net.parameters()):
                p_avg.lerp_(p.detach(), 1.0 - beta)
            for b_avg, b in zip(average.buffers(), net.buffers()):
                b_avg.copy_(b)  # running statistics are copied, not averaged

    @torch.no_grad()
    def reset_to(self, networks: dict[str, nn.Module]) -> None:
        """Make every average equal to the live network (e.g. after a warm start)."""
        for name, net in networks.items():
            self.averages[name].load_state_dict(net.state_dict())
