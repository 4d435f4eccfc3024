"""Sliced Wasserstein distance (Karras et al. 2018) on Laplacian-pyramid patches: how close
the distribution of generated faces is to that of real ones, at every scale."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F

from .image_quality import _batched

SWD_MIN_SIZE = 16  # the coarsest Laplacian level, as in Karras et al. 2018
SWD_PATCH = 7
SWD_PATCHES_PER_IMAGE = 128
SWD_PROJECTIONS = 512
SWD_REPEATS = 4


# The 5-tap binomial filter of Burt & Adelson's pyramid, applied separably.
_BINOMIAL = torch.tensor([1.0, 4.0, 6.0, 4.0, 1.0]) / 16.0


def _smooth(images: torch.Tensor, gain: float = 1.0) -> torch.Tensor:
    channels = images.shape[1]
    kernel = _BINOMIAL.to(images) * gain
    padded = F.pad(images, (2, 2, 2, 2), mode="reflect")
    out = F.conv2d(padded, kernel.view(1, 1, 5, 1).repeat(channels, 1, 1, 1), groups=channels)
    return F.conv2d(out, kernel.view(1, 1, 1, 5).repeat(channels, 1, 1, 1), groups=channels)


def pyramid_sides(side: int, min_size: int = SWD_MIN_SIZE) -> list[int]:
    """The sides of the Laplacian levels of ``side`` px images, finest first: halved while the
    half is at least ``min_size`` and the side is even (128 → [128, 64, 32, 16])."""
    sides = [side]
    while sides[-1] // 2 >= min_size and sides[-1] % 2 == 0:
        sides.append(sides[-1] // 2)
    return sides


def laplacian_pyramid(images: np.ndarray, min_size: int = SWD_MIN_SIZE) -> list[np.ndarray]:
    """uint8 (B, H, W, 3) → Laplacian pyramid levels, float32 (B, 3, h, w), finest first.

    Each level but the last is the band G_l - up(G_{l+1}) of a Gaussian pyramid (blur,
    drop every other pixel); the last is the Gaussian level of side ``min_size`` itself
    (for 128 px: 128, 64, 32 bands and the 16 px low-pass).
    """
    batch, _ = _batched(images)
    current = torch.from_numpy(np.ascontiguousarray(batch)).permute(0, 3, 1, 2).float()
    levels = []
    for _ in pyramid_sides(current.shape[-1], min_size)[1:]:
        smaller = _smooth(current)[..., ::2, ::2]
        # Upsample: put the samples back on the even pixels and interpolate with the same
        # filter (gain 4: three quarters of the pixels are zeros).
        upsampled = torch.zeros_like(current)
        upsampled[..., ::2, ::2] = smaller
        levels.append((current - _smooth(upsampled, gain=4.0)).numpy())
        current = smaller
    levels.append(current.numpy())
    return levels


def swd_descriptors(
    images: np.ndarray,
    rng: np.random.Generator,
    patches_per_image: int = SWD_PATCHES_PER_IMAGE,
    patch: int = SWD_PATCH,
    min_size: int = SWD_MIN_SIZE,
) -> list[np.ndarray]:
    """Random patch descriptors of uint8 images (B, H, W, 3), per pyramid level:
    float32 (B * patches_per_image, 3, patch, patch), patches lying wholly inside the level."""
    out = []
    for level in laplacian_pyramid(images, min_size):
        count, _, height, width = level.shape
        if min(height, width) < patch:
            raise ValueError(f"a {height}x{width} pyramid level is smaller than the {patch}x{patch} patches")
        windows = np.lib.stride_tricks.sliding_window_view(level, (patch, patch), axis=(2, 3))
        which = np.repeat(np.arange(count), patches_per_image)
        ys = rng.integers(0, height - patch + 1, size=which.size)
        xs = rng.integers(0, width - patch + 1, size=which.size)
        out.append(np.ascontiguousarray(windows[which, :, ys, xs]))  # (N, 3, patch, patch)
    return out


def sliced_wasserstein(
    a: np.ndarray, b: np.ndarray, rng: np.random.Generator, projections: int = SWD_PROJECTIONS,
    repeats: int = SWD_REPEATS,
) -> float:
    """Sliced Wasserstein distance of two descriptor sets (n, d): for random unit directions p,
    mean |sort(a·p) - sort(b·p)|, averaged over ``projections`` directions and ``repeats`` draws.

    Sets of different sizes are first cut to the smaller size by a random subset.
    """
    if a.shape[1] != b.shape[1]:
        raise ValueError(f"descriptors of different sizes {a.shape[1]} and {b.shape[1]}")
    count = min(len(a), len(b))
    if count == 0:
        raise ValueError("the sliced Wasserstein distance needs descriptors in both sets")
    if len(a) > count:
        a = a[np.sort(rng.choice(len(a), count, replace=False))]
    if len(b) > count:
        b = b[np.sort(rng.choice(len(b), count, replace=False))]
    results = []
    for _ in range(repeats):
        directions = rng.standard_normal((a.shape[1], projections)).astype(np.float32)
        directions /= np.linalg.norm(directions, axis=0, keepdims=True)
        total = 0.0
        for start in range(0, projections, 128):  # chunks: bounded memory for large sets
            chunk = directions[:, start : start + 128]
            projected_a = np.sort(a @ chunk, axis=0)
            projected_b = np.sort(b @ chunk, axis=0)
            total += float(np.abs(projected_a - projected_b).astype(np.float64).sum())
        results.append(total / (count * projections))
    return float(np.mean(results))


def swd(
    real: Sequence[np.ndarray], generated: Sequence[np.ndarray], seed: int = 0, projections: int = SWD_PROJECTIONS,
    repeats: int = SWD_REPEATS,
) -> list[float]:
    """SWD ×1e3 of two sets of per-level descriptors (as ``swd_descriptors`` returns, or their
    concatenation over batches), one value per level, finest first.

    Each level's descriptors are normalised per colour channel by the mean and standard
    deviation of that level over both sets together, then flattened (3 x 7 x 7 = 147).
    """
    if len(real) != len(generated):
        raise ValueError(f"{len(real)} pyramid levels against {len(generated)}")
    values = []
    for level, (a, b) in enumerate(zip(real, generated)):
        both = np.concatenate([a, b])
        mean = both.mean(axis=(0, 2, 3), keepdims=True, dtype=np.float64)
        std = both.std(axis=(0, 2, 3), keepdims=True, dtype=np.float64)
        std = np.where(std > 0, std, 1.0)
        a_norm = ((a - mean) / std).astype(np.float32).reshape(len(a), -1)
        b_norm = ((b - mean) / std).astype(np.float32).reshape(len(b), -1)
        rng = np.random.default_rng([seed, level])  # the same directions for every pair of sets
        values.append(1e3 * sliced_wasserstein(a_norm, b_norm, rng, projections, repeats))
    return values
