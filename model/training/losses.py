"""Training losses: hinge adversarial, feature matching, L1, the attention loss L_att
(paper Eq. 6), the diversity loss L_dv (§IV-G), the VGG19 perceptual loss, and what
training on few faces adds: the face-parser perceptual and semantic losses, the LeCam
regulariser of D, the swap-locality loss of one-part style swaps, the per-part colour loss
(each part's CIELAB mean and spread, of reconstructions and of swapped parts) and the
code-statistics loss that keeps M_s's codes where E_s's are.

The VGG19 loss needs ImageNet weights, which ca2sis never downloads: give a weights file
(torchvision's ``vgg19-dcbb9e9d.pth`` state dict, or the same tensors in safetensors) and
it is used; without one it is off. The parser losses use the project's own bundled face
parser, so they are always available.
"""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import WeightsError
from ..faces.parser import FaceParser

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


# ---- losses for training on few faces --------------------------------------------------


class ParserLoss(nn.Module):
    """The frozen face parser as a perceptual space, and as a judge of the painted mask.

    - perceptual: Σ_levels mean ||n(φ_l(G)) - n(φ_l(y))||² over the parser's encoder
      features, each unit-normalised over channels (as LPIPS does with VGG): no ImageNet
      weights are needed, and a face parser's features are made to tell face parts apart.
    - semantic: cross-entropy of the parser's labels of G's face against the input mask,
      so the generated face shows the parts where they were painted.

    Args:
        parser: a trained FaceParser; frozen here and kept in eval mode (BatchNorm running
            statistics).
        input_size: side the faces are resized to before parsing (None: as they come); the
            parser's own training size: at 128 px the bundled parser's cross-entropy on real
            faces is 3-5x what it is at its 256 px.
    """

    def __init__(self, parser: FaceParser, input_size: int | None = None):
        super().__init__()
        self.parser = parser.requires_grad_(False).eval()
        self.input_size = input_size

    def train(self, mode: bool = True) -> ParserLoss:  # noqa: ARG002
        return super().train(False)

    def _resize(self, image: torch.Tensor) -> torch.Tensor:
        if self.input_size is None or image.shape[-1] == self.input_size:
            return image
        return F.interpolate(image, size=(self.input_size,) * 2, mode="bilinear", align_corners=False)

    def forward(
        self, fake: torch.Tensor, real: torch.Tensor, labels: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """fake, real: (B, 3, H, W) in [-1, 1]; labels: (B, H, W) class indices.

        Returns (perceptual, semantic), both float32 scalars.
        """
        fake_features, fake_logits = self.parser.features(self._resize(fake))
        with torch.no_grad():
            real_features, _ = self.parser.features(self._resize(real))
        perceptual = fake.new_zeros((), dtype=torch.float32)
        for f, r in zip(fake_features, real_features):
            f = F.normalize(f.float(), dim=1)
            r = F.normalize(r.float(), dim=1)
            perceptual = perceptual + (f - r).pow(2).sum(dim=1).mean()
        logits = fake_logits.float()
        if logits.shape[-2:] != labels.shape[-2:]:
            logits = F.interpolate(logits, size=labels.shape[-2:], mode="bilinear", align_corners=False)
        semantic = F.cross_entropy(logits, labels.long())
        return perceptual / len(fake_features), semantic


class LeCamRegularizer(nn.Module):
    """LeCam regularisation of D (Tseng et al. 2021), for GANs trained on little data.

    R_LC = E[relu(D(x) - α_F)²] + E[relu(α_R - D(G(z)))²], where α_R and α_F are moving
    averages of D's mean prediction on real and generated faces. It keeps D's predictions
    from drifting apart without bound, which is how D overfits a small set. The averages
    are buffers (saved in checkpoints).
    """

    def __init__(self, decay: float = 0.99):
        super().__init__()
        self.decay = decay
        self.register_buffer("real_mean", torch.zeros(()))
        self.register_buffer("fake_mean", torch.zeros(()))

    def forward(self, real: Predictions, fake: Predictions) -> torch.Tensor:
        real_pred = torch.cat([scale[-1].float().flatten() for scale in real])
        fake_pred = torch.cat([scale[-1].float().flatten() for scale in fake])
        with torch.no_grad():
            self.real_mean.lerp_(real_pred.mean(), 1 - self.decay)
            self.fake_mean.lerp_(fake_pred.mean(), 1 - self.decay)
        return F.relu(real_pred - self.fake_mean).pow(2).mean() + F.relu(self.real_mean - fake_pred).pow(2).mean()


def dilate(region: torch.Tensor, radius: int) -> torch.Tensor:
    """Grow a (B, 1, H, W) 0/1 region by ``radius`` pixels (square structuring element)."""
    if radius <= 0:
        return region
    return F.max_pool2d(region, 2 * radius + 1, stride=1, padding=radius)


def swap_locality_loss(
    swapped: torch.Tensor,
    original: torch.Tensor,
    part: torch.Tensor,
    reference: torch.Tensor,
    reference_part: torch.Tensor,
    radius: int = 3,
) -> tuple[torch.Tensor, torch.Tensor]:
    """How local a one-part style swap is, and how far the part moves toward its reference.

    swapped: G's face with one part's style code taken from another face; original: G's
    face with its own codes (a target: detach it); part: (B, 1, H, W) that part's region in
    this face; reference / reference_part: the other face and its region of the part.

    Returns (outside, transfer):
    - outside: mean |swapped - original| outside the part grown by ``radius`` pixels (its
      boundary may legitimately change); zero when the swap changes nothing there.
    - transfer: L1 between the part's mean colour in ``swapped`` and in the reference.
    """
    part = part.float()
    keep = 1.0 - dilate(part, radius)
    outside = ((swapped.float() - original.float()).abs() * keep).sum() / (keep.sum() * swapped.shape[1]).clamp_min(1)

    def mean_colour(image: torch.Tensor, region: torch.Tensor) -> torch.Tensor:
        return (image.float() * region).sum(dim=(2, 3)) / region.sum(dim=(2, 3)).clamp_min(1.0)

    reference_part = reference_part.float()
    transfer = (mean_colour(swapped, part) - mean_colour(reference, reference_part)).abs().mean()
    return outside, transfer


# sRGB (D65) → CIE XYZ, and the D65 white point: the standard CIELAB definition.
_RGB_TO_XYZ = ((0.4124564, 0.3575761, 0.1804375), (0.2126729, 0.7151522, 0.0721750), (0.0193339, 0.1191920, 0.9503041))
_D65_WHITE = (0.95047, 1.0, 1.08883)


def rgb_to_lab(image: torch.Tensor) -> torch.Tensor:
    """(B, 3, H, W) sRGB in [-1, 1] → CIELAB (L in 0..100, a and b about -100..100), differentiable."""
    rgb = ((image.float() + 1) / 2).clamp(0, 1)
    linear = torch.where(rgb <= 0.04045, rgb / 12.92, ((rgb + 0.055) / 1.055).clamp_min(1e-6) ** 2.4)
    matrix = torch.tensor(_RGB_TO_XYZ, device=image.device)
    white = torch.tensor(_D65_WHITE, device=image.device)[:, None, None]
    xyz = torch.einsum("ij,bjhw->bihw", matrix, linear) / white
    delta = 6 / 29
    f = torch.where(xyz > delta**3, xyz.clamp_min(1e-6) ** (1 / 3), xyz / (3 * delta**2) + 4 / 29)
    return torch.stack([116 * f[:, 1] - 16, 500 * (f[:, 0] - f[:, 1]), 200 * (f[:, 1] - f[:, 2])], dim=1)


def part_colour_loss(
    image: torch.Tensor, regions: torch.Tensor, target: torch.Tensor, target_regions: torch.Tensor,
    min_pixels: float = 16.0,
) -> torch.Tensor:
    """Per-part colour fidelity: |Δ mean| + |Δ spread| of CIELAB (in hundredths) inside each part.

    image / target: (B, 3, H, W) in [-1, 1]; regions / target_regions: (B, K, H, W) 0/1 masks
    of the K parts to compare (the one-hot mask for every class, or one swapped part). Each
    part present in both faces (≥ ``min_pixels``) counts the same, so lips and nose weigh as
    much as skin, and the mean and spread are compared in a perceptual space: a part's
    colour, not its pixel-wise L1, is what a swap must carry.
    """
    def statistics(face: torch.Tensor, masks: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        lab = rgb_to_lab(face) / 100
        masks = masks.float()
        count = masks.sum(dim=(2, 3))  # (B, K)
        mean = torch.einsum("bkhw,bchw->bkc", masks, lab) / count.clamp_min(1)[..., None]
        square = torch.einsum("bkhw,bchw->bkc", masks, lab * lab) / count.clamp_min(1)[..., None]
        spread = (square - mean * mean).clamp_min(0).add(1e-6).sqrt()
        return mean, spread, count

    mean, spread, count = statistics(image, regions)
    target_mean, target_spread, target_count = statistics(target, target_regions)
    present = ((count >= min_pixels) & (target_count >= min_pixels)).float()[..., None]  # (B, K, 1)
    gap = (mean - target_mean.detach()).abs() + (spread - target_spread.detach()).abs()
    return (gap * present).sum() / (present.sum() * gap.shape[-1]).clamp_min(1)


def style_cycle_loss(
    cycle_codes: torch.Tensor, input_codes: torch.Tensor, masks: torch.Tensor, min_pixels: float = 16.0
) -> torch.Tensor:
    """Per-part style cycle (as StarGAN v2's style reconstruction, per class): how far E_s's
    code of each part of a generated face is from the code G was given for it.

    cycle_codes / input_codes: (B, C, D); masks: (B, C, H, W) the faces' one-hot masks. Only
    parts present (≥ ``min_pixels``) count, each the same; the distance is relative
    (|Δ| summed over the code over |input| summed), so a part whose codes are small weighs as
    much as one whose codes are large, and 1 means "nothing of the code came back".
    """
    present = (masks.float().sum(dim=(2, 3)) >= min_pixels).float()  # (B, C)
    target = input_codes.detach().float()
    gap = (cycle_codes.float() - target).abs().sum(-1) / target.abs().sum(-1).clamp_min(1e-6)
    return (gap * present).sum() / present.sum().clamp_min(1)


def code_statistics_loss(generated: torch.Tensor, encoded: torch.Tensor) -> torch.Tensor:
    """Match M_s's codes to E_s's, class by class: |Δ mean| + |Δ std| over the batch.

    generated: (B1, C, D) codes of M_s; encoded: (B2, C, D) codes E_s gives real faces
    (no gradient needed). Without it M_s's codes drift to 3-7x the norm of any code G was
    trained on, and a "random" part wrecks the whole face.
    """
    encoded = encoded.detach().float()
    generated = generated.float()
    mean_gap = (generated.mean(0) - encoded.mean(0)).abs().mean()
    std_gap = (generated.std(0) - encoded.std(0)).abs().mean()
    return mean_gap + std_gap
