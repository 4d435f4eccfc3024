"""E_s, the multi-resolution grouped style encoder (paper §III-A, Fig. 1 left).

A U-Net of ``down_layers`` stride-2 and ``up_layers`` up-sampling convolutions with skip
connections. Every convolution after the first is grouped, one group of filters per
semantic class, and followed by GroupNorm with C groups and a ReLU, so the features of
group j only ever describe class j. After each up layer i the class-j features are masked
by mask channel j (resized) and average-pooled (Eq. 1):

    S_{i,j} = AP(F_{i,j} · M_j)

then a per-class 1x1 convolution brings each level to ``style_dim``; the L_up levels are
concatenated into C x (L_up · style_dim) style codes (19 x 1280 in the paper).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .layers import concat_groups


def masked_average_pool(features: torch.Tensor, mask: torch.Tensor, grouped: bool) -> torch.Tensor:
    """Eq. 1: average of ``features`` over the pixels of each mask channel.

    features: (B, K, H, W); mask: (B, C, H, W) with values in [0, 1] at the same size.
    grouped: K = C·g and class j pools only its own g channels → (B, C, g);
    otherwise every class pools all K channels → (B, C, K).
    A class absent from the mask gets a zero vector (the area is clamped, never 0/0).
    """
    batch, channels, height, width = features.shape
    classes = mask.shape[1]
    # Area in float32 and weights normalised before the sum: in fp16 a 256x256 area
    # (65,536) and a sum over it both overflow 65,504.
    area = mask.float().sum(dim=(2, 3)).clamp_min(1.0)  # (B, C)
    weights = (mask.float() / area[..., None, None]).to(features.dtype).reshape(batch, classes, -1)
    if grouped:
        feats = features.reshape(batch, classes, channels // classes, height * width)
        return torch.einsum("bcgp,bcp->bcg", feats, weights)
    return torch.einsum("bkp,bcp->bck", features.flatten(2), weights)


class _ConvNormReLU(nn.Sequential):
    def __init__(self, in_ch: int, out_ch: int, groups: int, norm_groups: int, stride: int = 1):
        super().__init__(
            nn.Conv2d(in_ch, out_ch, 3, stride=stride, padding=1, groups=groups),
            nn.GroupNorm(norm_groups, out_ch),
            nn.ReLU(inplace=True),
        )


class StyleEncoder(nn.Module):
    """E_s: (image y, one-hot mask M) → per-class multi-resolution style codes E_s(y).

    Args:
        num_classes: C, the number of semantic classes (one filter group each).
        features_per_class: f, filters per group in the first layer; each down layer
            doubles it, up to ``max_features_per_class``.
        down_layers / up_layers: the paper uses 6 and 5.
        style_dim: size of each level's code after the 1x1 convolution (256).
        grouped: False builds the "w/o GC" ablation with ordinary convolutions.
    """

    def __init__(
        self,
        num_classes: int = 19,
        features_per_class: int = 4,
        down_layers: int = 6,
        up_layers: int = 5,
        style_dim: int = 256,
        max_features_per_class: int = 256,
        grouped: bool = True,
    ):
        super().__init__()
        if up_layers > down_layers:
            raise ValueError("up_layers must be at most down_layers")
        self.num_classes = num_classes
        self.up_layers = up_layers
        self.style_dim = style_dim
        self.grouped = grouped
        c = num_classes
        groups = c if grouped else 1
        # widths[k]: channels at encoder level k (k=0 full resolution, k=down_layers deepest)
        per_class = [min(features_per_class * 2**k, max_features_per_class) for k in range(down_layers + 1)]
        widths = [c * w for w in per_class]
        self.widths = widths

        # The RGB input has 3 channels, so the first layer cannot be grouped by class.
        self.stem = _ConvNormReLU(3, widths[0], groups=1, norm_groups=c)
        self.down = nn.ModuleList(
            _ConvNormReLU(widths[k], widths[k + 1], groups, c, stride=2) for k in range(down_layers)
        )
        self.up = nn.ModuleList()
        self.to_style = nn.ModuleList()
        in_ch = widths[down_layers]
        for i in range(up_layers):
            level = down_layers - 1 - i  # encoder level whose resolution this up layer reaches
            self.up.append(_ConvNormReLU(in_ch, widths[level], groups, c))
            pooled = widths[level] // c if grouped else widths[level]
            # Per-class 1x1 convolution as a grouped Conv1d: class j has its own weights.
            self.to_style.append(nn.Conv1d(c * pooled, c * style_dim, 1, groups=c))
            in_ch = 2 * widths[level]  # after concatenating the skip connection

    @property
    def code_dim(self) -> int:
        return self.up_layers * self.style_dim

    def forward(self, image: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """image: (B, 3, H, W) in [-1, 1]; mask: (B, C, H, W) one-hot → (B, C, code_dim)."""
        x = self.stem(image)
        skips = []
        for layer in self.down:
            skips.append(x)
            x = layer(x)
        groups = self.num_classes if self.grouped else 1
        codes = []
        for i, (layer, to_style) in enumerate(zip(self.up, self.to_style)):
            x = layer(F.interpolate(x, scale_factor=2.0, mode="bilinear", align_corners=False))
            # Area resizing keeps small parts (eyes at 8x8) present as a fraction of a pixel.
            level_mask = F.adaptive_avg_pool2d(mask, x.shape[-2:])
            pooled = masked_average_pool(x, level_mask, self.grouped)  # (B, C, g)
            code = to_style(pooled.flatten(1).unsqueeze(-1))  # (B, C*style_dim, 1)
            codes.append(torch.tanh(code.view(x.shape[0], self.num_classes, self.style_dim)))
            x = concat_groups(x, skips[-1 - i], groups)
        return torch.cat(codes, dim=2)
