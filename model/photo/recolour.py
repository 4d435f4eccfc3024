"""A style edit of a photo: each restyled part recoloured where it is in the whole photo.

A style edit (a reference's part, a random style, a strength) changes a part's colour, not
its shape, so no pixel has to be invented: the photo's own pixels are kept (strands, pores,
its light and grain) and recoloured. Each restyled part gets a colour change
(``LabTransform``: to the reference's colour, or to the network's part for a random style),
applied wherever the part is in the photo at its own framing (``framing.photo_parse``: past
the aligned crop too, so no box or seam can appear), by how much each pixel is the part:
its alpha matte against the background (``matte.py``: the background between strands keeps
its colour) and a soft class edge against the face's other parts (a skin edit leaves the
eyes, the brows' hairs and the lips). Every pixel no part reaches keeps its bytes.
"""

from __future__ import annotations

from collections.abc import Mapping

import cv2
import numpy as np

from ..io.cache import LRUCache, content_digest
from ..labels import BACKGROUND, CLASS_NAMES
from .colour import (
    IRIS_PARTS,
    SKIN,
    TONE_CLASSES,
    LabTransform,
    colour_sample,
    from_lab,
    gain_of,
    iris_weight,
    match_colours,
    to_lab,
)
from .finish import Finish
from .framing import PhotoParse, photo_parse
from .hair_tone import LightnessCurve, lightness_curve, shading_of
from .matte import TRIMAP_UNKNOWN, band_for, part_matte, trimap
from .regions import MIN_PART_PIXELS, at_size
from .source import SourcePhoto

# The soft edge of a part against the face's other parts, in working pixels (a Gaussian):
# the parser's edge is right there, a lip keeps its line.
CLASS_EDGE_SIGMA = 0.8
# Parts of the skin's tone keep their shading and contrast (``colour.tone_change``); their mean
# moves by at most this many CIELAB units (a light face given a tan becomes tanned, not a flat
# dark mask).
TONE_LIGHTNESS_STEP = 45.0
# Parts whose edge is strands, found by the matte; where it meets the rest over at least
# this many pixels.
MATTED_PARTS = frozenset({CLASS_NAMES.index("hair"), CLASS_NAMES.index("hat")})
MIN_MATTE_EDGE = 64
# The brows' pixels that look like the skin (within this many of its spreads) take a skin edit.
SKIN_THROUGH = tuple(CLASS_NAMES.index(name) for name in ("l_brow", "r_brow"))
SKIN_THROUGH_SPREADS = 2.0
FACE_EDGE_BAND = 0.3  # the band against the face's other parts (a fringe on the forehead), a share of the background's
# The matte's estimate of the part's own colour at its edge is held within this many of the
# part's spreads: where it took in the background (a light wall by dark hair), recolouring it
# as hair made a glowing rim.
FOREGROUND_SPREADS = 2.0
# How far past the parsed part (a share of the matte's band) the matte may still find the part.
OUTSIDE_REACH = 0.5
# How far inside the parsed part, on the side it meets, the matte starts (a share of its band):
# the parsed edge strays a few pixels over the background.
PART_INSET = 0.25


