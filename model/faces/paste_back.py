"""Putting an edited face back into the photo it was cut out of.

A face is edited in CelebA-HQ framing (``face_align``); the alignment's 2x3 matrix (photo
pixels → aligned pixels) is kept with the photo as a ``SourcePhoto``. ``paste_back`` warps
the generated face back with the inverse of that matrix, at the photo's own resolution,
and blends it in:

- only inside a *region* given in aligned pixels (the face's mask: every class but the
  background, or only the parts that were edited), faded over a feather band inside the
  region's edge and towards the crop's border. Pixels outside the region keep their exact
  bytes, so the rest of the photo is untouched;
- colour matched: the generated face's per-channel mean and spread are moved to the
  photo's over *anchor* pixels, the parts that kept their shape and their own style (so
  a restyled part keeps its new colour while the whole face takes the photo's light);
- only the box of the photo the region covers is warped and blended, so a 12-megapixel
  photo costs about as much as a small one.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import cv2
import numpy as np

from ..errors import DataError
from ..io.images import ImageInput, describe, photo_format, save_images
from ..labels import NUM_CLASSES
from .align import NoFaceFound, load_photo

BACKGROUND = 0
PREVIEW_SIDE = 1280  # the longest side of the photo shown in the studio (saving uses the full photo)
# Below this share of the face's pixels, the anchor is too small to measure colours on.
MIN_ANCHOR_SHARE = 0.01


@dataclass(frozen=True, eq=False)
class SourcePhoto:
    """A photo and where its face is: ``matrix`` maps photo pixels to an aligned crop of
    side ``aligned_size`` (CelebA-HQ framing)."""

    pixels: np.ndarray  # uint8 (H, W, 3)
    matrix: np.ndarray  # (2, 3) float64
    aligned_size: int
    name: str = ""

    def __post_init__(self) -> None:
        if self.pixels.ndim != 3 or self.pixels.shape[2] != 3 or self.pixels.dtype != np.uint8:
            raise DataError(f"{self.name or 'photo'}: photo pixels must be uint8 (H, W, 3)")
        self.pixels.setflags(write=False)  # shared between the document, previews and saves

    @property
    def size(self) -> tuple[int, int]:
        """(width, height)."""
        return self.pixels.shape[1], self.pixels.shape[0]

    def aligned(self, side: int | None = None) -> np.ndarray:
        """The aligned crop of the photo at ``side`` (default: ``aligned_size``)."""
        side = side or self.aligned_size
        matrix = self.matrix * (side / self.aligned_size)
        return cv2.warpAffine(np.asarray(self.pixels), matrix, (side, side), flags=cv2.INTER_AREA
                              if side < self.aligned_size else cv2.INTER_CUBIC, borderMode=cv2.BORDER_REFLECT)

    def scaled(self, factor: float) -> SourcePhoto:
        """The photo resized by ``factor``, its matrix adjusted to match."""
        width, height = self.size
        new_size = (max(1, round(width * factor)), max(1, round(height * factor)))
        pixels = cv2.resize(np.asarray(self.pixels), new_size, interpolation=cv2.INTER_AREA)
        matrix = self.matrix.copy()
        matrix[:, 0] *= width / new_size[0]  # the exact factors after rounding
        matrix[:, 1] *= height / new_size[1]
        return SourcePhoto(pixels, matrix, self.aligned_size, self.name)

    @cached_property  # pixels are read-only, so the preview never goes stale
    def preview(self) -> SourcePhoto:
        """The photo at most ``PREVIEW_SIDE`` pixels on its longest side (itself when smaller)."""
        longest = max(self.size)
        return self if longest <= PREVIEW_SIDE else self.scaled(PREVIEW_SIDE / longest)


def whole_picture_matrix(width: int, height: int, aligned_size: int) -> np.ndarray:
    """The alignment of a square picture taken as the aligned face itself (a plain scale)."""
    if width != height:
        raise DataError(f"only a square picture can be used whole as an aligned face, not {width}x{height}")
    scale = aligned_size / width
    return np.array([[scale, 0.0, 0.0], [0.0, scale, 0.0]])


def read_photo(reader, photo: ImageInput, whole_picture: bool = False):
    """A photo → (``ParsedFace``, ``SourcePhoto``): its main face aligned and parsed by
    ``reader`` (a ``FaceReader``), and the photo with the alignment to paste it back.

    whole_picture: take a square picture as the aligned face itself, without looking for
    a face (for crops in which no face is found).
    """
    pixels = load_photo(photo)
    name = Path(photo).name if isinstance(photo, (str, Path)) else describe(photo)
    if whole_picture:
        matrix = whole_picture_matrix(pixels.shape[1], pixels.shape[0], reader.size)
        parsed = reader.read(pixels, align=False)
    else:
        try:
            parsed = reader.read(pixels)
        except NoFaceFound as error:  # said again with the photo's name, not the array's shape
            raise NoFaceFound(f"{name}: {str(error).split(': ', 1)[-1]}") from None
        matrix = parsed.alignment.matrix
    return parsed, SourcePhoto(pixels, matrix, reader.size, name)


def _at_size(mask: np.ndarray, side: int) -> np.ndarray:
    if mask.shape == (side, side):
        return mask
    return cv2.resize(mask.astype(np.uint8), (side, side), interpolation=cv2.INTER_NEAREST)


def face_region(original_mask: np.ndarray, edited_mask: np.ndarray | None = None) -> np.ndarray:
    """Where the face is, in aligned pixels: every class but the background, in the photo's
    own mask or in the edited one (a part painted larger is pasted back whole)."""
    region = original_mask != BACKGROUND
    if edited_mask is not None:
        region |= _at_size(edited_mask, original_mask.shape[0]) != BACKGROUND
    return region


def edited_region(original_mask: np.ndarray, edited_mask: np.ndarray, restyled: Iterable[int] = (),
                  margin: float = 0.02) -> np.ndarray:
    """Only what changed: pixels whose class was repainted and the parts given a new style,
    grown by ``margin`` of the side so the feather falls outside the change."""
    side = original_mask.shape[0]
    edited = _at_size(edited_mask, side)
    parts = np.zeros(NUM_CLASSES, bool)
    parts[list(restyled)] = True
    region = (original_mask != edited) | parts[original_mask] | parts[edited]
    grow = max(1, round(margin * side))
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * grow + 1, 2 * grow + 1))
    return cv2.dilate(region.astype(np.uint8), kernel) > 0


def anchor_pixels(original_mask: np.ndarray, edited_mask: np.ndarray, restyled: Iterable[int] = ()) -> np.ndarray:
    """Pixels whose colour the generated face should share with the photo: same class in
    both masks, not the background, and of a part that kept its own style."""
    edited = _at_size(edited_mask, original_mask.shape[0])
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
    ours, theirs = face[anchor], target[anchor].astype(np.float32)
    mean_ours, mean_theirs = ours.mean(axis=0), theirs.mean(axis=0)
    # The spread ratio is bounded: a flat anchor (a uniform cheek) must not blow up the contrast.
    gain = np.clip(theirs.std(axis=0) / np.maximum(ours.std(axis=0), 1e-3), 0.5, 2.0)
    return (face - mean_ours) * gain + mean_theirs


def blend_weight(region: np.ndarray, feather: float = 0.03) -> np.ndarray:
    """Blend weight in aligned pixels: 1 deep inside ``region``, fading to 0 over a band of
    ``feather`` x side inside its edge and the crop's border; exactly 0 outside the region."""
    side = region.shape[0]
    band = max(1, round(feather * side))
    inside = region.astype(np.uint8)
    # Erode by the blur's reach (a square, like the blur's support), so the fade lies inside.
    kernel = np.ones((2 * band + 1, 2 * band + 1), np.uint8)
    core = cv2.erode(inside, kernel, borderType=cv2.BORDER_CONSTANT, borderValue=0).astype(np.float32)
    weight = cv2.GaussianBlur(core, (2 * band + 1, 2 * band + 1), band / 2.0, borderType=cv2.BORDER_CONSTANT)
    return np.clip(weight, 0.0, 1.0) * inside


