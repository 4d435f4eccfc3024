"""Shape transfer between masks: a part given another mask's shape."""

from __future__ import annotations

import cv2
import numpy as np

from ..io.masks import at_size
from ..labels import BACKGROUND


def composite_mask(mask: np.ndarray, source: np.ndarray, part: int) -> np.ndarray:
    """``mask`` with ``part`` given ``source``'s shape: the source's part pasted on, and the
    pixels the part vacates filled from the nearest other classes of ``mask`` (skin where the
    old hair covered the forehead, background beyond the head). A face that keeps every
    other part in place, so a shape slider can move all latents towards it (no class still
    describing the old layout)."""
    source = at_size(source, mask.shape[0])
    result = mask.copy()
    vacated = (mask == part) & (source != part)
    keep = (mask != part).astype(np.uint8)
    if vacated.any() and keep.any():
        # Each vacated pixel takes the class of the nearest pixel that is neither the part nor vacated.
        _, nearest = cv2.distanceTransformWithLabels(keep ^ 1, cv2.DIST_L2, 5, labelType=cv2.DIST_LABEL_PIXEL)
        rows, cols = np.nonzero(keep)
        classes = np.zeros(nearest.max() + 1, np.uint8)
        classes[nearest[rows, cols]] = mask[rows, cols]
        result[vacated] = classes[nearest[vacated]]
    elif vacated.any():
        result[vacated] = BACKGROUND
    result[source == part] = part
    return result