def part_transforms(finish: Finish, base: np.ndarray, mask: np.ndarray, generated: np.ndarray | None
                    ) -> tuple[dict[int, LabTransform], dict[int, LightnessCurve]]:
    """The colour change of each restyled part of a photo whose aligned crop is ``base``
    (uint8 (S, S, 3)) with its parsed ``mask``: to the planned colour (``finish.colours``),
    or for a part without one (a random style, colour matching off) to the colour of the
    network's part in ``generated`` (the raw face, its light matched to the photo's). Also, for
    hair made much lighter, its lightness curve (``hair_tone``: light and shade from the hair's
    own shading, not a flat wash)."""
    side = base.shape[0]
    lab = to_lab(base)
    transforms, curves = {}, {}
    shading = None
    generated_lab = None
    for part in sorted(finish.restyled):
        inner = colour_sample(mask, part, lightness=lab[..., 0] if part in IRIS_PARTS else None)
        if inner.sum() < MIN_PART_PIXELS:
            continue
        own = lab[inner]
        own_mean, own_spread = own.mean(axis=0), own.std(axis=0)
        target = finish.colours.get(part) if finish.match_colour else None
        if target is not None:
            mean, spread = np.asarray(target.mean, np.float32), own_spread * target.spread_ratio
        elif generated is not None:
            if generated_lab is None:
                resized = cv2.resize(generated, (side, side), interpolation=cv2.INTER_LANCZOS4).astype(np.float32)
                anchor = at_size(finish.anchor(finish.original_mask.shape[0]).astype(np.uint8), side) > 0
                generated_lab = to_lab(match_colours(resized, base.astype(np.float32), anchor))
            made = generated_lab[colour_sample(at_size(finish.edited_mask, side), part)]
            if len(made) < MIN_PART_PIXELS:
                continue
            mean, spread = made.mean(axis=0), made.std(axis=0)
        else:
            continue
        gain = gain_of(own_spread, spread)
        if part in TONE_CLASSES:  # lightness moved by a bounded step (its contrast: ``colour.tone_change``)
            mean = mean.copy()
            mean[0] = own_mean[0] + np.clip(mean[0] - own_mean[0], -TONE_LIGHTNESS_STEP, TONE_LIGHTNESS_STEP)
        transforms[part] = LabTransform(part, own_mean, gain, np.asarray(mean, np.float32), own_spread)
        if part in MATTED_PARTS:
            if shading is None:
                shading = shading_of(lab[..., 0], side)  # the aligned crop's face is its side across
            curve = lightness_curve(shading[inner], float(mean[0]), float(spread[0]), float(gain[0]))
            if curve is not None:
                curves[part] = curve
    return transforms, curves


_weights_cache = LRUCache(16)  # the studio renders one photo's edit again and again: its mattes are found once


def clear_cache() -> None:
    """Forget the mattes and weights found so far (they are found again when asked for)."""
    _weights_cache.clear()


