"""Finishing a generated face against the pixels it replaces, so an edit looks like a photograph.

The networks generate a small, soft face (128 px for the bundled weights). A ``Finish``
turns it into an edit of a *base* picture (the photo's aligned crop, or the style face for
aligned output), in three steps, each with its switch:

1. **Confinement** (``confine``): the edit lands only where it was asked for: parts given
   another style (a reference, a strength, a random style), pixels repainted, and for a
   shape slider the union of the part's old and new regions: every changed pixel whole,
   faded out just past it (``Finish.blend``), nothing outside them grown by ``margin`` of
   the side. Everywhere else the base's own pixels are kept, byte for byte. Where a
   restyled part meets the background the change follows the base's own edge, not the
   mask's (``part_matte``): a parsed mask that strays over the background between wisps of
   hair does not paint that background as hair, and no halo of generated colour runs along it.
   Off, the network's whole face is used (the paper's global consistency).
2. **Detail transfer** (``keep_detail``): where a part keeps its shape and only changes its
   style, the result takes the generator's low frequencies (colour, shading) and the
   base's high frequencies (strands, pores), split by a Gaussian at about the scale the
   generator resolves. Where the shape changed (painted pixels, shape sliders) the
   generated pixels are used, despeckled (``despeckle``) and upsampled with a Lanczos filter;
   a part that keeps its style and is only moved and stretched by a shape slider (a nose, an
   eye, lips: old and new regions overlap) is the base's own part warped to the new shape.
3. **Reference colour** (``match_colour``): each part restyled from a reference face is
   given the reference part's colour: its CIELAB mean moves to the reference's and its
   spread by the reference's spread over the base's own, both by the part's strength. (The
   bundled generator still drifts from a reference's colours; this step makes the result
   carry them whatever the network gives.) The generated shading is kept within about a
   spread of the base's own shading recoloured the same way (``SHADING_LIMIT``), so a
   blotch of the generator does not become a dark blob; the recolouring is also what
   carries the change past the aligned crop (``paste_back``).

Everything works in aligned pixels at any side; masks of any side are resized (nearest).
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import cv2
import numpy as np

from ..labels import CLASS_NAMES, NUM_CLASSES

BACKGROUND = 0
# Below this share of the face's pixels, the anchor is too small to measure colours on.
MIN_ANCHOR_SHARE = 0.01
# The low/high split: Gaussian sigma in generated pixels (the bundled 128 px generator
# resolves detail of about two of its pixels; finer than that is the photo's).
DETAIL_SIGMA = 1.5
# A reshaped feature of the face whose old and new regions overlap by this share of their union
# is the same feature moved and stretched (``Finish._moved_parts``); less, a new one (generated
# pixels). Hair, skin, neck, clothes and hats are never moved so: their shapes are no stretch
# of the old ones, and a warp of them would carry the face along.
MOVE_MIN_OVERLAP = 0.3
MOVABLE_PARTS = frozenset(CLASS_NAMES.index(name) for name in (
    "nose", "l_eye", "r_eye", "l_brow", "r_brow", "mouth", "u_lip", "l_lip", "l_ear", "r_ear"))
# The matte where a restyled part meets the background (``part_matte``): how far from the
# mask's edge, on either side, the base's pixels decide (share of the side; the parser's hair
# mask strays this far over the background between wisps); how many nats the mask's own class
# counts; the smallest spread of a model (CIELAB units, dB of texture); the weight of a kind's
# pixels over the whole box in its local model.
MATTE_BAND = 0.05
MATTE_PRIOR = 4.0
MATTE_FLOOR = np.array([2.0, 2.0, 2.0, 1.0])
MATTE_TEXTURE_SIGMA = 1.5  # pixels: strands a few pixels apart keep the gaps between them smooth
MATTE_GLOBAL_WEIGHT = 0.02
# Models that tell the part's own pixels from the background's at the first accuracy
# (balanced) are not trusted at all, at the second whole.
MATTE_ACCURACY = (0.75, 0.95)
MIN_PART_PIXELS = 16  # fewer pixels of a part than this: no colour statistics for it
SKIN = CLASS_NAMES.index("skin")
# A skin restyled from a reference carries its colour change to these parts, unless they are
# given a style of their own: a person sees one skin tone over the face, nose, ears and neck,
# and a dark face around the photo's pale nose and neck is no skin tone (``skin_tone_target``).
SKIN_TONE_PARTS = tuple(CLASS_NAMES.index(name) for name in ("nose", "l_ear", "r_ear", "neck"))
# Where the skin's tone is measured: between the eyes' level and the tip of the nose (cheeks and
# temples), since the skin class also holds a shaved scalp, stubble and beards (``colour_sample``).
EYE_PARTS = tuple(CLASS_NAMES.index(name) for name in ("l_eye", "r_eye", "eye_g"))
NOSE = CLASS_NAMES.index("nose")
# An eye's colour is its iris's: the eye class holds the white of the eye too, and moving the
# white with the iris to a brown eye's mean made it pink, bloodshot. An eye restyled from a
# reference is the photo's own eye with its iris recoloured (``iris_weight``).
IRIS_PARTS = frozenset(CLASS_NAMES.index(name) for name in ("l_eye", "r_eye"))
IRIS_SOFTNESS = 4.0  # CIELAB lightness units over which a pixel goes from the iris to the white
GAIN_RANGE = (0.5, 2.0)
# How far (in spreads of the part) the generated shading of a recoloured part may stray from
# the photo's own shading recoloured; further is softly limited.
SHADING_LIMIT = 0.75  # a spread is never scaled by more than this (a flat part must not blow up)


def at_size(mask: np.ndarray, side: int) -> np.ndarray:
    """A class mask resized (nearest) to side x side."""
    if mask.shape == (side, side):
        return mask
    return cv2.resize(mask.astype(np.uint8), (side, side), interpolation=cv2.INTER_NEAREST)


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


def anchor_pixels(original_mask: np.ndarray, edited_mask: np.ndarray, restyled: Iterable[int] = ()) -> np.ndarray:
    """Pixels whose colour the generated face should share with the photo: same class in
    both masks, not the background, and of a part that kept its own style."""
    edited = at_size(edited_mask, original_mask.shape[0])
    keep = np.ones(NUM_CLASSES, bool)
    keep[BACKGROUND] = False
    keep[list(restyled)] = False
    return (original_mask == edited) & keep[original_mask]


def match_colours(face: np.ndarray, target: np.ndarray, anchor: np.ndarray) -> np.ndarray:
    """``face`` with each channel's mean and spread over ``anchor`` moved to ``target``'s
    (float32). Unchanged when the anchor is too small to measure on."""
    face = face.astype(np.float32)
    if anchor.sum() < MIN_ANCHOR_SHARE * anchor.size:
        return face
    step = strided(anchor.shape[0])
    sample = anchor[::step, ::step]
    ours, theirs = face[::step, ::step][sample], target[::step, ::step][sample].astype(np.float32)
    mean_ours, mean_theirs = ours.mean(axis=0), theirs.mean(axis=0)
    gain = np.clip(theirs.std(axis=0) / np.maximum(ours.std(axis=0), 1e-3), *GAIN_RANGE)
    return (face - mean_ours) * gain + mean_theirs


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


def to_lab(rgb: np.ndarray) -> np.ndarray:
    """RGB in 0..255 (any dtype) → CIELAB float32 (L 0..100)."""
    return cv2.cvtColor(np.clip(rgb.astype(np.float32), 0, 255) / 255.0, cv2.COLOR_RGB2LAB)


def from_lab(lab: np.ndarray) -> np.ndarray:
    """CIELAB float32 → RGB float32 in 0..255."""
    return cv2.cvtColor(lab.astype(np.float32), cv2.COLOR_LAB2RGB) * 255.0


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


def strided(side: int, pixels: int = 65536) -> int:
    """A stride that leaves about ``pixels`` samples of a side x side image (colour statistics
    need no more)."""
    return max(1, int(side / np.sqrt(pixels)))


def _box(region: np.ndarray, margin: int) -> tuple[slice, slice]:
    """The bounding box of ``region`` grown by ``margin`` pixels, as slices."""
    rows, cols = np.flatnonzero(region.any(axis=1)), np.flatnonzero(region.any(axis=0))
    height, width = region.shape
    return (slice(max(0, rows[0] - margin), min(height, rows[-1] + 1 + margin)),
            slice(max(0, cols[0] - margin), min(width, cols[-1] + 1 + margin)))


def interior(region: np.ndarray) -> np.ndarray:
    """``region`` without its edge (1 % of the side), where colours are measured: edge pixels
    mix the part with its neighbours. The whole region when too little would be left."""
    band = max(1, round(0.01 * region.shape[0]))
    inner = cv2.erode(region.astype(np.uint8), np.ones((2 * band + 1, 2 * band + 1), np.uint8)) > 0
    return inner if inner.sum() >= MIN_PART_PIXELS else region


def white_of_eye_threshold(lightness: np.ndarray, bins: int = 64) -> float:
    """The CIELAB lightness above which an eye's pixels are the white of the eye: the upper
    of the two thresholds that split the values into three classes of the least spread
    within them (Otsu's criterion with three classes): lashes and pupil, iris, white. Two
    classes would split a light iris off with the white of the eye."""
    counts, edges = np.histogram(lightness, bins=bins, range=(0.0, 100.0))
    centres = 0.5 * (edges[:-1] + edges[1:])
    weight, moment = np.cumsum(counts).astype(np.float64), np.cumsum(counts * centres)
    total, total_moment = weight[-1], moment[-1]
    best, upper = -1.0, float(edges[-1])
    for low in range(bins - 2):  # class 1: bins 0..low; class 2: low+1..high; class 3: the rest
        highs = np.arange(low + 1, bins - 1)
        w1, m1 = weight[low], moment[low]
        w2, m2 = weight[highs] - w1, moment[highs] - m1
        w3, m3 = total - weight[highs], total_moment - moment[highs]
        with np.errstate(divide="ignore", invalid="ignore"):
            spread = (m1 ** 2 / w1 if w1 > 0 else 0.0) + np.where(w2 > 0, m2 ** 2 / w2, 0.0) \
                + np.where(w3 > 0, m3 ** 2 / w3, 0.0)
        spread[(w2 <= 0) | (w3 <= 0)] = -1.0
        if w1 > 0 and spread.max() > best:
            best, upper = float(spread.max()), float(edges[highs[int(spread.argmax())] + 1])
    return upper


def iris_weight(lightness: np.ndarray, region: np.ndarray) -> np.ndarray:
    """float32 like ``lightness`` (CIELAB L): how much each pixel of an eye's ``region`` is its
    iris (pupil and lashes too) rather than the white of the eye (``white_of_eye_threshold``),
    softly over ``IRIS_SOFTNESS``; 0 outside the region."""
    values = lightness[region]
    if values.size < MIN_PART_PIXELS:
        return region.astype(np.float32)
    threshold = white_of_eye_threshold(values)
    weight = 1.0 / (1.0 + np.exp(np.clip((lightness - threshold) / IRIS_SOFTNESS, -30, 30)))
    return (weight * region).astype(np.float32)


def colour_sample(mask: np.ndarray, part: int, region: np.ndarray | None = None,
                  lightness: np.ndarray | None = None) -> np.ndarray:
    """bool: the pixels a part's colour is measured on, in a face whose class mask is ``mask``:
    the interior of ``region`` (default: the mask's ``part``). For the skin only its band
    between the eyes' level and the nose's tip, where the face has eyes (or glasses) and a
    nose: the skin class also covers a shaved scalp, stubble and beards, whose grey would
    pass for the tone (a bearded reference gave a grey-green face). For an eye, given the
    picture's ``lightness``, only its iris (``iris_weight``), not the white of the eye."""
    inside = interior(mask == part if region is None else region)
    if part in IRIS_PARTS and lightness is not None:
        iris = inside & (iris_weight(lightness, inside) > 0.5)
        return iris if iris.sum() >= MIN_PART_PIXELS else inside
    if part != SKIN:
        return inside
    eyes, nose = np.isin(mask, EYE_PARTS), mask == NOSE
    if eyes.sum() < MIN_PART_PIXELS or nose.sum() < MIN_PART_PIXELS:
        return inside
    top, bottom = int(np.nonzero(eyes)[0].mean()), int(np.nonzero(nose)[0].max())
    band = inside.copy()
    band[:top], band[bottom + 1:] = False, False
    return band if band.sum() >= 4 * MIN_PART_PIXELS else inside


@dataclass(frozen=True)
class PartColour:
    """A part's colour: CIELAB mean and spread (standard deviation) per channel."""

    mean: np.ndarray  # (3,)
    spread: np.ndarray  # (3,)


def part_colour(image: np.ndarray, mask: np.ndarray, part: int) -> PartColour | None:
    """The colour of ``part`` in ``image`` (its ``mask`` of any side), None when too small."""
    lab = to_lab(image)
    inside = colour_sample(at_size(mask, image.shape[0]), part, lightness=lab[..., 0])
    if inside.sum() < MIN_PART_PIXELS:
        return None
    pixels = lab[inside]
    return PartColour(pixels.mean(axis=0), pixels.std(axis=0))


@dataclass(frozen=True)
class ColourTarget:
    """Where a restyled part's colour goes: an absolute CIELAB mean and the factor its
    spread is scaled by (both already mixed by the part's strength)."""

    mean: np.ndarray  # (3,)
    spread_ratio: np.ndarray  # (3,)


def colour_target(own: PartColour | None, reference: PartColour, strength: float) -> ColourTarget:
    """The colour of a part taking ``reference``'s style at ``strength``, from ``own`` (the
    base's part, None when the base has none: then the reference's colour, whole)."""
    if own is None:
        return ColourTarget(reference.mean, np.ones(3, np.float32))
    ratio = reference.spread / np.maximum(own.spread, 1e-3)
    mean = (1 - strength) * own.mean + strength * reference.mean
    return ColourTarget(mean.astype(np.float32), ((1 - strength) + strength * ratio).astype(np.float32))


def skin_tone_target(own_skin: PartColour, own: PartColour, skin: ColourTarget) -> ColourTarget:
    """The colour of a part of the skin's tone (``SKIN_TONE_PARTS``, ``own`` in the base) when
    the skin moves from ``own_skin`` to ``skin``: the skin's change, carried over, so the part
    keeps how it differs from the skin in the base (a neck in the chin's shadow stays darker
    than the face)."""
    gain = np.clip(skin.spread_ratio, *GAIN_RANGE)
    return ColourTarget((skin.mean + gain * (own.mean - own_skin.mean)).astype(np.float32),
                        skin.spread_ratio.astype(np.float32))


def gain_of(spread: np.ndarray, wanted: np.ndarray) -> np.ndarray:
    """The factor that takes a spread to the wanted one, within ``GAIN_RANGE``."""
    return np.clip(wanted / np.maximum(spread, 1e-3), *GAIN_RANGE).astype(np.float32)


@dataclass(frozen=True)
class LocalModel:
    """A Gaussian model of some pixels' features that varies over the picture: per square
    cell of ``cell`` pixels, the mean, inverse covariance and log-determinant of the pixels
    of the kind near it (``local_model``)."""

    cell: int
    mean: np.ndarray  # (h, w, n)
    inverse: np.ndarray  # (h, w, n, n)
    log_det: np.ndarray  # (h, w)

    def log_likelihood(self, features: np.ndarray, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
        """Log-likelihood (up to a constant) of pixels at ``rows``, ``cols`` with ``features`` (k, n)."""
        cell_rows = np.minimum(rows // self.cell, self.mean.shape[0] - 1)
        cell_cols = np.minimum(cols // self.cell, self.mean.shape[1] - 1)
        delta = features - self.mean[cell_rows, cell_cols]
        mahalanobis = np.einsum("ki,kij,kj->k", delta, self.inverse[cell_rows, cell_cols], delta)
        return -0.5 * mahalanobis - 0.5 * self.log_det[cell_rows, cell_cols]


def local_model(features: np.ndarray, where: np.ndarray, reach: float) -> LocalModel:
    """The features (h, w, n) of the pixels ``where``, modelled near each cell: their mean and
    covariance under Gaussian weights of ``reach`` pixels (normalised convolution). Far from
    every such pixel the model falls back on all of them (as if ``MATTE_GLOBAL_WEIGHT`` of
    them were everywhere); the covariance is widened by ``MATTE_FLOOR`` (a flat colour is
    no point)."""
    # Cells of about a tenth of the reach (the models vary smoothly), with moments from every
    # other pixel in each direction when the cells are wide (an unbiased sample, a quarter of
    # the work); a narrow band of a thin part takes every pixel.
    size = 2 * int(np.clip(reach // 10, 1, 4))
    stride = 2 if size >= 4 else 1
    features, where = features[::stride, ::stride], where[::stride, ::stride]
    cell = size // stride
    height, width, count = features.shape
    rows, cols = -(-height // cell), -(-width // cell)
    pairs = [(i, j) for i in range(count) for j in range(i, count)]
    inside = where.astype(np.float32)[..., None]
    products = np.stack([features[..., i] * features[..., j] for i, j in pairs], axis=-1)
    planes = np.concatenate([inside, features * inside, products * inside], axis=-1)
    overall = planes[where].mean(axis=0) if where.any() else planes.reshape(-1, planes.shape[-1]).mean(axis=0)
    # Cell sums (the picture padded with nothing to whole cells), then blurred plane by plane.
    padded = np.zeros((rows * cell, cols * cell, planes.shape[-1]), np.float32)
    padded[:height, :width] = planes
    cells = padded.reshape(rows, cell, cols, cell, -1).mean(axis=(1, 3))
    sigma = max(1.0, reach / size)
    moments = np.stack([cv2.GaussianBlur(np.ascontiguousarray(cells[..., k]), (0, 0), sigma)
                        for k in range(cells.shape[-1])], axis=-1) + MATTE_GLOBAL_WEIGHT * overall
    total = moments[..., :1]
    mean, second = moments[..., 1:1 + count] / total, moments[..., 1 + count:] / total
    covariance = np.empty(mean.shape + (count,), np.float32)
    for pair, (i, j) in enumerate(pairs):
        covariance[..., i, j] = covariance[..., j, i] = second[..., pair] - mean[..., i] * mean[..., j]
    covariance += np.diag(MATTE_FLOOR[:count] ** 2).astype(np.float32)
    return LocalModel(size, mean, np.linalg.inv(covariance), np.linalg.slogdet(covariance)[1].astype(np.float32))


def matte_features(image: np.ndarray) -> np.ndarray:
    """What tells a part from its neighbours in a picture (float32 RGB, 0..255): CIELAB and
    the fine texture (local energy of the lightness gradient, in dB): hair is strands, an
    out-of-focus background behind it is smooth even where the two share a colour."""
    lab = to_lab(image)
    lightness = lab[..., 0]
    energy = cv2.Sobel(lightness, cv2.CV_32F, 1, 0, ksize=3) ** 2 + cv2.Sobel(lightness, cv2.CV_32F, 0, 1, ksize=3) ** 2
    texture = 10 * np.log10(1 + cv2.GaussianBlur(energy, (0, 0), MATTE_TEXTURE_SIGMA))
    return np.concatenate([lab, texture[..., None]], axis=-1)


def part_matte(base: np.ndarray, mask: np.ndarray, part: int, restyled: np.ndarray
               ) -> tuple[tuple[slice, slice], np.ndarray, np.ndarray] | None:
    """How much each pixel where ``part`` meets the background is the part, judged by the
    base's own pixels.

    base: float32 RGB (S, S, 3); mask: the base's class mask (S, S); restyled: bool per
    class, the parts that change anyway. Within ``MATTE_BAND`` of the side of where the part
    meets the background (less for a thin part), on either side, each pixel's colour and
    texture (``matte_features``) are scored against the part's pixels nearby and the
    background's nearby (local Gaussian models: the background behind hair changes along
    it); the mask's own word grows to ``MATTE_PRIOR`` nats a quarter of the band from the
    edge, so a pixel the two could share keeps the mask's class and only one clearly of the
    other kind changes side. Only the background: that is where a parsed mask strays
    (between wisps of hair), while a part's edge with another part of the face (skin and
    nose, of one colour) is where the parser is right and colours cannot tell.
    Returns the box, alpha in it (float32: 1 deep inside the part, 0 far outside) and the
    edge's share (float32: 1 on the background within the band and in the band's outer
    half inside, fading to 0 at the band's depth); None when there is nothing to judge.
    """
    side = base.shape[0]
    region = mask == part
    if region.sum() < MIN_PART_PIXELS or restyled[BACKGROUND]:
        return None
    reach = max(2, round(MATTE_BAND * side))
    box = _box(region, 2 * reach)
    region, background = region[box], mask[box] == BACKGROUND
    if not background.any():
        return None
    thickness = cv2.distanceTransform(region.astype(np.uint8), cv2.DIST_L2, 3).max()
    band = min(reach, max(2, round(0.5 * float(thickness))))  # a thin part: a thin band
    to_background = cv2.distanceTransform((~background).astype(np.uint8), cv2.DIST_L2, 3)
    to_part = cv2.distanceTransform((~region).astype(np.uint8), cv2.DIST_L2, 3)
    zone = (region & (to_background <= band)) | (background & (to_part <= band))
    core = region & (to_background > band)  # the part's pixels away from where the mask may stray
    ring = background & (to_part <= 2 * band)
    if core.sum() < 4 * MIN_PART_PIXELS or ring.sum() < 4 * MIN_PART_PIXELS or not zone.any():
        return None
    features = matte_features(base[box])
    own, others = local_model(features, core, band), local_model(features, ring, band)

    def ratio(rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
        """Log-likelihood ratio, part over background, of the pixels at ``rows``, ``cols``."""
        judged = features[rows, cols]
        return own.log_likelihood(judged, rows, cols) - others.log_likelihood(judged, rows, cols)

    def sampled(where: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        rows, cols = np.nonzero(where)
        step = max(1, len(rows) // 4096)
        return rows[::step], cols[::step]

    # How far the models can be trusted: how well they tell the part's own pixels from the
    # background's (balanced accuracy, ``MATTE_ACCURACY``). A part that looks like the
    # background (black hair on a black background) keeps the mask's edge.
    accuracy = 0.5 * (float((ratio(*sampled(core)) > 0).mean()) + float((ratio(*sampled(ring)) < 0).mean()))
    trust = float(np.clip((accuracy - MATTE_ACCURACY[0]) / (MATTE_ACCURACY[1] - MATTE_ACCURACY[0]), 0.0, 1.0))
    alpha = region.astype(np.float32)
    if trust > 0:
        # The mask's word grows from nothing on its edge to MATTE_PRIOR a quarter band away: no step where it ends.
        signed = np.where(region, to_background, -to_part)[zone]
        prior = MATTE_PRIOR * np.clip(signed / (0.25 * band), -1.0, 1.0)
        judged = 1.0 / (1.0 + np.exp(-np.clip(ratio(*np.nonzero(zone)) + prior, -30, 30)))
        alpha[zone] = alpha[zone] + trust * (judged - alpha[zone])
    # The edge's share: whole on the background and in the outer half of the band inside, none deeper.
    edge = np.where(region, np.clip(2.0 - 2.0 * to_background / band, 0.0, 1.0), zone).astype(np.float32)
    return box, alpha, edge


MATTE_CACHE_SIZE = 8  # mattes kept: a few photos x parts (each a few MB at the largest work side)
_matte_cache: OrderedDict[bytes, tuple | None] = OrderedDict()
_matte_cache_lock = threading.Lock()  # the studio renders and saves on two threads


def cached_part_matte(base: np.ndarray, mask: np.ndarray, part: int, restyled: np.ndarray
                      ) -> tuple[tuple[slice, slice], np.ndarray, np.ndarray] | None:
    """``part_matte``, kept for the same base pixels, mask, part and restyled parts: it does
    not depend on the generated face, so while a slider or a stroke renders a photo's edit
    again and again it is found once (the returned arrays are shared: read them only)."""
    digest = hashlib.blake2b(digest_size=16)
    for array in (base, mask, restyled):
        digest.update(str((array.shape, array.dtype.str)).encode())
        digest.update(np.ascontiguousarray(array).data)
    digest.update(str(part).encode())
    key = digest.digest()
    with _matte_cache_lock:
        if key in _matte_cache:
            _matte_cache.move_to_end(key)
            return _matte_cache[key]
    matte = part_matte(base, mask, part, restyled)
    with _matte_cache_lock:
        _matte_cache[key] = matte
        while len(_matte_cache) > MATTE_CACHE_SIZE:
            _matte_cache.popitem(last=False)
    return matte


@dataclass(frozen=True)
class LabTransform:
    """A part's colour change as a per-channel affine map in CIELAB: (x - source) * gain + target.
    Kept so the same change can be carried past the aligned crop (see ``paste_back``)."""

    part: int
    source: np.ndarray
    gain: np.ndarray
    target: np.ndarray

    def apply(self, lab: np.ndarray) -> np.ndarray:
        return (lab - self.source) * self.gain + self.target


@dataclass(frozen=True, eq=False)
class Finish:
    """How a generated face becomes an edit of a base picture (see the module's text).

    original_mask: the base's own mask; edited_mask: the mask that was generated.
    restyled: parts given another style (references, random styles).
    reshaped: part → a mask whose part is the new shape (shape sliders above 0).
    shape_strengths: part → its shape slider (1 when not given): at 0.5 and above the part
        lies where the new shape has it (``part_after``).
    colours: part → the colour a restyled part should take.
    margin: how far (share of the side) the region grows past what changed. The blend fades
        out within that margin (``feather``), so every changed pixel is taken whole: a small
        part (a nose) is not half faded into the old one.
    """

    original_mask: np.ndarray
    edited_mask: np.ndarray
    restyled: frozenset[int] = frozenset()
    reshaped: Mapping[int, np.ndarray] = field(default_factory=dict)
    colours: Mapping[int, ColourTarget] = field(default_factory=dict)
    confine: bool = True
    keep_detail: bool = True
    match_colour: bool = True
    margin: float = 0.03
    shape_strengths: Mapping[int, float] = field(default_factory=dict)

    @property
    def feather(self) -> float:
        """The blend's fade band (share of the side) for ``region``: a third of the margin, so
        that the fade (eroded by the band, blurred over it: ~2.4 bands with the square
        kernels of ``blend_weight``) lies wholly in the margin, outside what changed."""
        return self.margin / 3

    def part_after(self, part: int, side: int) -> np.ndarray:
        """bool (side, side): where ``part`` is in the edited face: the edited mask's part, or
        for a reshaped part the new shape once its slider is at 0.5 or more (the layout the
        latents were moved to, ``Engine.edit_layout``)."""
        _, edited = self.masks(side)
        if part not in self.reshaped:
            return edited == part
        alpha = float(self.shape_strengths.get(part, 1.0))
        share = (1 - alpha) * (edited == part) + alpha * (at_size(self.reshaped[part], side) == part)
        return share >= 0.5

    def masks(self, side: int) -> tuple[np.ndarray, np.ndarray]:
        return at_size(self.original_mask, side), at_size(self.edited_mask, side)

    def region(self, side: int) -> np.ndarray:
        """bool (side, side): where the finished face replaces the base."""
        original, edited = self.masks(side)
        if not self.confine:
            return np.ones((side, side), bool)
        return edited_region(original, edited, self.restyled, self.margin, self.reshaped)

    @property
    def recolours(self) -> bool:
        """Whether parts take a reference's colour (carried past the crop in a photo)."""
        return self.match_colour and bool(self.colours)

    def blend(self, side: int, fade_border: bool = True) -> np.ndarray:
        """float (side, side): how much of the finished face replaces the base. Confined: 1 on
        every changed pixel, fading out over about a hundredth of the side past them (the
        generator's soft colours do not glow onto the unchanged surroundings), and exactly 0
        outside ``region``; unconfined: 1 everywhere. ``fade_border``: also fade at the crop's
        border (not when the change is carried on past it)."""
        if not self.confine:
            return np.ones((side, side), np.float32)
        original, edited = self.masks(side)
        band = max(1, round(0.006 * side))
        changed = grow(changed_pixels(original, edited, self.restyled, self.reshaped), band)
        near = np.minimum(cv2.GaussianBlur(changed.astype(np.float32), (0, 0), band / 2.0) * 2, 1.0)
        return blend_weight(self.region(side), self.feather, fade_border) * near

    def anchor(self, side: int) -> np.ndarray:
        """Pixels on which the generated face takes the base's light (see ``anchor_pixels``)."""
        original, edited = self.masks(side)
        return anchor_pixels(original, edited, self.restyled | set(self.reshaped))

    def detail_weight(self, side: int) -> np.ndarray:
        """float (side, side): 1 where the base's fine detail is kept (same class before and
        after, not reshaped), 0 where the shape changed, with a soft edge between."""
        original, edited = self.masks(side)
        keep = original == edited
        for part, target in self.reshaped.items():  # the part's old and new regions both change shape
            keep &= (original != part) & (at_size(target, side) != part)
        keep = keep.astype(np.float32)
        band = max(1, round(0.01 * side))
        keep = cv2.erode(keep, np.ones((2 * band + 1, 2 * band + 1), np.uint8), borderType=cv2.BORDER_REPLICATE)
        return cv2.GaussianBlur(keep, (0, 0), band / 2.0, borderType=cv2.BORDER_REPLICATE)

    def apply(self, face: np.ndarray, base: np.ndarray, anchor: np.ndarray | None = None
              ) -> tuple[np.ndarray, list[LabTransform]]:
        """The finished face at the base's side (float32 RGB, 0..255) and the colour change
        made to each restyled part.

        face: uint8 (g, g, 3), the generated face; base: (S, S, 3), the pixels it replaces;
        anchor: bool, pixels to match the generated light to the base's on (None: none).
        """
        side, generated = base.shape[0], face.shape[0]
        base = base.astype(np.float32)
        resized = upsampled(face, side)
        same_shape = self.detail_weight(side) if self.keep_detail or self.colours else None
        if self.keep_detail and same_shape.min() < 1:  # a shape changed: its pixels are generated ones, despeckled
            cleaned = upsampled(despeckle(face), side)
            resized = cleaned + same_shape[..., None] * (resized - cleaned)
        if anchor is not None:
            resized = match_colours(resized, base, at_size(anchor.astype(np.uint8), side) > 0)
        finished = resized
        if self.keep_detail:
            low_generated = low_pass(resized, generated)
            high_base = base - low_pass(base, generated)
            finished = resized + same_shape[..., None] * (low_generated + high_base - resized)
            finished = self._moved_parts(finished, base, same_shape)
        transforms: list[LabTransform] = []
        if self.match_colour and self.colours:
            finished, transforms = self._match_part_colours(finished, base, same_shape)
        if self.confine and self.restyled:
            matte_side = self.detail_weight(side) if same_shape is None else same_shape
            finished = self._matted(finished, base, matte_side, {t.part: t for t in transforms})
        return finished, transforms

    def _matted(self, finished: np.ndarray, base: np.ndarray, same_shape: np.ndarray,
                transforms: Mapping[int, LabTransform]) -> np.ndarray:
        """Where each restyled part that keeps its shape meets the background, the edit is the
        base's own pixels recoloured (to the reference's colour, or the generated part's), as
        much as each pixel is the part (``part_matte``): the change follows the photo's edge,
        not the mask's. A pixel inside the part's mask that looks like the background (between
        wisps of hair that the parser took for hair) keeps its own colour instead of turning
        into generated hair, a background pixel just outside that looks like the part (a
        strand past the mask) is recoloured with it, and there is no halo of generated
        colour. Deeper inside the part the finished face takes over."""
        side = base.shape[0]
        original, _ = self.masks(side)
        restyled = np.zeros(NUM_CLASSES, bool)
        restyled[list(self.restyled)] = True
        result = finished.copy()
        # Outside every restyled part but near one, the likeliest such part decides (its alpha there).
        best = np.full((side, side), -1.0, np.float32)
        for part in sorted(self.restyled - set(self.reshaped)):
            matte = cached_part_matte(base, original, part, restyled)
            if matte is None:
                continue
            box, alpha, edge = matte
            # Only the pixels the edge reaches (where a shape changed, ``same_shape`` 0, the
            # generated pixels stand as they are), as flat lists: a fraction of the box.
            weight = same_shape[box] * edge
            inside = original[box] == part
            outside = (edge > 0) & ~restyled[original[box]] & (alpha > best[box])
            best[box][outside] = alpha[outside]
            touched = (weight > 0) & (inside | outside)
            if not touched.any():
                continue
            here, made = base[box][touched], finished[box][touched]
            if self.keep_detail:
                transform = transforms.get(part) or self._generated_colour(part, finished, base)
                recoloured = from_lab(transform.apply(to_lab(here[None])))[0]
            else:  # no photo detail asked for: the finished pixels, only placed by the matte
                recoloured = made
            asked = here + alpha[touched][:, None] * (recoloured - here)
            result[box][touched] = made + weight[touched][:, None] * (asked - made)
        return result

    def _generated_colour(self, part: int, finished: np.ndarray, base: np.ndarray) -> LabTransform:
        """The change that takes the base's ``part`` to the finished part's colour (mean and
        spread in CIELAB, over the part's interior): a random style's colour, for the part's edge."""
        original, _ = self.masks(base.shape[0])
        inner = colour_sample(original, part)
        step = strided(base.shape[0])
        if inner[::step, ::step].sum() >= MIN_PART_PIXELS:  # a sample is enough for statistics
            base, finished, inner = base[::step, ::step], finished[::step, ::step], inner[::step, ::step]
        own, made = to_lab(base[inner][None])[0], to_lab(finished[inner][None])[0]
        return LabTransform(part, own.mean(axis=0), gain_of(own.std(axis=0), made.std(axis=0)), made.mean(axis=0))

    def _moved_parts(self, finished: np.ndarray, base: np.ndarray, same_shape: np.ndarray) -> np.ndarray:
        """A reshaped feature (``MOVABLE_PARTS``) that keeps its style and is moved and stretched
        rather than new (old and new regions overlap by ``MOVE_MIN_OVERLAP``) is the base's
        own part, warped to the new shape (``part_move``): a small part is a few generated
        pixels, too few for a clean new nose, while the photo's nose moved is a photograph."""
        side = finished.shape[0]
        original, _ = self.masks(side)
        band = max(1, round(0.01 * side))
        for part, target in self.reshaped.items():
            old, new = original == part, at_size(target, side) == part
            if part not in MOVABLE_PARTS or part in self.restyled or min(old.sum(), new.sum()) < MIN_PART_PIXELS:
                continue
            if (old & new).sum() < MOVE_MIN_OVERLAP * (old | new).sum():
                continue
            move = part_move(old, new, float(self.shape_strengths.get(part, 1.0)))
            box = _box(old | new, 6 * band)
            offset = np.array([box[1].start, box[0].start], np.float64)
            # The map in the box's pixels: x_base = A (x + offset) + b - offset.
            local = move.copy()
            local[:, 2] += move[:, :2] @ offset - offset
            size = (box[1].stop - box[1].start, box[0].stop - box[0].start)
            warped = cv2.warpAffine(np.ascontiguousarray(base[box]), local, size,
                                    flags=cv2.INTER_CUBIC | cv2.WARP_INVERSE_MAP, borderMode=cv2.BORDER_REFLECT)
            near = cv2.GaussianBlur(grow(old | new, 3 * band)[box].astype(np.float32), (0, 0), band)
            weight = ((1 - same_shape[box]) * near)[..., None]
            finished[box] += weight * (warped - finished[box])
        return finished

    def _match_part_colours(self, finished: np.ndarray, base: np.ndarray, same_shape: np.ndarray
                            ) -> tuple[np.ndarray, list[LabTransform]]:
        """``same_shape``: ``detail_weight``. Where the shape changed, the base's pixels are
        another part (old hair where the new hair ends, a face where it begins): no shading is
        taken from them there, or they would show through the new shape as a ghost."""
        side = finished.shape[0]
        original, edited = self.masks(side)
        band = max(1, round(0.006 * side))
        step = strided(side)

        def sampled_lab(image: np.ndarray, where: np.ndarray) -> np.ndarray:
            """CIELAB of ``image`` at every ``step``-th pixel of ``where`` (all of it when too few)."""
            pixels = image[::step, ::step][where[::step, ::step]]
            return to_lab((pixels if len(pixels) >= MIN_PART_PIXELS else image[where])[None])[0]

        plans = []
        irises = {part for part in self.colours if part in IRIS_PARTS and part not in self.reshaped}
        base_lightness = to_lab(base)[..., 0] if irises else None
        for part, target in self.colours.items():
            inside = self.part_after(part, side)
            if inside.sum() < MIN_PART_PIXELS:
                continue
            own_inner = colour_sample(original, part, lightness=base_lightness if part in irises else None)
            inner = own_inner if part in irises else colour_sample(edited, part, inside)
            pixels = sampled_lab(finished, inner)
            mean, spread = pixels.mean(axis=0), pixels.std(axis=0)
            own = sampled_lab(base, own_inner) if own_inner.sum() >= MIN_PART_PIXELS else pixels
            # The spread is the base's own (photo detail included) scaled like the reference's.
            wanted = own.std(axis=0) * target.spread_ratio
            transform = LabTransform(part, mean, gain_of(spread, wanted), target.mean)
            recoloured = LabTransform(part, own.mean(axis=0), gain_of(own.std(axis=0), wanted), target.mean)
            plans.append((part, inside, wanted, transform, recoloured))
        if not plans:
            return finished, []
        # Colours are converted only in the box the parts' soft weights reach, not the whole face.
        union = np.zeros((side, side), bool)
        for _, inside, *_ in plans:
            union |= inside
        outer = _box(union, 3 * band)
        lab, base_lab = to_lab(finished[outer]), to_lab(base[outer])
        result = lab.copy()
        for part, inside, wanted, transform, recoloured in plans:
            inside = inside[outer]
            box = _box(inside, 3 * band)  # only where the part's soft weight reaches
            here = lab[box]
            expected = recoloured.apply(base_lab[box])
            if part in irises:  # the photo's own eye, only its iris recoloured (a few generated pixels are no eye)
                iris = iris_weight(base_lab[box][..., 0], inside[box])[..., None]
                matched = base_lab[box] + iris * (expected - base_lab[box])
            else:
                # The generator's shading is kept, but a blotch far from the photo's own shading
                # recoloured the same way (a dark blob on the crown) is softly limited to about
                # the part's spread: k tanh(d / k) leaves small differences as they are.
                limit = np.maximum(SHADING_LIMIT * wanted, 2.0).astype(np.float32)
                moved = transform.apply(here)
                limited = expected + limit * np.tanh((moved - expected) / limit)
                matched = moved + same_shape[outer][box][..., None] * (limited - moved)
            weight = cv2.GaussianBlur(inside[box].astype(np.float32), (0, 0), band)[..., None]
            result[box] += weight * (matched - here)
        finished = finished.copy()
        finished[outer] = from_lab(result)
        return finished, [recoloured for *_, recoloured in plans]


def finish_image(face: np.ndarray, base: np.ndarray, finish: Finish, anchor: np.ndarray | None = None
                 ) -> np.ndarray:
    """``base`` (uint8 (S, S, 3)) with the finished ``face`` blended in where ``finish``
    confines it (faded within its margin): uint8 (S, S, 3), the base's own bytes outside the region."""
    side = base.shape[0]
    finished, _ = finish.apply(face, base, anchor)
    weight = finish.blend(side)[..., None]
    mixed = base.astype(np.float32) + weight * (finished - base.astype(np.float32))
    result = np.clip(mixed + 0.5, 0, 255).astype(np.uint8)
    outside = weight[..., 0] <= 0
    result[outside] = base[outside]
    return result
