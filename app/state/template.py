"""Template masks for File > New: the mean face of a set of masks.

The "mean" of label maps is the class most faces have at each pixel, taken on masks
smoothed first (each class's plane blurred, then the strongest class wins), so the
template has clean outlines instead of the ragged edge of a per-pixel vote.
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

from ca2sis.model.labels import NUM_CLASSES


def mean_face_mask(masks: Sequence[np.ndarray], smoothing: float = 0.012) -> np.ndarray:
    """The per-pixel most common class of ``masks`` (uint8 (S, S), all one size) after a
    Gaussian blur of ``smoothing`` x S on each class plane."""
    if not masks:
        raise ValueError("a template needs at least one mask")
    side = masks[0].shape[0]
    if any(mask.shape != (side, side) for mask in masks):
        raise ValueError("template masks must all be square and of one size")
    sigma = max(smoothing * side, 0.5)
    votes = np.zeros((NUM_CLASSES, side, side), np.float32)
    for mask in masks:
        for part in np.unique(mask):
            votes[part] += cv2.GaussianBlur((mask == part).astype(np.float32), (0, 0), sigma)
    return votes.argmax(axis=0).astype(np.uint8)
