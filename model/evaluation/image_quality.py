"""Pixel fidelity of reconstructions: PSNR and SSIM on uint8 RGB images."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

PSNR_CAP_DB = 100.0  # a face reproduced exactly would have an infinite PSNR; the mean needs a number


def _batched(images: np.ndarray) -> tuple[np.ndarray, bool]:
    images = np.asarray(images)
    if images.ndim == 3:
        return images[None], False
    if images.ndim == 4:
        return images, True
    raise ValueError(f"expected an image (H, W, 3) or a batch (B, H, W, 3), got shape {images.shape}")


def psnr(real: np.ndarray, generated: np.ndarray) -> float | np.ndarray:
    """PSNR in dB of uint8 RGB image(s), (H, W, 3) or (B, H, W, 3): 10 log10(255² / MSE) over
    all pixels and channels of each image; ``inf`` for identical images."""
    a, batched = _batched(real)
    b, _ = _batched(generated)
    if a.shape != b.shape:
        raise ValueError(f"PSNR of images of different shapes {a.shape} and {b.shape}")
    mse = ((a.astype(np.float64) - b.astype(np.float64)) ** 2).mean(axis=(1, 2, 3))
    with np.errstate(divide="ignore"):
        values = 10.0 * np.log10(255.0**2 / mse)
    return values if batched else float(values[0])


def _gaussian_window(size: int = 11, sigma: float = 1.5) -> torch.Tensor:
    offsets = torch.arange(size, dtype=torch.float64) - (size - 1) / 2
    window = torch.exp(-(offsets**2) / (2 * sigma**2))
    return window / window.sum()


def ssim(real: np.ndarray, generated: np.ndarray) -> float | np.ndarray:
    """SSIM (Wang et al. 2004) of uint8 RGB image(s), (H, W, 3) or (B, H, W, 3).

    Gaussian window of 11 taps with σ = 1.5, K1 = 0.01, K2 = 0.03, L = 255; the map is taken
    over the valid region (no padding, as the reference MATLAB code), on each channel, and
    averaged over the map and the three channels.
    """
    a, batched = _batched(real)
    b, _ = _batched(generated)
    if a.shape != b.shape:
        raise ValueError(f"SSIM of images of different shapes {a.shape} and {b.shape}")
    if min(a.shape[1:3]) < 11:
        raise ValueError(f"SSIM needs images of at least 11x11 pixels, got {a.shape[1:3]}")
    x = torch.from_numpy(a.astype(np.float64)).permute(0, 3, 1, 2)
    y = torch.from_numpy(b.astype(np.float64)).permute(0, 3, 1, 2)
    channels = x.shape[1]
    window = _gaussian_window()
    rows = window.view(1, 1, -1, 1).repeat(channels, 1, 1, 1)
    cols = window.view(1, 1, 1, -1).repeat(channels, 1, 1, 1)

    def blur(t: torch.Tensor) -> torch.Tensor:  # separable Gaussian, valid region
        return F.conv2d(F.conv2d(t, rows, groups=channels), cols, groups=channels)

    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    mu_x, mu_y = blur(x), blur(y)
    var_x = blur(x * x) - mu_x**2
    var_y = blur(y * y) - mu_y**2
    cov = blur(x * y) - mu_x * mu_y
    ssim_map = ((2 * mu_x * mu_y + c1) * (2 * cov + c2)) / ((mu_x**2 + mu_y**2 + c1) * (var_x + var_y + c2))
    values = ssim_map.mean(dim=(1, 2, 3)).numpy()
    return values if batched else float(values[0])
