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

import cv2
import numpy as np

from ..io.cache import LRUCache, content_digest
from .source import SourcePhoto

# How far inside the aligned crop's edge (share of its side) the parser's classes are not
# taken as they are: there the parser saw the crop's border (reflected or empty pixels).
CROP_EDGE_BAND = 0.03
UNKNOWN = 255


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

    @property
    def face_side(self) -> float:
        """The aligned crop's side in working pixels."""
        return self.side / float(np.sqrt(abs(np.linalg.det(self.to_aligned[:, :2]))))

    def aligned(self, image: np.ndarray, side: int | None = None, interpolation: int = cv2.INTER_LINEAR
                ) -> np.ndarray:
        """A working-scale image (h, w[, c]) seen in the aligned crop at ``side``."""
        side = side or self.side
        matrix = self.to_aligned * (side / self.side)
        return cv2.warpAffine(image, matrix, (side, side), flags=interpolation, borderMode=cv2.BORDER_REPLICATE)

    def from_aligned(self, image: np.ndarray, interpolation: int = cv2.INTER_LINEAR, border: float = 0.0
                     ) -> np.ndarray:
        """An aligned image (any side) at the working scale of the photo."""
        matrix = self.to_aligned * (image.shape[0] / self.side)
        height, width = self.classes.shape
        return cv2.warpAffine(image, matrix, (width, height), flags=interpolation | cv2.WARP_INVERSE_MAP,
                              borderMode=cv2.BORDER_CONSTANT, borderValue=border)


def working_scale(photo: SourcePhoto, side: int) -> float:
    """The factor that gives the photo's face (its aligned crop) about ``side`` pixels, at most 1."""
    per_photo_pixel = float(np.sqrt(abs(np.linalg.det(photo.matrix[:, :2]))))  # aligned pixels per photo pixel
    native = photo.aligned_size / max(per_photo_pixel, 1e-6)  # the crop's side in photo pixels
    return min(1.0, side / native)


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
        _, nearest = cv2.distanceTransformWithLabels(unlabelled.astype(np.uint8), cv2.DIST_L2, 3,
                                                     labelType=cv2.DIST_LABEL_PIXEL)
        rows, cols = np.nonzero(~unlabelled)
        lookup = np.zeros(nearest.max() + 1, np.int32)
        lookup[nearest[rows, cols]] = markers[rows, cols]
        markers[unlabelled] = lookup[nearest[unlabelled]]
    return (markers - 1).clip(0, 255).astype(np.uint8)


_parse_cache = LRUCache(8)  # the studio renders a photo's edit again and again: its framing is found once


def photo_parse(photo: SourcePhoto, mask: np.ndarray, side: int) -> PhotoParse:
    """The classes of every pixel of ``photo`` (at the working scale that gives its face about
    ``side`` pixels), from its face's parsed ``mask`` (aligned, any side S)."""
    key = content_digest(photo.pixels, photo.matrix, mask, side, photo.aligned_size)
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
    classes = cv2.warpAffine(mask.astype(np.uint8), to_mask, size, flags=cv2.INTER_NEAREST | cv2.WARP_INVERSE_MAP,
                             borderMode=cv2.BORDER_CONSTANT, borderValue=UNKNOWN)
    band = max(1, round(CROP_EDGE_BAND * mask_side))
    trusted = np.zeros((mask_side, mask_side), np.uint8)
    trusted[band:-band, band:-band] = 1
    known = cv2.warpAffine(trusted, to_mask, size, flags=cv2.INTER_NEAREST | cv2.WARP_INVERSE_MAP,
                           borderMode=cv2.BORDER_CONSTANT, borderValue=0) > 0
    classes = flood_classes(small, classes, known & (classes != UNKNOWN))
    parse = PhotoParse(classes, small, scale, to_mask, mask_side)
    _parse_cache.put(key, parse)
    return parse
