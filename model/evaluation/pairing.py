"""Which face gives which part: the random partners of the shape and style swaps."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..labels import NUM_CLASSES


@dataclass
class Swap:
    other: int  # index of the face the part comes from
    part: int  # class index


def part_areas(masks: np.ndarray) -> np.ndarray:
    """Share of each class in each mask (N, H, W) → (N, NUM_CLASSES)."""
    size = masks.shape[1] * masks.shape[2]
    return np.stack([np.bincount(mask.ravel(), minlength=NUM_CLASSES) for mask in masks]) / size


def pick_partners(areas: np.ndarray, rng: np.random.Generator, min_area: float) -> list[Swap | None]:
    """For each face a random other face and a random part present in both (not background);
    parts of at least ``min_area`` (share of the image) in both are preferred when min_area > 0."""
    count = len(areas)
    swaps: list[Swap | None] = []
    for index in range(count):
        if count < 2:
            swaps.append(None)
            continue
        other = int(rng.integers(count - 1))
        other += other >= index
        common = [c for c in range(1, areas.shape[1]) if areas[index, c] > 0 and areas[other, c] > 0]
        large = [c for c in common if areas[index, c] >= min_area and areas[other, c] >= min_area]
        choices = large or common
        swaps.append(Swap(other, int(rng.choice(choices))) if choices else None)
    return swaps
