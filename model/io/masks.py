"""Class masks at another size (nearest neighbour, so every pixel keeps a class) and the nearest class."""

from __future__ import annotations

import cv2
import numpy as np


def at_size(mask: np.ndarray, side: int) -> np.ndarray:
    """A class mask resized (nearest) to side x side."""
    if mask.shape == (side, side):
        return mask
    return cv2.resize(mask.astype(np.uint8), (side, side), interpolation=cv2.INTER_NEAREST)


def nearest_class(mask: np.ndarray, excluded: np.ndarray, fill: int = 0) -> np.ndarray:
    """(H, W) like ``mask``: at each pixel the class of the nearest pixel of ``mask`` outside
    ``excluded`` (bool: vacated pixels, watershed lines); ``fill`` when every pixel is excluded."""
    outside = (~np.asarray(excluded, bool)).astype(np.uint8)
    if not outside.any():
        return np.full(mask.shape, fill, mask.dtype)
    _, labels = cv2.distanceTransformWithLabels(1 - outside, cv2.DIST_L2, 5, labelType=cv2.DIST_LABEL_PIXEL)
    rows, cols = np.nonzero(outside)
    lookup = np.zeros(labels.max() + 1, mask.dtype)
    lookup[labels[rows, cols]] = mask[rows, cols]
    return lookup[labels]
