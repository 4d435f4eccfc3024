"""Pictures of what the networks attend to: one part's attention map laid over the face.

Used by ``ca2sis-edit --attention`` and the studio's attention view; the engine only returns the
(C, h, w) attention summary.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

from ..labels import Part, part_index


def upsample_attention(attention: np.ndarray, part: Part, size: int) -> np.ndarray:
    """One part's channel of a (C, h, w) attention summary, bilinearly resized to size x size."""
    index = part_index(part, attention.shape[0])
    channel = Image.fromarray(np.ascontiguousarray(attention[index], dtype=np.float32), mode="F")
    return np.asarray(channel.resize((size, size), Image.Resampling.BILINEAR), dtype=np.float32)


def attention_overlay(image: np.ndarray, attention: np.ndarray, part: Part, opacity: float = 0.6) -> np.ndarray:
    """The face with one part's attention map (from a (C, h, w) summary) laid over it.

    The map is the share of each pixel's style read from ``part`` (0..1); it is shown as is,
    not rescaled, so a part that attracts little attention looks faint.
    """
    share = np.clip(upsample_attention(attention, part, image.shape[0]), 0.0, 1.0)[..., None]
    heat, weight = attention_colours(share[..., 0], opacity)
    blended = image.astype(np.float32) * (1 - weight) + heat * 255.0 * weight
    return np.clip(blended + 0.5, 0, 255).astype(np.uint8)


def attention_colours(share: np.ndarray, opacity: float = 0.6) -> tuple[np.ndarray, np.ndarray]:
    """The overlay's colour (float (..., 3) in 0..1) and weight (float (..., 1)) for a share
    of attention in 0..1: a black-red-yellow ramp, easy to read over skin tones."""
    share = np.clip(share, 0.0, 1.0)[..., None]
    heat = np.concatenate([np.clip(share * 2, 0, 1), np.clip(share * 2 - 1, 0, 1), np.zeros_like(share)], axis=-1)
    return heat, opacity * np.sqrt(share)
