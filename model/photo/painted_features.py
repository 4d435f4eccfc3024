"""A painted face's eyes, mouth, lips and ears as the style face's own, carried to the painted shape.

The network draws an eye or a mouth at its own 128 px: upsampled to the style face's 512 px,
even sharpened, an iris is a smudge and teeth a pale band; an ear is a flat patch of skin.
Where the painted part is close in shape to the style face's same part once that part is moved
and stretched onto it (``detail.part_move``'s affine map of their centres and spreads, as a
photo's moved nose or lips; overlapping by ``CLOSE_IOU`` at least, stretched by ``MAX_STRETCH``
at most), the painted part's pixels are the style face's own part carried there by that map,
at full resolution: its iris and lashes, its teeth and lips, its ear's folds. A part painted
unlike the style's (a mouth painted wide open over a closed one, an ear the style's hair hides)
keeps the network's drawing.
"""

from __future__ import annotations

import cv2
import numpy as np

from ..labels import CLASS_NAMES, NUM_CLASSES
from .detail import part_move
from .regions import box_around, grow


def _parts(*names: str) -> tuple[int, ...]:
    return tuple(CLASS_NAMES.index(name) for name in names)


# Each feature carried as one: its first alternative that both faces have and that is alike
# (the mouth with its lips, so teeth and lips stay one drawing; else the mouth alone, and each
# lip alike on its own: the New-face template has no upper lip, its mouth covers it).
CARRIED_FEATURES = ((_parts("l_eye"),), (_parts("r_eye"),), (_parts("mouth", "u_lip", "l_lip"), _parts("mouth")),
                    (_parts("u_lip"),), (_parts("l_lip"),), (_parts("l_ear"),), (_parts("r_ear"),))
EYES = frozenset(_parts("l_eye", "r_eye"))
SKIN = CLASS_NAMES.index("skin")
# An eye is carried with the skin round it, this share of its size (root of its area): its lids,
# lashes and crease are the style's too (without, a sharp eye sat in the network's soft lids).
EYE_SURROUND = 0.2
GLASSES = CLASS_NAMES.index("eye_g")
# The painted part and the style's, carried onto it, must overlap by this (intersection over
# union) for the style's pixels to be taken: below, the shapes differ enough that the style's
# eye would be squashed or a closed mouth stretched over an open one.
CLOSE_IOU = 0.6
# ... nor be stretched or squashed by more than this factor along any direction (a closed mouth
# stretched twice as wide over a wide one showed its teeth as smears; an ear squashed to a
# third, as streaks).
MAX_STRETCH = 1.8
MIN_CARRIED_PIXELS = 24  # a part smaller than this (in either face) is not carried


def carried_features(style_image: np.ndarray, style_mask: np.ndarray, painted_mask: np.ndarray,
                     feather: float, under: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The style face's eyes, mouth and ears carried onto ``painted_mask``'s (all at one side
    S): float32 (S, S, 3) pixels and their weight in 0..1 (1 on a carried part, fading out
    over about ``feather`` pixels; 0 where none is carried). ``under``: the painted face
    (float32 (S, S, 3)), whose shading the lids round a carried eye keep; None: no lids."""
    side = painted_mask.shape[0]
    pixels = np.zeros((side, side, 3), np.float32)
    weight = np.zeros((side, side), np.float32)
    margin = int(3 * feather) + 2
    style_image = np.asarray(style_image, np.float32)
    counts = [np.bincount(mask.ravel(), minlength=NUM_CLASSES) for mask in (painted_mask, style_mask)]
    for feature in CARRIED_FEATURES:
        for group in feature:
            if min(count[part] for part in group for count in counts) < MIN_CARRIED_PIXELS:
                continue  # each of the group's parts must be in both faces
            if _carry(group, style_image, style_mask, painted_mask, under, feather, margin, pixels, weight):
                break
    return pixels, weight


def _carry(group: tuple[int, ...], style_image: np.ndarray, style_mask: np.ndarray, painted_mask: np.ndarray,
           under: np.ndarray | None, feather: float, margin: int, pixels: np.ndarray, weight: np.ndarray) -> bool:
    """Carry the style's ``group`` of parts (float32 ``style_image``) onto the painted one into
    ``pixels`` and ``weight`` if the two are alike; whether it was carried."""
    new, old = np.isin(painted_mask, group), np.isin(style_mask, group)
    new_box, old_box = box_around(new, 0), box_around(old, 0)
    eye = group[0] in EYES
    if eye and (style_mask[box_around(old, margin)] == GLASSES).any():
        return False  # the style's eye seen through a frame or a lens: its glasses would come along
    # From a pixel of the painted part to the style's (found on the parts' boxes, then moved to
    # the picture's frame: the same map).
    back = part_move(old[old_box], new[new_box])
    new_corner = np.array([new_box[1].start, new_box[0].start], np.float64)
    old_corner = np.array([old_box[1].start, old_box[0].start], np.float64)
    back[:, 2] += old_corner - back[:, :2] @ new_corner
    stretch = np.linalg.svd(back[:, :2], compute_uv=False)  # the inverse of the part's stretch
    if stretch.max() > MAX_STRETCH or stretch.min() < 1.0 / MAX_STRETCH:
        return False
    surround = round(EYE_SURROUND * np.sqrt(new.sum())) if eye else 0
    box = box_around(new, margin + surround)
    # The same map for the box's own pixels (its corner at the origin).
    corner = np.array([box[1].start, box[0].start], np.float64)
    local = np.concatenate([back[:, :2], (back[:, 2] + back[:, :2] @ corner)[:, None]], axis=1)
    size = (box[1].stop - box[1].start, box[0].stop - box[0].start)
    flags = cv2.WARP_INVERSE_MAP
    landed = cv2.warpAffine(old.astype(np.uint8), local, size, flags=cv2.INTER_NEAREST | flags) > 0
    ours = new[box]
    if (landed & ours).sum() < CLOSE_IOU * (landed | ours).sum():
        return False
    carried = cv2.warpAffine(style_image, local, size, flags=cv2.INTER_CUBIC | flags,
                             borderMode=cv2.BORDER_REFLECT)
    soft = np.maximum(cv2.GaussianBlur(ours.astype(np.float32), (0, 0), feather), ours)
    if surround and under is not None:
        # The lids round the eye (over the painted skin only, not into a brow or the hair): the
        # style's lashes and crease, its detail finer than the feather, over the painted face's
        # own shading and colour (the style's lighter lids would ring the eye like goggles).
        lids = ours | (grow(ours, surround) & (painted_mask[box] == SKIN))
        shading = cv2.GaussianBlur(under[box], (0, 0), feather) - cv2.GaussianBlur(carried, (0, 0), feather)
        carried += (1.0 - soft)[..., None] * shading
        soft = np.maximum(cv2.GaussianBlur(lids.astype(np.float32), (0, 0), feather), lids)
    taken = soft > weight[box]  # where two parts' feathers meet, the nearer part's pixels
    pixels[box][taken] = carried[taken]
    weight[box] = np.maximum(weight[box], soft)
    return True


__all__ = ["CARRIED_FEATURES", "CLOSE_IOU", "MAX_STRETCH", "carried_features"]
