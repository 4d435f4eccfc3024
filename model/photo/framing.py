"""The photo's classes at its own framing: the parse of the aligned crop, carried over the
whole photo.

The parser sees the face in CelebA-HQ framing (the aligned crop). Photos are framed
otherwise: long hair runs past the crop's bottom, a fringe is cut by the photo's top, the
crop holds pixels the photo does not have. An edit of a part changes the whole part, so the
pipeline needs every photo pixel's class: inside the crop the parser's, and past it (and in
a thin band along the crop's edge, where the parser saw the crop's border) the class that
floods there from the parsed pixels along the photo's own edges (a marker-based watershed:
hair runs on as hair until it meets an edge to the background).

Everything is at a working scale of the photo (``PhotoParse.scale``), where the face has
about the side it is finished at: the classes are smooth at that scale, and a 12-megapixel
photo is parsed as fast as a small one.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import cv2
import numpy as np

from ..io.cache import LRUCache, content_digest
from ..io.masks import nearest_class
from ..labels import BACKGROUND, CLASS_NAMES
from .colour import to_lab
from .source import SourcePhoto

# How far inside the aligned crop's edge (share of its side) the parser's classes are not
# taken as they are: there the parser saw the crop's border (reflected or empty pixels).
CROP_EDGE_BAND = 0.03
UNKNOWN = 255
# A speck of another class that the parser left inside the hair (a few pixels of skin or ear
# at the temple, where strands cross the face) is hair: restyled with it, not left as a blot of
# the old colour. A speck: under this share of the aligned crop, its rim at least
# ``SPECK_HAIR_RIM`` hair.
SPECK_SHARE = 0.001
SPECK_HAIR_RIM = 0.9
HAIR = CLASS_NAMES.index("hair")


@dataclass(frozen=True, eq=False)
class PhotoParse:
    """Every pixel's class of a photo at a working scale: ``classes`` uint8 (h, w) for the
    photo resized by ``scale`` (working pixels per photo pixel, at most 1), the resized
    photo ``pixels`` and ``to_aligned``: working pixels → aligned pixels of side ``side``."""

    classes: np.ndarray
    pixels: np.ndarray
    scale: float
    to_aligned: np.ndarray
    side: int

    @cached_property  # a parse is kept and used again at every render: its key is found once
    def digest(self) -> str:
        """``content_digest`` of the working pixels and classes."""
        return content_digest(self.pixels, self.classes)

    @property
    def face_side(self) -> float:
        """The aligned crop's side in working pixels."""
        return self.side / float(np.sqrt(abs(np.linalg.det(self.to_aligned[:, :2]))))


def working_scale(photo: SourcePhoto, side: int) -> float:
    """The factor that gives the photo's face (its aligned crop) about ``side`` pixels, at most 1."""
    return min(1.0, side / photo.face_side)


def flood_classes(pixels: np.ndarray, classes: np.ndarray, known: np.ndarray) -> np.ndarray:
    """``classes`` (uint8) with every pixel that is not ``known`` given the class that floods
    there first from the known pixels along the picture's edges (``cv2.watershed``)."""
    if known.all() or not known.any():
        return classes
    markers = np.where(known, classes.astype(np.int32) + 1, 0).astype(np.int32)
    cv2.watershed(np.ascontiguousarray(pixels[..., ::-1]), markers)
    # Watershed lines (-1) and anything left unreached take the class of the nearest labelled pixel.
    unlabelled = markers <= 0
    if unlabelled.any():
        markers = nearest_class(markers, unlabelled, fill=BACKGROUND + 1)
    return (markers - 1).clip(0, 255).astype(np.uint8)


# Parts the small parser stretches over the background next to them (a light wall beside long
# hair, the corner of a tight crop): their pixels that look like the background far more than
# like the part (``BACKGROUND_MARGIN`` nats, colour models of both) and touch the background or
# the photo's frame become background. Black hair on a black wall looks like both: it stays.
CHECKED_PARTS = (CLASS_NAMES.index("hair"), CLASS_NAMES.index("hat"))
BACKGROUND_MARGIN = 2.0
COLOUR_CLUSTERS = 4
MIN_MODEL_PIXELS = 200


