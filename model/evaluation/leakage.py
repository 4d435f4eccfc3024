"""Locality of one-part style edits: how much of the change falls outside the part
(leakage), and how far the part moves toward its reference's look (transfer)."""

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


TRANSFER_MIN_GAP = 8.0  # mean-colour gaps (0..255 per channel) below this are not scored


def mean_colour(image: np.ndarray, region: np.ndarray) -> np.ndarray | None:
    """Mean RGB (0..255) of ``image`` over the bool ``region``; None for an empty region."""
    if not region.any():
        return None
    return image[region].astype(np.float64).mean(axis=0)


def style_transfer(
    before: np.ndarray, after: np.ndarray, region: np.ndarray, reference: np.ndarray, reference_region: np.ndarray
) -> float:
    """Share of the part's mean-colour gap to the reference's part that a style swap closes:
    1 - |c(after) - c(ref)| / |c(before) - c(ref)|, colours averaged over the part. 1: the
    part took the reference's colour; 0: it did not move; below 0: it moved away. NaN when
    the part is missing or was already within ``TRANSFER_MIN_GAP`` of the reference."""
    target = mean_colour(reference, reference_region)
    start, end = mean_colour(before, region), mean_colour(after, region)
    if target is None or start is None:
        return float("nan")
    gap = float(np.linalg.norm(start - target))
    if gap < TRANSFER_MIN_GAP:
        return float("nan")
    return 1.0 - float(np.linalg.norm(end - target)) / gap
