"""Putting an edited face back into the photo it was cut out of.

``paste_back`` finishes the generated face against the photo's aligned crop at the face's
own resolution in the photo (``finish.py``: the photo's detail kept, reference colours), and
warps only its *change* to the photo back with the inverse of the alignment, so wherever the
edit keeps the photo's detail that detail is the photo's own pixels:

- only inside a *region* given in aligned pixels (the edited parts, or the whole face),
  faded over a feather band inside the region's edge. Pixels outside the region keep their
  exact bytes, so the rest of the photo is untouched;
- light matched: the generated face's per-channel mean and spread are moved to the photo's
  over *anchor* pixels, the parts that kept their shape and their own style;
- a recoloured part that runs off the aligned crop is recoloured on past it, fading out
  along the part, so the edit never ends in the crop's straight edge;
- only the box of the photo the region covers is warped and blended, so a 12-megapixel
  photo costs about as much as a small one.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import cv2
import numpy as np

from ..errors import DataError
from ..labels import BACKGROUND, NUM_CLASSES
from .colour import LabTransform, from_lab, match_colours, to_lab
from .finish import Finish
from .recolour import recolour_photo, recoloured_parts
from .regions import anchor_pixels, at_size, blend_weight, face_region, strided
from .source import SourcePhoto, working_side

# Past the aligned crop, a restyled part's colour change fades out over this share of the crop.
CROP_PAD = 0.15


def photo_finish(finish: Finish, original_mask: np.ndarray, edited_mask: np.ndarray) -> Finish:
    """``finish`` (as the engine made it, at the networks' size) with the photo's mask and
    the edited one at the photo's mask size, so regions are as sharp as the parser's mask. The
    new shapes stay at their own size: a reshaped part is brought up smoothly where it is used
    (``Finish.part_after``), not in steps of the networks' pixels."""
    return replace(finish, original_mask=original_mask, edited_mask=at_size(edited_mask, original_mask.shape[0]))


def _padded(array: np.ndarray, pad: int) -> np.ndarray:
    if pad == 0:
        return array
    widths = ((pad, pad), (pad, pad)) + ((0, 0),) * (array.ndim - 2)
    return np.pad(array, widths, mode="edge")


def _past_the_crop(base: np.ndarray, work: int, pad: int, finish: Finish, transforms: list[LabTransform]
                   ) -> np.ndarray:
    """The colour change of each restyled part carried past the aligned crop (float32 RGB
    change over the padded canvas, 0 inside the crop): a part that runs off the crop (long
    hair, a half profile) fades out along itself over ``pad`` pixels instead of ending in
    the crop's straight edge. Only pixels of the part's colour are changed there."""
    canvas = base.shape[0]
    change = np.zeros(base.shape, np.float32)
    if not transforms or pad == 0:
        return change
    yy, xx = np.ogrid[:canvas, :canvas]
    outside = np.maximum(np.maximum(pad - xx, xx - (pad + work - 1)), np.maximum(pad - yy, yy - (pad + work - 1)))
    fade = np.clip(1.0 - outside / pad, 0.0, 1.0).astype(np.float32)
    fade = fade * fade * (3 - 2 * fade) * (outside > 0)  # smoothstep: no visible line where it ends
    original, _ = finish.masks(work)
    step = strided(work)
    inner = base[pad:pad + work:step, pad:pad + work:step]
    sampled = original[::step, ::step]
    along = np.zeros(base.shape[:2], np.float32)
    parts = []
    for transform in transforms:
        own = to_lab(inner[sampled == transform.part][None])[0]
        if len(own) < 16:
            continue
        # The part where it meets the crop's edge, run on outwards; its sides blurred so
        # that what continues is a soft tongue, not a box (blurred at a quarter size: it is smooth).
        plane = _padded(finish.part_after(transform.part, work).astype(np.float32), pad)
        small = cv2.resize(plane, (max(1, canvas // 4),) * 2, interpolation=cv2.INTER_AREA)
        small = cv2.GaussianBlur(small, (0, 0), max(1.0, pad / 24))
        weight = cv2.resize(small, (canvas, canvas), interpolation=cv2.INTER_LINEAR) * fade
        along = np.maximum(along, weight)
        parts.append((transform, own, weight))
    moved = along > 1e-3
    if not moved.any():
        return change
    pixels = base[moved]
    lab = to_lab(pixels[None])[0]
    mixed = lab.copy()
    for transform, own, weight in parts:
        # Likeness to the part's own colours: 1 at its mean, fading over one and a half spreads.
        distance = ((lab - own.mean(axis=0)) / (1.5 * np.maximum(own.std(axis=0), 2.0))) ** 2
        likeness = np.exp(-0.5 * distance.sum(axis=-1))
        mixed += (weight[moved] * likeness)[:, None] * (transform.apply(lab) - lab)
    change[moved] = from_lab(mixed[None])[0] - pixels
    return change


def paste_back(photo: SourcePhoto, face: np.ndarray, region: np.ndarray, anchor: np.ndarray | None = None,
               feather: float = 0.03, finish: Finish | None = None, blend: np.ndarray | None = None) -> np.ndarray:
    """The whole photo with ``face`` (uint8 (g, g, 3), the aligned framing) blended in.

    region: bool (s, s), where to paste, in aligned pixels of any side s (usually the
        mask's); anchor: bool (s, s), pixels to match colours on (None: no colour match);
    finish: how the face is finished against the photo (detail, reference colours, see
        ``finish.py``); None: the generated face as it is, light-matched on the anchor.
    blend: float (s, s), the blend weight (``Finish.blend``, 0 outside ``region``, faded at
        the crop's border unless the finish recolours) instead of the region faded over
        ``feather`` of the side inside its edge.
    The face is finished at the photo's own resolution of the face (``working_side``) and
    only its change to the photo is warped back, so wherever the edit keeps the photo's
    detail, that detail is the photo's own pixels. Returns uint8 (H, W, 3) at the photo's
    size; outside the warped region every pixel is the photo's own, byte for byte.
    """
    side = region.shape[0]
    if region.shape != (side, side) or (anchor is not None and anchor.shape != region.shape):
        raise DataError(f"paste-back region {region.shape} and anchor must be square and of one size")
    if face.ndim != 3 or face.shape[0] != face.shape[1] or face.shape[2] != 3:
        raise DataError(f"the face to paste back must be a square RGB image, not {face.shape}")
    pixels = np.asarray(photo.pixels)
    result = pixels.copy()
    if not region.any():
        return result
    work = working_side(photo, side)
    pad = round(CROP_PAD * work) if finish is not None and finish.recolours else 0
    # Photo pixels → the padded canvas: the aligned crop at side ``work``, with ``pad`` around it.
    to_canvas = photo.matrix * (work / photo.aligned_size)
    to_canvas[:, 2] += pad
    canvas = work + 2 * pad
    base = cv2.warpAffine(pixels, to_canvas, (canvas, canvas), flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_REFLECT)
    inner = base[pad:pad + work, pad:pad + work]
    work_anchor = None if anchor is None else at_size(anchor.astype(np.uint8), work) > 0
    if finish is not None:
        finished, transforms = finish.apply(face, inner, work_anchor)
    else:
        resized = cv2.resize(face, (work, work), interpolation=cv2.INTER_LANCZOS4 if face.shape[0] < work
                             else cv2.INTER_AREA).astype(np.float32)
        finished = resized if work_anchor is None else match_colours(resized, inner, work_anchor)
        transforms = []
    base = base.astype(np.float32)
    change = _past_the_crop(base, work, pad, finish, transforms) if pad else np.zeros_like(base)
    change[pad:pad + work, pad:pad + work] = np.clip(finished, 0, 255) - base[pad:pad + work, pad:pad + work]
    # The blend weight; past the crop the region continues as its edge does (replicated).
    if blend is not None:
        weight = _padded(cv2.resize(blend.astype(np.float32), (work, work), interpolation=cv2.INTER_LINEAR)
                         * (at_size(region.astype(np.uint8), work) > 0), pad)
    else:
        weight = blend_weight(_padded(at_size(region.astype(np.uint8), work), pad), feather * work / canvas,
                              fade_border=pad == 0)
    rows, cols = np.flatnonzero((weight > 0).any(axis=1)), np.flatnonzero((weight > 0).any(axis=0))
    if len(rows) == 0:
        return result
    # The weighted change and the weight, warped together (one pass over the photo box).
    weighted = np.dstack([change * weight[..., None], weight])
    # The photo box the region lands in: its corners mapped back, plus a pixel for interpolation.
    to_photo = cv2.invertAffineTransform(to_canvas)
    corners = np.array([[cols[0], rows[0]], [cols[-1] + 1, rows[0]],
                        [cols[0], rows[-1] + 1], [cols[-1] + 1, rows[-1] + 1]], np.float64)
    mapped = corners @ to_photo[:, :2].T + to_photo[:, 2]
    width, height = photo.size
    left, top = (max(0, int(np.floor(v)) - 2) for v in mapped.min(axis=0))
    right, bottom = min(width, int(np.ceil(mapped[:, 0].max())) + 2), min(height, int(np.ceil(mapped[:, 1].max())) + 2)
    if left >= right or top >= bottom:
        return result
    # Photo box pixels → canvas pixels, for warpAffine's inverse mapping.
    box_to_canvas = to_canvas.copy()
    box_to_canvas[:, 2] += to_canvas[:, :2] @ np.array([left, top], np.float64)
    flags = cv2.WARP_INVERSE_MAP
    box_size = (right - left, bottom - top)
    warped = cv2.warpAffine(weighted, box_to_canvas, box_size, flags=flags | cv2.INTER_LINEAR,
                            borderMode=cv2.BORDER_CONSTANT, borderValue=0.0)
    box = result[top:bottom, left:right]
    # In place over the box, no gathering by a mask: only pixels the weight reaches are written.
    blended = box.astype(np.float32)
    blended += warped[..., :3]
    blended += 0.5
    np.clip(blended, 0, 255, out=blended)
    np.copyto(box, blended.astype(np.uint8), where=(warped[..., 3] > 0)[..., None])
    return result


PASTE_REGIONS = ("edited", "face")  # what an edit pastes back into its photo; the first is the default


@dataclass(frozen=True, eq=False)
class PhotoTarget:
    """A photo an edit goes back into: the photo, its face's parsed mask (aligned, S x S),
    what is pasted (``PASTE_REGIONS``: only what the edit changed, or the whole face) and
    whether the edit's base style is the photo's own face (False: every part is restyled
    and no light is taken from the photo)."""

    photo: SourcePhoto
    mask: np.ndarray
    region: str = PASTE_REGIONS[0]
    style_from_photo: bool = True

    def __post_init__(self) -> None:
        self.check_region(self.region)

    @staticmethod
    def check_region(region: object) -> str:
        """``region`` when it is one of ``PASTE_REGIONS``; else a DataError naming them (the one
        check of a paste region: paste_edit and the studio's saved options use it too)."""
        if not isinstance(region, str) or region not in PASTE_REGIONS:
            raise DataError(f"the paste region must be one of {', '.join(PASTE_REGIONS)}, not {region!r:.40}")
        return region


def paste_edit(photo: SourcePhoto, photo_mask: np.ndarray, edited_mask: np.ndarray, face: np.ndarray,
               finish: Finish | None, region: str = PASTE_REGIONS[0], style_from_photo: bool = True) -> np.ndarray:
    """The photo with an edit's face finished and pasted in: the one paste-back policy of the
    studio, ``ca2sis-edit --paste-back`` and the Python API, so one edit gives one photo::

        result = engine.render(edit)
        photo_out = paste_edit(photo, photo_mask, edit.mask, result.raw, result.finish)

    photo_mask: the photo's parsed mask (S, S, aligned); edited_mask: the mask that was
        generated (any side); face: the network's raw face (``Result.raw``).
    finish: how the engine finishes it (``Result.finish``, whose switches say whether it is
        confined, keeps detail, takes colours); None when the face is not an edit of the
        photo's face (a new face): it goes over the whole face, light matched.
    region: "edited", only what the edit changed (``Finish.region``), when the finish is
        confined; "face", the whole face (as is every unconfined, global edit).
    style_from_photo: False when the edit's style face is another face: every part is then
        restyled and no light is taken from the photo.
    """
    PhotoTarget.check_region(region)
    side = photo_mask.shape[0]
    edited = at_size(edited_mask, side)
    others = frozenset() if style_from_photo else frozenset(range(NUM_CLASSES)) - {BACKGROUND}
    if finish is None:
        return paste_back(photo, face, face_region(photo_mask, edited), anchor_pixels(photo_mask, edited, others))
    finish = photo_finish(finish, photo_mask, edited)
    finish = replace(finish, restyled=finish.restyled | others)
    if region == "edited" and style_from_photo and finish.confine:
        kept = recoloured_parts(finish, photo_mask, edited)
        if kept:
            # Parts that only change colour invent no pixel: the photo's own pixels, recoloured
            # wherever the part is. Only what changes shape is left to the generated face.
            pixels = recolour_photo(photo, photo_mask, replace(finish, restyled=kept), face, working_side(photo, side))
            finish = replace(finish, restyled=finish.restyled - kept,
                             colours={part: colour for part, colour in finish.colours.items() if part not in kept})
            if not finish.restyled and not finish.reshaped and np.array_equal(photo_mask, edited):
                return pixels
            photo = photo.with_pixels(pixels)
    if region == "edited" and finish.confine:  # changed pixels taken whole, faded just past them
        return paste_back(photo, face, finish.region(side), finish.anchor(side), finish.feather, finish,
                          finish.blend(side, fade_border=not finish.recolours))
    return paste_back(photo, face, face_region(photo_mask, edited), finish.anchor(side), finish=finish)


