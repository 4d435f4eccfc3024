"""Where an edit lands, in aligned pixels: the face, the pixels an edit changes, the pixels
whose light the generated face shares with the photo, and the soft weight it is blended by.

Masks of any side are resized (nearest) to the side asked for (``at_size``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import cv2
import numpy as np

from ..io.masks import at_size
from ..labels import BACKGROUND, NUM_CLASSES

MIN_PART_PIXELS = 16  # fewer pixels of a part than this: no colour statistics for it


def grow(region: np.ndarray, pixels: int) -> np.ndarray:
    if pixels <= 0:
        return region.astype(bool)
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * pixels + 1, 2 * pixels + 1))
    return cv2.dilate(region.astype(np.uint8), kernel) > 0


def face_region(original_mask: np.ndarray, edited_mask: np.ndarray | None = None) -> np.ndarray:
    """Where the face is, in aligned pixels: every class but the background, in the photo's
    own mask or in the edited one (a part painted larger is pasted back whole)."""
    region = original_mask != BACKGROUND
    if edited_mask is not None:
        region |= at_size(edited_mask, original_mask.shape[0]) != BACKGROUND
    return region


def edited_region(original_mask: np.ndarray, edited_mask: np.ndarray, restyled: Iterable[int] = (),
                  margin: float = 0.03, reshaped: Mapping[int, np.ndarray] | None = None) -> np.ndarray:
    """Only what changed: pixels whose class was repainted, the parts given a new style, and
    for each reshaped part (part → the mask whose part is its new shape) the union of its
    old and new regions; grown by ``margin`` of the side so the feather falls outside."""
    changed = changed_pixels(original_mask, edited_mask, restyled, reshaped)
    return grow(changed, max(1, round(margin * original_mask.shape[0])))


def changed_pixels(original_mask: np.ndarray, edited_mask: np.ndarray, restyled: Iterable[int] = (),
                   reshaped: Mapping[int, np.ndarray] | None = None) -> np.ndarray:
    """bool: the pixels an edit changes (``edited_region`` before it is grown)."""
    side = original_mask.shape[0]
    edited = at_size(edited_mask, side)
    parts = np.zeros(NUM_CLASSES, bool)
    parts[list(restyled)] = True
    changed = (original_mask != edited) | parts[original_mask] | parts[edited]
    for part, source in (reshaped or {}).items():
        changed |= (original_mask == part) | (edited == part) | (at_size(source, side) == part)
    return changed



def anchor_pixels(original_mask: np.ndarray, edited_mask: np.ndarray, restyled: Iterable[int] = ()) -> np.ndarray:
    """Pixels whose colour the generated face should share with the photo: same class in
    both masks, not the background, and of a part that kept its own style."""
    edited = at_size(edited_mask, original_mask.shape[0])
    keep = np.ones(NUM_CLASSES, bool)
    keep[BACKGROUND] = False
    keep[list(restyled)] = False
    return (original_mask == edited) & keep[original_mask]



def blend_weight(region: np.ndarray, feather: float = 0.03, fade_border: bool = True) -> np.ndarray:
    """Blend weight in aligned pixels: 1 deep inside ``region``, fading to 0 over a band of
    ``feather`` x side inside its edge (and the crop's border, with ``fade_border``);
    exactly 0 outside the region."""
    side = region.shape[0]
    band = max(1, round(feather * side))
    inside = region.astype(np.uint8)
    # Erode by the blur's reach (a square, like the blur's support), so the fade lies inside.
    kernel = np.ones((2 * band + 1, 2 * band + 1), np.uint8)
    border = cv2.BORDER_CONSTANT if fade_border else cv2.BORDER_REPLICATE
    core = cv2.erode(inside, kernel, borderType=border, borderValue=0).astype(np.float32)
    weight = cv2.GaussianBlur(core, (2 * band + 1, 2 * band + 1), band / 2.0,
                              borderType=cv2.BORDER_CONSTANT if fade_border else cv2.BORDER_REPLICATE)
    return np.clip(weight, 0.0, 1.0) * inside



def strided(side: int, pixels: int = 65536) -> int:
    """A stride that leaves about ``pixels`` samples of a side x side image (colour statistics
    need no more)."""
    return max(1, int(side / np.sqrt(pixels)))


def box_around(region: np.ndarray, margin: int) -> tuple[slice, slice]:
    """The bounding box of ``region`` grown by ``margin`` pixels, as slices."""
    rows, cols = np.flatnonzero(region.any(axis=1)), np.flatnonzero(region.any(axis=0))
    height, width = region.shape
    return (slice(max(0, rows[0] - margin), min(height, rows[-1] + 1 + margin)),
            slice(max(0, cols[0] - margin), min(width, cols[-1] + 1 + margin)))


INTERIOR_EDGE = 0.01  # of the side: the edge left out of a part where its colours are read


def interior(region: np.ndarray, thickness_share: float | None = None) -> np.ndarray:
    """``region`` without its edge (``INTERIOR_EDGE``; with ``thickness_share``, at most that
    share of the region's half-thickness), where colours are measured: edge pixels mix the
    part with its neighbours. The whole region when too little would be left."""
    band = max(1, round(INTERIOR_EDGE * region.shape[0]))
    if thickness_share is not None and region.any():
        half_thickness = float(cv2.distanceTransform(region.astype(np.uint8), cv2.DIST_L2, 3).max())
        band = max(1, min(band, round(thickness_share * half_thickness)))
    inner = cv2.erode(region.astype(np.uint8), np.ones((2 * band + 1, 2 * band + 1), np.uint8)) > 0
    return inner if inner.sum() >= MIN_PART_PIXELS else region


