"""The pixel convention: uint8 RGB in [0, 255] ↔ the networks' float images in [-1, 1].

Every network of CA2-SIS (E_s, G, D) and the face parser reads and writes images in
[-1, 1], channels first; files, the studio and the metrics use uint8 RGB, channels last; masks
reach the networks one-hot.
These functions are the only place the mapping x / 127.5 - 1 (and back) is written.
"""

from __future__ import annotations

import numpy as np
import torch

from ..labels import NUM_CLASSES


def to_network_images(images: np.ndarray) -> np.ndarray:
    """uint8 (B, H, W, 3) → float32 (B, 3, H, W) in [-1, 1]."""
    return images.transpose(0, 3, 1, 2).astype(np.float32) / 127.5 - 1.0


def to_uint8_images(images: np.ndarray) -> np.ndarray:
    """Network output (B, 3, H, W) in [-1, 1] → uint8 (B, H, W, 3), rounded and clipped."""
    return np.clip((images.transpose(0, 2, 3, 1) + 1.0) * 127.5 + 0.5, 0, 255).astype(np.uint8)


def to_network_tensor(images: torch.Tensor) -> torch.Tensor:
    """uint8 tensor, channels first (..., 3, H, W) → float32 in [-1, 1], same layout and device."""
    return images.float() / 127.5 - 1.0


def image_to_tensor(image: np.ndarray | torch.Tensor) -> torch.Tensor:
    """uint8 (..., H, W, 3) → float32 (..., 3, H, W) in [-1, 1] (one face or a batch)."""
    if isinstance(image, np.ndarray):
        image = torch.from_numpy(np.ascontiguousarray(image))
    return to_network_tensor(image.movedim(-1, -3))


def one_hot(mask: torch.Tensor, num_classes: int = NUM_CLASSES) -> torch.Tensor:
    """Class indices (B, H, W) → one-hot float32 (B, C, H, W) on the mask's device.

    Masks are checked when loaded, so no per-batch range check (a GPU sync) is done here.
    """
    if mask.dim() < 2:
        raise ValueError(f"one_hot expects a batch of masks (B, H, W), got shape {tuple(mask.shape)}")
    if mask.is_floating_point() or mask.is_complex():
        raise TypeError(f"one_hot expects integer class indices, got {mask.dtype}")
    out = torch.zeros(mask.shape[0], num_classes, *mask.shape[1:], dtype=torch.float32, device=mask.device)
    return out.scatter_(1, mask.long().unsqueeze(1), 1.0)
