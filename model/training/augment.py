"""Differentiable augmentation of D's input, paired and adaptive (for training on few faces).

With 800 faces D memorises the real ones within a few epochs and stops teaching G
(DiffAugment, Zhao et al. 2020; ADA, Karras et al. 2020). Here every input of D, real or
generated, is augmented by the same differentiable transforms before D sees it:

- translation by up to ``translation`` of the side (zero padding),
- cutout of a square of ``cutout`` of the side,
- colour: brightness, saturation and contrast (image channels only).

*Paired*: D judges (mask, image) pairs, so translation and cutout move the mask channels
with the image; and face i's real and generated versions get the same draw, so the
feature-matching loss still compares the same pixels. G's L1 and the other losses see the
unaugmented faces.

*Adaptive*: each transform is applied to a face with probability ``p``; ``p`` is raised
when D grows too sure of the real faces (E[sign D(real)] above ``target``) and lowered
otherwise, as in ADA. ``p`` is a buffer, so it is saved in the checkpoint.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn


@dataclass
class AugmentDraw:
    """One draw of augmentation parameters for a batch of B faces."""

    shift: torch.Tensor  # (B, 2) integer pixel shifts (dy, dx)
    cutout_centre: torch.Tensor  # (B, 2) integer (cy, cx)
    cutout_on: torch.Tensor  # (B,) bool
    colour_on: torch.Tensor  # (B,) bool
    brightness: torch.Tensor  # (B, 1, 1, 1) added
    saturation: torch.Tensor  # (B, 1, 1, 1) multiplier of the deviation from the grey
    contrast: torch.Tensor  # (B, 1, 1, 1) multiplier of the deviation from the mean

    def repeat(self, times: int) -> AugmentDraw:
        """The same draw for ``times`` stacked copies of the batch (e.g. real then generated)."""
        return AugmentDraw(*(t.repeat(times, *([1] * (t.dim() - 1))) for t in vars(self).values()))


class PairedAugment(nn.Module):
    """Augments D's input, a (B, C + 3, H, W) tensor of one-hot mask channels then RGB.

    Args:
        translation: largest shift as a fraction of the side (DiffAugment: 1/8).
        cutout: side of the cut-out square as a fraction of the image side (DiffAugment: 1/2).
        colour: also augment brightness, saturation and contrast of the image.
        target: ADA's target for E[sign D(real)]; ``None`` keeps ``p`` fixed at ``initial_p``.
        speed_kimg: thousands of images over which ``p`` may move from 0 to 1.
        initial_p: probability of each transform at the start.
    """

    def __init__(
        self,
        translation: float = 0.125,
        cutout: float = 0.5,
        colour: bool = True,
        target: float | None = 0.6,
        speed_kimg: float = 20.0,
        initial_p: float = 0.0,
    ):
        super().__init__()
        self.translation = translation
        self.cutout = cutout
        self.colour = colour
        self.target = target
        self.speed_kimg = speed_kimg
        self.register_buffer("p", torch.tensor(float(initial_p)))
        # sums of sign(D(real)) and their count since the last adjustment
        self.register_buffer("sign_sum", torch.zeros(()))
        self.register_buffer("sign_count", torch.zeros(()))

    def draw(self, batch: int, height: int, width: int, generator: torch.Generator) -> AugmentDraw:
        """Random parameters for ``batch`` faces; transforms not chosen are the identity."""
        p = float(self.p)

        def chosen() -> torch.Tensor:
            return torch.rand(batch, generator=generator) < p

        limit = torch.tensor([int(height * self.translation), int(width * self.translation)])
        shift = (torch.rand(batch, 2, generator=generator) * (2 * limit + 1)).floor().long() - limit
        shift = shift * chosen()[:, None]
        centre = (torch.rand(batch, 2, generator=generator) * torch.tensor([height, width])).long()
        cutout_on = chosen() & (self.cutout > 0)
        colour_on = chosen() & self.colour
        shape = (batch, 1, 1, 1)
        # DiffAugment's ranges: brightness ±0.5 (of the [-1, 1] range: ±0.25 of it),
        # saturation x[0, 2], contrast x[0.5, 1.5].
        brightness = (torch.rand(shape, generator=generator) - 0.5) * colour_on.view(shape)
        saturation = torch.where(colour_on.view(shape), torch.rand(shape, generator=generator) * 2, 1.0)
        contrast = torch.where(colour_on.view(shape), torch.rand(shape, generator=generator) + 0.5, 1.0)
        return AugmentDraw(shift, centre, cutout_on, colour_on, brightness, saturation, contrast)

    def forward(self, pairs: torch.Tensor, draw: AugmentDraw) -> torch.Tensor:
        """Apply ``draw`` to ``pairs`` (B, C + 3, H, W); the last 3 channels are the image."""
        batch, _, height, width = pairs.shape
        device = pairs.device
        if self.colour and bool(draw.colour_on.any()):
            mask, image = pairs[:, :-3], pairs[:, -3:]
            changed = image + draw.brightness.to(device, image.dtype)
            grey = changed.mean(dim=1, keepdim=True)
            changed = (changed - grey) * draw.saturation.to(device, image.dtype) + grey
            mean = changed.mean(dim=(1, 2, 3), keepdim=True)
            changed = (changed - mean) * draw.contrast.to(device, image.dtype) + mean
            image = torch.where(draw.colour_on.to(device).view(batch, 1, 1, 1), changed, image)
            pairs = torch.cat([mask, image], dim=1)
        if self.translation > 0:
            pairs = _translate(pairs, draw.shift.to(device))
        if self.cutout > 0:
            pairs = _cutout(pairs, draw.cutout_centre.to(device), draw.cutout_on.to(device), self.cutout)
        return pairs

    # ---- ADA ------------------------------------------------------------------------
    @torch.no_grad()
    def observe(self, real_predictions: list[torch.Tensor]) -> None:
        """Accumulate sign(D(real)) of the last step (patch predictions of every scale)."""
        if self.target is None:
            return
        for prediction in real_predictions:
            self.sign_sum += prediction.detach().float().sign().mean()
            self.sign_count += 1

    @torch.no_grad()
    def adjust(self, images_seen: int) -> float:
        """Move ``p`` toward keeping E[sign D(real)] at ``target``; returns that estimate."""
        if self.target is None or float(self.sign_count) == 0:
            return float("nan")
        estimate = float(self.sign_sum / self.sign_count)
        step = images_seen / (self.speed_kimg * 1000)
        self.p.copy_((self.p + step * (1.0 if estimate > self.target else -1.0)).clamp(0.0, 1.0))
        self.sign_sum.zero_()
        self.sign_count.zero_()
        return estimate


def _translate(x: torch.Tensor, shift: torch.Tensor) -> torch.Tensor:
    """Shift each item by integer (dy, dx); uncovered pixels are 0 (no class, mid grey)."""
    batch, _, height, width = x.shape
    rows = torch.arange(height, device=x.device)[None, :] - shift[:, :1]  # (B, H) source rows
    cols = torch.arange(width, device=x.device)[None, :] - shift[:, 1:]  # (B, W)
    inside = ((rows >= 0) & (rows < height))[:, :, None] & ((cols >= 0) & (cols < width))[:, None, :]
    items = torch.arange(batch, device=x.device)[:, None, None]
    # Advanced indexing around the channel slice puts the channel axis last.
    moved = x[items, :, rows.clamp(0, height - 1)[:, :, None], cols.clamp(0, width - 1)[:, None, :]]
    return moved.permute(0, 3, 1, 2) * inside[:, None].to(x.dtype)


def _cutout(x: torch.Tensor, centre: torch.Tensor, on: torch.Tensor, fraction: float) -> torch.Tensor:
    """Zero a square of side ``fraction`` of the image around ``centre`` where ``on``."""
    _, _, height, width = x.shape
    half_h, half_w = int(height * fraction) // 2, int(width * fraction) // 2
    rows = torch.arange(height, device=x.device)[None, :]
    cols = torch.arange(width, device=x.device)[None, :]
    in_rows = (rows - centre[:, :1]).abs() < half_h  # (B, H)
    in_cols = (cols - centre[:, 1:]).abs() < half_w  # (B, W)
    hole = in_rows[:, :, None] & in_cols[:, None, :] & on[:, None, None]
    return x * (~hole)[:, None].to(x.dtype)
