"""Training losses: hinge adversarial, feature matching, L1, the attention loss L_att
(paper Eq. 6), the diversity loss L_dv (§IV-G) and the VGG19 perceptual loss.

The perceptual loss needs VGG19 ImageNet weights, which ca2sis never downloads: give a
weights file (torchvision's ``vgg19-dcbb9e9d.pth`` state dict, or the same tensors in
safetensors) and it is used; without one it is off.
"""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import WeightsError

Predictions = list[list[torch.Tensor]]  # D output: per scale, [features ..., prediction]


def hinge_discriminator_loss(real: Predictions, fake: Predictions) -> torch.Tensor:
    """L_D = E[max(0, 1 - D(x))] + E[max(0, 1 + D(G(z)))], averaged over scales."""
    losses = [F.relu(1 - r[-1]).mean() + F.relu(1 + f[-1]).mean() for r, f in zip(real, fake)]
    return torch.stack(losses).mean()


def hinge_generator_loss(fake: Predictions) -> torch.Tensor:
    """L_G = -E[D(G(z))], averaged over scales."""
    return torch.stack([-f[-1].mean() for f in fake]).mean()


def feature_matching_loss(fake: Predictions, real: Predictions) -> torch.Tensor:
    """L1 between D's intermediate features of fake and real images (pix2pixHD)."""
    losses = [
        F.l1_loss(f, r.detach())
        for fake_scale, real_scale in zip(fake, real)
        for f, r in zip(fake_scale[:-1], real_scale[:-1])
    ]
    return torch.stack(losses).sum() / len(fake)


def attention_loss(attention_maps: list[torch.Tensor], mask: torch.Tensor, eps: float = 1e-6) -> torch.Tensor:
    """L_att (Eq. 6): BCE between every head's cross-attention map of class c and mask
    channel c resized to the map, averaged over pixels, heads, classes and blocks.

    attention_maps: each (B, h, C, H, W), softmax over C; mask: (B, C, H0, W0) one-hot.
    The mask is area-resized: the target of a cell is the share of it class c covers,
    which still sums to 1 over classes like the softmax it is compared with.
    """
    if not attention_maps:
        raise ValueError("the attention loss needs cross-attention maps (generator_conditioning='spade' has none)")
    losses = []
    for attention in attention_maps:
        x = attention.float().clamp(eps, 1 - eps)
        y = F.adaptive_avg_pool2d(mask.float(), x.shape[-2:]).unsqueeze(1)
        losses.append(-(y * x.log() + (1 - y) * (1 - x).log()).mean())
    return torch.stack(losses).mean()


def diversity_loss(image_a: torch.Tensor, image_b: torch.Tensor) -> torch.Tensor:
    """L_dv = -||G(M_s(z1), m) - G(M_s(z2), m)||_1: rewards different faces for one mask."""
    return -(image_a - image_b).abs().mean()


# VGG19 "features" layout (torchvision indices); M is a 2x2 max-pool.
_VGG19_LAYOUT = (64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512, 512, 512, 512, "M", 512, 512, 512, 512)
_VGG_SLICES = (2, 7, 12, 21, 30)  # ends of relu1_1, relu2_1, relu3_1, relu4_1, relu5_1
_VGG_WEIGHTS = (1 / 32, 1 / 16, 1 / 8, 1 / 4, 1.0)


def _vgg19_features() -> nn.Sequential:
    layers: list[nn.Module] = []
    channels = 3
    for item in _VGG19_LAYOUT:
        if item == "M":
            layers.append(nn.MaxPool2d(2, 2))
        else:
            layers += [nn.Conv2d(channels, int(item), 3, padding=1), nn.ReLU(inplace=False)]
            channels = int(item)
    return nn.Sequential(*layers)


def load_state_dict_file(path: str | Path) -> dict[str, torch.Tensor]:
    """Tensors from a .safetensors file, or a .pt/.pth state dict loaded without pickle code.

    ``torch.load(weights_only=True)`` refuses any pickled object other than tensors and
    plain containers, so a malicious pickle cannot run code here.
    """
    path = Path(path)
    if not path.is_file():
        raise WeightsError(f"weights file not found: {path}")
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file

        try:
            return load_file(str(path))
        except Exception as exc:  # safetensors raises its own error types
            raise WeightsError(f"cannot read {path} as safetensors: {exc}") from exc
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise WeightsError(f"cannot read {path} as a tensor state dict (pickled code is refused): {exc}") from exc
    if isinstance(state, dict) and "state_dict" in state:
        state = state["state_dict"]
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise WeightsError(f"{path} holds no plain state dict of tensors")
    return state


class VGGPerceptualLoss(nn.Module):
    """Σ_k w_k · L1(φ_k(x), φ_k(y)) over relu1_1 … relu5_1 of an ImageNet VGG19."""

    def __init__(self, weights_path: str | Path):
        super().__init__()
        features = _vgg19_features()
        state = load_state_dict_file(weights_path)
        state = {k.removeprefix("features."): v for k, v in state.items() if not k.startswith("classifier.")}
        try:
            features.load_state_dict(state, strict=True)
        except RuntimeError as exc:
            raise WeightsError(f"{weights_path} is not a VGG19 state dict: {exc}") from exc
        bounds = (0, *_VGG_SLICES)
        self.slices = nn.ModuleList(features[a:b] for a, b in zip(bounds[:-1], bounds[1:]))
        self.requires_grad_(False)
        self.eval()
        self.register_buffer("mean", torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1))

    def train(self, mode: bool = True) -> VGGPerceptualLoss:  # noqa: ARG002
        return super().train(False)  # a fixed feature extractor, never in training mode

    def forward(self, fake: torch.Tensor, real: torch.Tensor) -> torch.Tensor:
        x = ((fake + 1) / 2 - self.mean) / self.std
        y = ((real + 1) / 2 - self.mean) / self.std
        loss = fake.new_zeros(())
        for weight, block in zip(_VGG_WEIGHTS, self.slices):
            x, y = block(x), block(y)
            loss = loss + weight * F.l1_loss(x, y.detach())
        return loss
