"""A painted face's eyes, mouth and ears as the style face's own, carried to the painted shape.

The network draws an eye or a mouth at its own 128 px: upsampled to the style face's 512 px,
even sharpened, an iris is a smudge and teeth a pale band; an ear is a flat patch of skin.
Where the painted part is close in shape to the style face's same part once that part is moved
and stretched onto it (``detail.part_move``'s affine map of their centres and spreads, as a
photo's moved nose or lips; overlapping by ``CLOSE_IOU`` at least, stretched by ``MAX_STRETCH``
at most), the painted part's pixels are the style face's own part carried there by that map,
at full resolution: its iris and lashes, its teeth, its ear's folds. A part painted unlike the
style's (a mouth painted wide open over a closed one, an ear the style's hair hides) keeps the
network's drawing.
"""

from __future__ import annotations

import cv2
import numpy as np

from ..labels import CLASS_NAMES
from .detail import part_move
from .regions import box_around

CARRIED_PARTS = tuple(CLASS_NAMES.index(name) for name in ("l_eye", "r_eye", "mouth", "l_ear", "r_ear"))
EYES = frozenset(CLASS_NAMES.index(name) for name in ("l_eye", "r_eye"))
GLASSES = CLASS_NAMES.index("eye_g")
# The painted part and the style's, carried onto it, must overlap by this (intersection over
# union) for the style's pixels to be taken: below, the shapes differ enough that the style's
# eye would be squashed or a closed mouth stretched over an open one.
CLOSE_IOU = 0.6
# ... nor be stretched or squashed by more than this factor along any direction (a closed mouth
# stretched twice as wide over a wide one showed its teeth as smears; an ear squashed to a
# third, as streaks).
MAX_STRETCH = 1.8
MIN_PART_PIXELS = 24  # a part smaller than this (in either face) is not carried


def carried_features(style_image: np.ndarray, style_mask: np.ndarray, painted_mask: np.ndarray,
                     feather: float) -> tuple[np.ndarray, np.ndarray]:
    """The style face's eyes, mouth and ears carried onto ``painted_mask``'s (all at one side
    S): float32 (S, S, 3) pixels and their weight in 0..1 (1 on a carried part, fading out
    over about ``feather`` pixels; 0 where none is carried)."""
    side = painted_mask.shape[0]
    pixels = np.zeros((side, side, 3), np.float32)
    weight = np.zeros((side, side), np.float32)
    margin = int(3 * feather) + 2
    for part in CARRIED_PARTS:
        new, old = painted_mask == part, style_mask == part
        if new.sum() < MIN_PART_PIXELS or old.sum() < MIN_PART_PIXELS:
            continue
        if part in EYES and (style_mask[box_around(old, margin)] == GLASSES).any():
            continue  # the style's eye seen through a frame or a lens: its glasses would come along
        box = box_around(new, margin)
        back = part_move(old, new)  # from a pixel of the painted part to the style's
        stretch = np.linalg.svd(back[:, :2], compute_uv=False)  # the inverse of the part's stretch
        if stretch.max() > MAX_STRETCH or stretch.min() < 1.0 / MAX_STRETCH:
            continue
        # The same map for the box's own pixels (its corner at the origin).
        corner = np.array([box[1].start, box[0].start], np.float64)
        local = np.concatenate([back[:, :2], (back[:, 2] + back[:, :2] @ corner)[:, None]], axis=1)
        size = (box[1].stop - box[1].start, box[0].stop - box[0].start)
        flags = cv2.WARP_INVERSE_MAP
        landed = cv2.warpAffine(old.astype(np.uint8), local, size, flags=cv2.INTER_NEAREST | flags) > 0
        ours = new[box]
        if (landed & ours).sum() < CLOSE_IOU * (landed | ours).sum():
            continue
        carried = cv2.warpAffine(style_image.astype(np.float32), local, size, flags=cv2.INTER_CUBIC | flags,
                                 borderMode=cv2.BORDER_REFLECT)
        soft = np.maximum(cv2.GaussianBlur(ours.astype(np.float32), (0, 0), feather), ours)
        taken = soft > weight[box]  # where two parts' feathers meet, the nearer part's pixels
        pixels[box][taken] = carried[taken]
        weight[box] = np.maximum(weight[box], soft)
    return pixels, weight


__all__ = ["CARRIED_PARTS", "CLOSE_IOU", "MAX_STRETCH", "carried_features"]