def part_weights(parse: PhotoParse, parts: Mapping[int, LabTransform], restyled: frozenset[int], side: int
                 ) -> dict[int, tuple[np.ndarray, np.ndarray | None, np.ndarray | None]]:
    """How much each working pixel is each restyled part (float32 (h, w)); where the part
    meets the background, the matte's unknown zone (float32, 1 in it) and the part's own
    colour there (the matte's foreground, float32 RGB), else None. ``side``: the face's
    side in working pixels (the matte's band)."""
    key = content_digest(parse.digest, np.array(sorted(parts)), np.array(sorted(restyled)), side)
    cached = _weights_cache.get(key)
    if cached is not None:
        return cached
    weights = {}
    lightness = None
    for part in parts:
        region = parse.classes == part
        if region.sum() < MIN_PART_PIXELS:
            continue
        # Everything is worked out in the box the part's edge bands reach, not the whole photo.
        band = band_for(side)
        rows, cols = np.flatnonzero(region.any(axis=1)), np.flatnonzero(region.any(axis=0))
        margin = 2 * band + 8
        height, width = region.shape
        box = (slice(max(0, rows[0] - margin), min(height, rows[-1] + 1 + margin)),
               slice(max(0, cols[0] - margin), min(width, cols[-1] + 1 + margin)))
        classes, pixels, region = parse.classes[box], parse.pixels[box], region[box]
        background = classes == BACKGROUND
        weight = cv2.GaussianBlur(region.astype(np.float32), (0, 0), CLASS_EDGE_SIGMA)
        zone = foreground = None
        # Where a part with strands (hair) meets what stays as it is (the background, the
        # forehead under a fringe), the matte decides how much each pixel is the part.
        # The background gets a wide band (the parse strays there between wisps), the face's
        # other parts a narrow one (the parser is right there; only strands over the skin).
        others = ~region & ~np.isin(classes, list(restyled))
        if part in MATTED_PARTS:
            zone = np.zeros(region.shape, bool)
            foreground = pixels.astype(np.float32)
            outside = cv2.distanceTransform((~region).astype(np.uint8), cv2.DIST_L2, 3)
            for against, reach in ((others & ~background, max(2, round(band * FACE_EDGE_BAND))),
                                   (background & others, band)):
                edge = region & (cv2.dilate(against.astype(np.uint8), np.ones((3, 3), np.uint8)) > 0)
                if edge.sum() < MIN_MATTE_EDGE:
                    continue
                # The parsed edge strays a few pixels over the background: the matte starts from
                # the part a little inside it, so its colours nearby are the part's own.
                inset = max(0, round(PART_INSET * reach))
                facing = cv2.dilate(against.astype(np.uint8), np.ones((2 * inset + 1,) * 2, np.uint8)) > 0 \
                    if inset else against
                inner = region & ~facing  # the part less its rim on this side
                beyond = against | (region & facing)  # the rim given up is the matte's to decide
                matte = part_matte(pixels, inner, beyond, reach)
                unknown = (trimap(inner, beyond, reach) == TRIMAP_UNKNOWN) & ~zone
                # Past the parsed part the matte's word fades with the distance: a strand a few
                # pixels out is the part, a patch of background of the part's colour further out
                # (dark leaves by dark curls) is not.
                fade = np.clip(1.0 - outside / max(1.0, OUTSIDE_REACH * reach), 0.0, 1.0) ** 2
                weight = np.where(unknown, matte.alpha * fade, np.where(against, 0.0, weight)).astype(np.float32)
                foreground[unknown] = matte.foreground[unknown]
                zone |= unknown
            zone = zone.astype(np.float32)
        if part in IRIS_PARTS:  # the iris takes the colour, the white of the eye stays white
            if lightness is None:
                lightness = to_lab(parse.pixels)[..., 0]
            weight = weight * iris_weight(lightness[box], region | (weight > 0.05))
        if part == SKIN:
            weight = np.maximum(weight, _skin_through(pixels, classes, parts[SKIN], restyled))
        weights[part] = tuple(None if plane is None else _placed(plane, box, parse.classes.shape)
                              for plane in (weight.astype(np.float32), zone, foreground))
    _weights_cache.put(key, weights)
    return weights


def _skin_through(pixels: np.ndarray, classes: np.ndarray, skin: LabTransform, restyled: frozenset[int]
                  ) -> np.ndarray:
    """How much each pixel of the brows (when they keep their own style) is the skin showing
    between their hairs (float32): the brow class takes in the skin around and between the
    hairs, and left as it was it stood as a light band over a skin made darker."""
    brows = np.isin(classes, [part for part in SKIN_THROUGH if part not in restyled])
    if not brows.any() or skin.spread is None:
        return np.zeros(classes.shape, np.float32)
    lab = to_lab(pixels[brows][None])[0]
    distance = ((lab - skin.source) / (SKIN_THROUGH_SPREADS * np.maximum(skin.spread, 2.0))) ** 2
    through = np.zeros(classes.shape, np.float32)
    through[brows] = np.exp(-0.5 * distance.sum(axis=-1))
    return through


def _placed(plane: np.ndarray, box: tuple[slice, slice], shape: tuple[int, int]) -> np.ndarray:
    """A plane worked out in ``box`` put back into a zero plane of the working image's ``shape``."""
    whole = np.zeros(shape + plane.shape[2:], np.float32)
    whole[box] = plane
    return whole


