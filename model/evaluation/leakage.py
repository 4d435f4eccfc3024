"""Style leakage: how much of a one-part style swap's change falls outside the part."""

from __future__ import annotations

import numpy as np

LEAKAGE_MIN_AREA = 0.002  # style swaps prefer parts covering at least this share of both faces


def dilate(region: np.ndarray, radius: int) -> np.ndarray:
    """A boolean (H, W) region grown by ``radius`` pixels (square neighbourhood)."""
    region = np.asarray(region, dtype=bool)
    if radius <= 0:
        return region.copy()
    grown = region.copy()
    for shift in range(1, radius + 1):  # separable: rows, then columns
        grown[shift:] |= region[:-shift]
        grown[:-shift] |= region[shift:]
    rows = grown.copy()
    for shift in range(1, radius + 1):
        grown[:, shift:] |= rows[:, :-shift]
        grown[:, :-shift] |= rows[:, shift:]
    return grown


def style_leakage(reference: np.ndarray, edited: np.ndarray, region: np.ndarray, dilation: int = 0) -> float:
    """Share of the absolute change from ``reference`` to ``edited`` (uint8 (H, W, 3)) that lies
    outside ``region`` (bool (H, W)) grown by ``dilation`` px: 0 = the edit stayed in the
    part, 1 = it changed only other parts. NaN when nothing changed at all."""
    change = np.abs(reference.astype(np.float64) - edited.astype(np.float64)).sum(axis=-1)
    total = change.sum()
    if total == 0:
        return float("nan")
    return float(change[~dilate(region, dilation)].sum() / total)


def leakage_dilation(size: int) -> int:
    """Pixels a part's region is grown by before measuring leakage: 2 px at 128 (1 at 64,
    4 at 256). Boundary pixels of a part legitimately change with its style."""
    return max(1, round(2 * size / 128))
