"""Detail: what the small generator resolves, and the photo's own finer detail.

The networks resolve detail of about two of their pixels; finer than that (strands, pores)
is kept from the picture an edit replaces (``low_pass`` splits the two). Where a shape
changed the generated pixels are cleaned of speckle (``despeckle``), and a small feature
that is only moved and stretched is the picture's own feature warped (``part_move``).
"""

from __future__ import annotations

import cv2
import numpy as np

from ..labels import CLASS_NAMES
from .colour import from_lab, to_lab

# The low/high split: Gaussian sigma in generated pixels (the bundled 128 px generator
# resolves detail of about two of its pixels; finer than that is the photo's).
DETAIL_SIGMA = 1.5
# A reshaped feature of the face whose old and new regions overlap by this share of their union
# is the same feature moved and stretched (``Finish._moved_parts``); less, a new one (generated
# pixels). Hair, skin, neck, clothes and hats are never moved so: their shapes are no stretch
# of the old ones, and a warp of them would carry the face along.
MOVE_MIN_OVERLAP = 0.3
# A nose and lips are the photo's own however far they are stretched (a thin upper lip made
# full lies wholly above the old one): moved whenever the new region's centre is within this
# share of the part's size (root of the area of old and new together) of the old one's.
STRETCHED_PARTS = frozenset(CLASS_NAMES.index(name) for name in ("nose", "mouth", "u_lip", "l_lip"))
STRETCH_MAX_SHIFT = 0.5
MOVABLE_PARTS = frozenset(CLASS_NAMES.index(name) for name in (
    "nose", "l_eye", "r_eye", "l_brow", "r_brow", "mouth", "u_lip", "l_lip", "l_ear", "r_ear"))


def low_pass(image: np.ndarray, generated: int) -> np.ndarray:
    """What a generator of ``generated`` pixels resolves of ``image`` (float32, any side S):
    a Gaussian of ``DETAIL_SIGMA`` generated pixels, computed at twice the generated size
    (for speed: a 12-megapixel photo's face is low-passed in a few milliseconds) and
    brought back to S with a cubic filter."""
    side = image.shape[0]
    small = min(side, 2 * generated)
    reduced = cv2.resize(image, (small, small), interpolation=cv2.INTER_AREA) if small < side else image
    blurred = cv2.GaussianBlur(reduced, (0, 0), DETAIL_SIGMA * small / generated, borderType=cv2.BORDER_REFLECT)
    return cv2.resize(blurred, (side, side), interpolation=cv2.INTER_CUBIC) if small < side else blurred


def upsampled(face: np.ndarray, side: int) -> np.ndarray:
    """A generated face (uint8) at ``side``, float32: Lanczos up, area down."""
    interpolation = cv2.INTER_LANCZOS4 if face.shape[0] < side else cv2.INTER_AREA
    return cv2.resize(face, (side, side), interpolation=interpolation).astype(np.float32)


def despeckle(face: np.ndarray) -> np.ndarray:
    """A generated face (uint8, at the generator's size) without its speckle: where a shape
    changes, the small generator leaves pixels of a wrong colour (confetti on a new nose)
    that are no shape. Lightness takes a 3x3 median (keeps edges, drops single pixels),
    colour (CIELAB a, b) a Gaussian of ``DETAIL_SIGMA`` generated pixels."""
    lab = to_lab(face)
    lab[..., 0] = to_lab(cv2.medianBlur(np.ascontiguousarray(face), 3))[..., 0]
    lab[..., 1:] = cv2.GaussianBlur(lab[..., 1:], (0, 0), DETAIL_SIGMA, borderType=cv2.BORDER_REFLECT)
    return np.clip(from_lab(lab) + 0.5, 0, 255).astype(np.uint8)


def is_moved(part: int, old: np.ndarray, new: np.ndarray) -> bool:
    """Whether ``part`` going from region ``old`` to ``new`` is the same feature moved and
    stretched (``MOVE_MIN_OVERLAP``, ``STRETCHED_PARTS``) rather than a new one."""
    if part not in MOVABLE_PARTS or not old.any() or not new.any():
        return False
    union = (old | new).sum()
    if part in STRETCHED_PARTS:
        shift = np.hypot(*(np.argwhere(new).mean(axis=0) - np.argwhere(old).mean(axis=0)))
        return bool(shift <= STRETCH_MAX_SHIFT * np.sqrt(union))
    return bool((old & new).sum() >= MOVE_MIN_OVERLAP * union)


def part_move(old: np.ndarray, new: np.ndarray, strength: float = 1.0) -> np.ndarray:
    """The affine map (2, 3; for ``cv2.warpAffine`` with ``WARP_INVERSE_MAP``) from pixels of
    the part at ``strength`` of the way from region ``old`` to region ``new`` back to where
    they are in ``old``: the part's centre moved and its spread (second moments) stretched
    to the new one's, ``strength`` of the way."""
    def moments(region: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        rows, cols = np.nonzero(region)
        points = np.stack([cols, rows], 1).astype(np.float64)
        return points.mean(axis=0), np.cov(points.T) + 0.25 * np.eye(2)  # a one-pixel-wide part has a spread too

    def power(matrix: np.ndarray, exponent: float) -> np.ndarray:
        values, vectors = np.linalg.eigh(matrix)
        return (vectors * values ** exponent) @ vectors.T

    centre_old, spread_old = moments(old)
    centre_new, spread_new = moments(new)
    stretch = power(spread_new, 0.5) @ power(spread_old, -0.5)  # old → new, about the centres
    stretch = np.eye(2) + strength * (stretch - np.eye(2))
    centre = centre_old + strength * (centre_new - centre_old)
    back = np.linalg.inv(stretch)
    return np.concatenate([back, (centre_old - back @ centre)[:, None]], axis=1)