def colour_model(lab: np.ndarray, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A few Gaussian clusters (k-means, diagonal spreads of at least 2 CIELAB units) of the
    CIELAB pixels ``lab`` (N, 3): their means, spreads and log-weights."""
    rng = np.random.default_rng(seed)
    sample = lab[rng.choice(len(lab), min(len(lab), 4000), replace=False)].astype(np.float32)
    count = min(COLOUR_CLUSTERS, len(sample))
    criteria = (cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_MAX_ITER, 20, 0.5)
    cv2.setRNGSeed(seed)
    _, labels, centres = cv2.kmeans(sample, count, None, criteria, 2, cv2.KMEANS_PP_CENTERS)
    labels = labels.ravel()
    spreads = np.stack([np.maximum(sample[labels == k].std(axis=0), 2.0) if (labels == k).sum() > 1
                        else np.full(3, 2.0, np.float32) for k in range(count)])
    weights = np.bincount(labels, minlength=count) / len(labels)
    return centres, spreads, np.log(np.maximum(weights, 1e-6))


def log_likelihood(lab: np.ndarray, model: tuple[np.ndarray, np.ndarray, np.ndarray]) -> np.ndarray:
    """Log-likelihood (up to a constant) of CIELAB pixels (N, 3) under ``colour_model``."""
    centres, spreads, log_weights = model
    z = (lab[:, None, :] - centres[None]) / spreads[None]
    per_cluster = log_weights[None] - 0.5 * (z ** 2).sum(-1) - np.log(spreads).sum(-1)[None]
    return per_cluster.max(axis=1)


def background_checked(pixels: np.ndarray, classes: np.ndarray) -> np.ndarray:
    """``classes`` with the pixels of ``CHECKED_PARTS`` that are clearly background made so."""
    background = classes == BACKGROUND
    inner = cv2.erode(background.astype(np.uint8), np.ones((5, 5), np.uint8)) > 0
    if inner.sum() < MIN_MODEL_PIXELS:
        return classes
    lab = to_lab(pixels)
    others = colour_model(lab[inner])
    result = classes.copy()
    for part in CHECKED_PARTS:
        region = classes == part
        core = cv2.erode(region.astype(np.uint8), np.ones((9, 9), np.uint8)) > 0
        if core.sum() < MIN_MODEL_PIXELS:
            continue
        own = colour_model(lab[core])
        rows, cols = np.nonzero(region)
        values = lab[rows, cols]
        unlike = log_likelihood(values, others) - log_likelihood(values, own) > BACKGROUND_MARGIN
        candidates = np.zeros(region.shape, np.uint8)
        candidates[rows[unlike], cols[unlike]] = 1
        candidates = cv2.morphologyEx(candidates, cv2.MORPH_OPEN, np.ones((3, 3), np.uint8))
        # Only what touches the background or the photo's frame: a highlight inside the hair stays hair.
        count, labels = cv2.connectedComponents(candidates, connectivity=8)
        if count <= 1:
            continue
        touching = cv2.dilate(background.astype(np.uint8), np.ones((3, 3), np.uint8)) > 0
        frame = np.zeros(region.shape, bool)
        frame[0, :] = frame[-1, :] = frame[:, 0] = frame[:, -1] = True
        keep = np.unique(labels[(touching | frame) & (labels > 0)])
        result[np.isin(labels, keep[keep > 0])] = BACKGROUND
    return result


# Hair the flood carries past the crop is kept only where it looks more like the hair next to
# the crop's edge than like the background next to it (colour models of both, from the parsed
# pixels within ``NEAR_CROP_EDGE`` of the face's side of the unknown region) and is joined to
# the parsed hair: a flat wall above the head has no edge to stop the flood, but its colour does.
FLOODED_PARTS = (CLASS_NAMES.index("hair"),)
NEAR_CROP_EDGE = 0.12
FLOOD_MARGIN = 3.0
FLOOD_SMOOTHING = 0.02  # share of the face's side: the neighbourhood a flooded pixel's colour is judged over
DETAIL_SMOOTHING = 0.02  # share of the face's side: the neighbourhood fine detail is measured over
FLAT_SHARE = 0.15  # fine detail under this share of the parsed part's is flat: no strands
FLAT_DOUBT = 3.0  # nats: a flat pixel whose colour favours the part by less is no part


def smoothed_within(values: np.ndarray, region: np.ndarray, sigma: float) -> np.ndarray:
    """``values`` averaged (Gaussian, ``sigma`` pixels) over ``region`` only."""
    weight = cv2.GaussianBlur(region.astype(np.float32), (0, 0), max(sigma, 0.5))
    total = cv2.GaussianBlur(np.where(region, values, 0).astype(np.float32), (0, 0), max(sigma, 0.5))
    return total / np.maximum(weight, 1e-6)


def fine_detail(lightness: np.ndarray, sigma: float) -> np.ndarray:
    """Local RMS of the lightness's finest detail (what a 1-pixel blur removes), averaged over
    ``sigma`` pixels: strands of hair have it, a plain wall or a smear has none."""
    fine = lightness.astype(np.float32) - cv2.GaussianBlur(lightness.astype(np.float32), (0, 0), 1.0)
    return np.sqrt(cv2.GaussianBlur(fine * fine, (0, 0), max(sigma, 0.5)))


def flood_checked(pixels: np.ndarray, classes: np.ndarray, known: np.ndarray, face_side: float) -> np.ndarray:
    """``classes`` with the flooded (not ``known``) pixels of ``FLOODED_PARTS`` that look like
    the background near the crop's edge, or are cut off from the parsed part, made background."""
    unknown = ~known
    if not unknown.any():
        return classes
    # Distance of each known pixel to the unknown region: the models are read next to it.
    distance = cv2.distanceTransform(known.astype(np.uint8), cv2.DIST_L2, 3)
    near = known & (distance <= NEAR_CROP_EDGE * face_side)
    background = cv2.erode((classes == BACKGROUND).astype(np.uint8), np.ones((5, 5), np.uint8)) > 0
    lab = to_lab(pixels)
    detail = fine_detail(lab[..., 0], DETAIL_SMOOTHING * face_side)
    result = classes.copy()
    for part in FLOODED_PARTS:
        flooded = unknown & (classes == part)
        if not flooded.any():
            continue
        core = cv2.erode((classes == part).astype(np.uint8), np.ones((5, 5), np.uint8)) > 0
        own_pixels, other_pixels = core & near, background & near
        if own_pixels.sum() < MIN_MODEL_PIXELS:
            own_pixels = core & known
        if other_pixels.sum() < MIN_MODEL_PIXELS:
            other_pixels = background & known
        if own_pixels.sum() < MIN_MODEL_PIXELS or other_pixels.sum() < MIN_MODEL_PIXELS:
            continue
        rows, cols = np.nonzero(flooded)
        values = lab[rows, cols]
        ratio = np.zeros(classes.shape, np.float32)
        ratio[rows, cols] = (log_likelihood(values, colour_model(lab[other_pixels]))
                             - log_likelihood(values, colour_model(lab[own_pixels])))
        # Decided over a neighbourhood, not per pixel: a dark strand gap is no wall.
        ratio = smoothed_within(ratio, flooded, FLOOD_SMOOTHING * face_side)
        # A flat stretch (a plain wall, the smear of a stretched frame) is no hair unless its
        # colour clearly is (smooth hair without strands stays hair).
        flat = (detail < FLAT_SHARE * np.median(detail[own_pixels])) & (ratio > -FLAT_DOUBT)
        result[flooded & ((ratio > FLOOD_MARGIN) | flat)] = BACKGROUND
        # What is left of the flood must touch the parsed part: an island on the wall is wall.
        region = (result == part).astype(np.uint8)
        _, labels = cv2.connectedComponents(region, connectivity=8)
        joined = np.unique(labels[(region > 0) & known])
        result[(region > 0) & ~np.isin(labels, joined[joined > 0])] = BACKGROUND
    return result


def specks_in_hair_made_hair(mask: np.ndarray) -> np.ndarray:
    """``mask`` (uint8 classes) with each speck of a class inside the hair (``SPECK_SHARE``,
    ``SPECK_HAIR_RIM``) made hair."""
    result = mask.copy()
    hair = mask == HAIR
    limit = SPECK_SHARE * mask.size
    for part in np.unique(mask):
        if part in (HAIR, BACKGROUND):
            continue
        count, labels, stats, _ = cv2.connectedComponentsWithStats((mask == part).astype(np.uint8), connectivity=8)
        for index in np.flatnonzero(stats[1:, cv2.CC_STAT_AREA] < limit) + 1:
            left, top, width, height = stats[index, :4]
            box = (slice(max(top - 1, 0), top + height + 1), slice(max(left - 1, 0), left + width + 1))
            speck = labels[box] == index
            rim = (cv2.dilate(speck.astype(np.uint8), np.ones((3, 3), np.uint8)) > 0) & ~speck
            if hair[box][rim].mean() >= SPECK_HAIR_RIM:
                result[box][speck] = HAIR
    return result


_parse_cache = LRUCache(8)  # the studio renders a photo's edit again and again: its framing is found once


def clear_cache() -> None:
    """Forget the photos' classes found so far (they are found again when asked for)."""
    _parse_cache.clear()


def photo_parse(photo: SourcePhoto, mask: np.ndarray, side: int) -> PhotoParse:
    """The classes of every pixel of ``photo`` (at the working scale that gives its face about
    ``side`` pixels), from its face's parsed ``mask`` (aligned, any side S)."""
    key = content_digest(photo.pixels_digest, photo.matrix, mask, side, photo.aligned_size)
    cached = _parse_cache.get(key)
    if cached is not None:
        return cached
    scale = working_scale(photo, side)
    height, width = photo.pixels.shape[:2]
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    pixels = np.asarray(photo.pixels)
    small = cv2.resize(pixels, size, interpolation=cv2.INTER_AREA) if scale < 1 else pixels.copy()
    # Working pixels → aligned pixels of the mask's side S.
    to_aligned = photo.matrix.copy()
    to_aligned[:, 0] *= width / size[0]
    to_aligned[:, 1] *= height / size[1]
    mask_side = mask.shape[0]
    to_mask = to_aligned * (mask_side / photo.aligned_size)
    cleaned = specks_in_hair_made_hair(mask.astype(np.uint8))
    classes = cv2.warpAffine(cleaned, to_mask, size, flags=cv2.INTER_NEAREST | cv2.WARP_INVERSE_MAP,
                             borderMode=cv2.BORDER_CONSTANT, borderValue=UNKNOWN)
    band = max(1, round(CROP_EDGE_BAND * mask_side))
    trusted = np.zeros((mask_side, mask_side), np.uint8)
    trusted[band:-band, band:-band] = 1
    known = cv2.warpAffine(trusted, to_mask, size, flags=cv2.INTER_NEAREST | cv2.WARP_INVERSE_MAP,
                           borderMode=cv2.BORDER_CONSTANT, borderValue=0) > 0
    known &= classes != UNKNOWN
    face_side = mask_side / float(np.sqrt(abs(np.linalg.det(to_mask[:, :2]))))
    classes = flood_checked(small, flood_classes(small, classes, known), known, face_side)
    classes = background_checked(small, classes)
    for plane in (classes, small):  # shared by every render of the photo, keyed by their digest
        plane.setflags(write=False)
    parse = PhotoParse(classes, small, scale, to_mask, mask_side)
    _parse_cache.put(key, parse)
    return parse
