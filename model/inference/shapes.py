"""Shape transfer between masks: a part given another mask's shape."""

from __future__ import annotations

import numpy as np

from ..io.masks import at_size, nearest_class
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
    if vacated.any():  # each vacated pixel: the class of the nearest pixel that is not the part
        result[vacated] = nearest_class(mask, mask == part, fill=BACKGROUND)[vacated]
    result[source == part] = part
    return result


