"""What the studio's views show, computed without Qt: names cut to fit and the before | after split."""

from __future__ import annotations

import numpy as np


def elided(text: str, limit: int = 48) -> str:
    """``text`` cut in the middle with "…" when longer than ``limit`` characters, so long
    photo names cannot stretch menus and labels."""
    if len(text) <= limit:
        return text
    head = (limit - 1) * 2 // 3
    return text[:head] + "…" + text[len(text) - (limit - 1 - head):]


def split_view(before: np.ndarray, after: np.ndarray, position: float) -> np.ndarray:
    """``before`` left of ``position`` (0..1 of the width), ``after`` right of it, with a
    white divider: the before/after view."""
    width = before.shape[1]
    cut = int(round(np.clip(position, 0.0, 1.0) * width))
    shown = after.copy()
    shown[:, :cut] = before[:, :cut]
    shown[:, max(cut - 1, 0):min(cut + 1, width)] = 255
    return shown