def paste_back(photo: SourcePhoto, face: np.ndarray, region: np.ndarray, anchor: np.ndarray | None = None,
               feather: float = 0.03) -> np.ndarray:
    """The whole photo with ``face`` (uint8 (g, g, 3), the aligned framing) blended in.

    region: bool (s, s), where to paste, in aligned pixels of any side s (usually the
        mask's); anchor: bool (s, s), pixels to match colours on (None: no colour match).
    Returns uint8 (H, W, 3) at the photo's size; outside the warped region every pixel is
    the photo's own, byte for byte.
    """
    side = region.shape[0]
    if region.shape != (side, side) or (anchor is not None and anchor.shape != region.shape):
        raise DataError(f"paste-back region {region.shape} and anchor must be square and of one size")
    if face.ndim != 3 or face.shape[0] != face.shape[1] or face.shape[2] != 3:
        raise DataError(f"the face to paste back must be a square RGB image, not {face.shape}")
    pixels = np.asarray(photo.pixels)
    result = pixels.copy()
    weight = blend_weight(region, feather)
    rows, cols = np.nonzero(weight > 0)
    if len(rows) == 0:
        return result
    resized = cv2.resize(face, (side, side), interpolation=cv2.INTER_LANCZOS4 if face.shape[0] < side
                         else cv2.INTER_AREA)
    if anchor is not None:
        resized = np.clip(match_colours(resized, photo.aligned(side), anchor), 0, 255)
    # The photo box the region lands in: its corners mapped back, plus a pixel for interpolation.
    to_aligned = photo.matrix * (side / photo.aligned_size)
    to_photo = cv2.invertAffineTransform(to_aligned)
    corners = np.array([[cols.min(), rows.min()], [cols.max() + 1, rows.min()],
                        [cols.min(), rows.max() + 1], [cols.max() + 1, rows.max() + 1]], np.float64)
    mapped = corners @ to_photo[:, :2].T + to_photo[:, 2]
    width, height = photo.size
    left, top = (max(0, int(np.floor(v)) - 2) for v in mapped.min(axis=0))
    right, bottom = min(width, int(np.ceil(mapped[:, 0].max())) + 2), min(height, int(np.ceil(mapped[:, 1].max())) + 2)
    if left >= right or top >= bottom:
        return result
    # Photo box pixels → aligned pixels, for warpAffine's inverse mapping.
    box_to_aligned = to_aligned.copy()
    box_to_aligned[:, 2] += to_aligned[:, :2] @ np.array([left, top], np.float64)
    flags = cv2.WARP_INVERSE_MAP
    box_size = (right - left, bottom - top)
    warped = cv2.warpAffine(resized.astype(np.float32), box_to_aligned, box_size, flags=flags | cv2.INTER_CUBIC,
                            borderMode=cv2.BORDER_REPLICATE)
    alpha = cv2.warpAffine(weight, box_to_aligned, box_size, flags=flags | cv2.INTER_LINEAR,
                           borderMode=cv2.BORDER_CONSTANT, borderValue=0.0)
    inside = alpha > 0
    original = pixels[top:bottom, left:right]
    mixed = original.astype(np.float32) * (1 - alpha[..., None]) + np.clip(warped, 0, 255) * alpha[..., None]
    box = result[top:bottom, left:right]
    box[inside] = np.clip(mixed[inside] + 0.5, 0, 255).astype(np.uint8)
    return result


def save_image(image: np.ndarray, path: str | Path) -> Path:
    """Write a photo atomically in the format its name asks for (.jpg/.jpeg: JPEG, else PNG)."""
    save_images([(image, path, photo_format(path))])
    return path