def recolour_photo(photo: SourcePhoto, mask: np.ndarray, finish: Finish, generated: np.ndarray | None,
                   side: int) -> np.ndarray:
    """The whole photo with every part ``finish`` restyles recoloured where it is (uint8
    (H, W, 3), the photo's own bytes wherever no part reaches). ``mask``: the face's parsed
    mask (aligned, S x S); ``generated``: the network's raw face (for parts without a planned
    colour); ``side``: the side the face is worked at (``working_side``)."""
    pixels = np.asarray(photo.pixels)
    result = pixels.copy()
    base = photo.aligned(mask.shape[0])
    transforms, curves = part_transforms(finish, base, mask, generated)
    if not transforms:
        return result
    # Classes and mattes are found on the studio's preview of the photo (at most PREVIEW_SIDE
    # pixels): the live view and the saved photo share them, and a 12-megapixel photo is saved
    # as fast as its preview is edited; the colour change is applied to every photo pixel.
    working = photo.preview
    parse = photo_parse(working, mask, side)
    weights = part_weights(parse, transforms, finish.restyled, max(1, round(parse.face_side)))
    if not weights:
        return result
    total = sum(weight for weight, *_ in weights.values())
    reached = total > 1.0 / 512
    if not reached.any():
        return result
    # The photo box the weights reach (working pixels → photo pixels), a pixel more for interpolation.
    rows, cols = np.flatnonzero(reached.any(axis=1)), np.flatnonzero(reached.any(axis=0))
    height, width = pixels.shape[:2]
    scale = parse.scale * working.size[0] / width  # working pixels per photo pixel
    top, bottom = max(0, int((rows[0] - 1) / scale)), min(height, int(np.ceil((rows[-1] + 2) / scale)))
    left, right = max(0, int((cols[0] - 1) / scale)), min(width, int(np.ceil((cols[-1] + 2) / scale)))
    box = result[top:bottom, left:right]
    lab = to_lab(box)
    change = np.zeros_like(lab)
    where = (top, bottom, left, right)
    for part, (weight, zone, foreground) in weights.items():
        up = _to_photo(weight, scale, where)[..., None]
        transform = transforms[part]
        own = lab
        if zone is not None:
            # Mixed pixels: the part's own colour (the matte's foreground) is recoloured and laid
            # over the photo's own background, not the mixture (no haze of the new colour).
            mixed = _to_photo(zone, scale, where)[..., None]
            estimate = transform.within(to_lab(_to_photo(foreground, scale, where)), FOREGROUND_SPREADS)
            own = lab + mixed * (estimate - lab)
        changed = transform.apply(own)
        if part in curves:
            changed[..., 0] = curves[part].apply(own[..., 0], changed[..., 0], parse.face_side / scale)
        change += up * (changed - own)
    touched = np.abs(change).max(axis=-1) > 1e-3
    mixed = from_lab(lab + change)
    np.copyto(box, np.clip(mixed + 0.5, 0, 255).astype(np.uint8), where=touched[..., None])
    return result


def _to_photo(plane: np.ndarray, scale: float, box: tuple[int, int, int, int]) -> np.ndarray:
    """A working plane (h, w[, c]) at the photo's pixels of ``box`` (top, bottom, left, right);
    ``scale``: working pixels per photo pixel."""
    top, bottom, left, right = box
    if abs(scale - 1.0) < 1e-9:
        return plane[top:bottom, left:right].astype(np.float32)
    # Photo pixel x sits at working x * scale + (scale - 1) / 2 (pixel centres, INTER_AREA's grid).
    xs = (np.arange(left, right, dtype=np.float32) + 0.5) * scale - 0.5
    ys = (np.arange(top, bottom, dtype=np.float32) + 0.5) * scale - 0.5
    map_x, map_y = np.meshgrid(xs, ys)
    return cv2.remap(plane.astype(np.float32), map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def recoloured_parts(finish: Finish, original_mask: np.ndarray, edited_mask: np.ndarray) -> frozenset[int]:
    """The restyled parts that keep their shape (not reshaped, the same pixels before and after):
    they invent no pixel, and the photo is recoloured for them (``recolour_photo``)."""
    edited = at_size(edited_mask, original_mask.shape[0])
    return frozenset(part for part in finish.restyled if part not in finish.reshaped
                     and np.array_equal(original_mask == part, edited == part))


__all__ = ["part_transforms", "part_weights", "recolour_photo", "recoloured_parts"]
