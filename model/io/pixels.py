"""The pixel convention: uint8 RGB in [0, 255] ↔ the networks' float images in [-1, 1].

Every network of CA2-SIS (E_s, G, D) and the face parser reads and writes images in
[-1, 1], channels first; files, the studio and the metrics use uint8 RGB, channels last.
These functions are the only place the mapping x / 127.5 - 1 (and back) is written.
"""

from __future__ import annotations

import numpy as np
import torch


def to_network_images(images: np.ndarray) -> np.ndarray:
    """uint8 (B, H, W, 3) → float32 (B, 3, H, W) in [-1, 1]."""
    return images.transpose(0, 3, 1, 2).astype(np.float32) / 127.5 - 1.0


def to_uint8_images(images: np.ndarray) -> np.ndarray:
    """Network output (B, 3, H, W) in [-1, 1] → uint8 (B, H, W, 3), rounded and clipped."""
    return np.clip((images.transpose(0, 2, 3, 1) + 1.0) * 127.5 + 0.5, 0, 255).astype(np.uint8)


def to_network_tensor(images: torch.Tensor) -> torch.Tensor:
    """uint8 tensor, channels first (..., 3, H, W) → float32 in [-1, 1], same layout and device."""
    return images.float() / 127.5 - 1.0


def image_to_tensor(image: np.ndarray) -> torch.Tensor:
    """One uint8 (H, W, 3) image → float32 (3, H, W) in [-1, 1]."""
    return to_network_tensor(torch.from_numpy(np.ascontiguousarray(image)).permute(2, 0, 1))
