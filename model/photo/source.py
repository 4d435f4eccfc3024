"""A photo and where its face is: the source an edit is pasted back into.

A face is edited in CelebA-HQ framing (``face_align``); the alignment's 2x3 matrix (photo
pixels → aligned pixels) is kept with the photo as a ``SourcePhoto``.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from ..errors import DataError
from ..faces.align import NoFaceFound, load_photo
from ..io.cache import content_digest
from ..io.images import ImageInput, describe, photo_format, save_images

PREVIEW_SIDE = 1280  # the longest side of the photo shown in the studio (saving uses the full photo)
# The largest side an edit is finished at (a face of 4000 px in a photo is finished at this
# and its change upsampled; the photo's own detail is kept either way).
MAX_WORK_SIDE = 768


@dataclass(frozen=True, eq=False)
class SourcePhoto:
    """A photo and where its face is: ``matrix`` maps photo pixels to an aligned crop of
    side ``aligned_size`` (CelebA-HQ framing)."""

    pixels: np.ndarray  # uint8 (H, W, 3), EXIF orientation already applied
    matrix: np.ndarray  # (2, 3) float64
    aligned_size: int
    name: str = ""
    icc_profile: bytes | None = None  # the photo's colour profile, written into every saved copy

    def __post_init__(self) -> None:
        if self.pixels.ndim != 3 or self.pixels.shape[2] != 3 or self.pixels.dtype != np.uint8:
            raise DataError(f"{self.name or 'photo'}: photo pixels must be uint8 (H, W, 3)")
        self.pixels.setflags(write=False)  # shared between the document, previews and saves

    @property
    def size(self) -> tuple[int, int]:
        """(width, height)."""
        return self.pixels.shape[1], self.pixels.shape[0]

    @property
    def face_side(self) -> float:
        """The aligned crop's side in photo pixels (the face's own resolution in the photo)."""
        scale = float(np.sqrt(abs(np.linalg.det(self.matrix[:, :2]))))  # aligned pixels per photo pixel
        return self.aligned_size / max(scale, 1e-6)

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
        return SourcePhoto(pixels, matrix, self.aligned_size, self.name, self.icc_profile)

    def with_pixels(self, pixels: np.ndarray) -> SourcePhoto:
        """The same photo and alignment with other pixels of its size (an edit of it)."""
        if pixels.shape != self.pixels.shape:
            raise DataError(f"{self.name or 'photo'}: pixels {pixels.shape} are not the photo's {self.pixels.shape}")
        return SourcePhoto(pixels, self.matrix, self.aligned_size, self.name, self.icc_profile)

    @cached_property  # pixels are read-only: found once, not at every render of the photo
    def pixels_digest(self) -> str:
        """``content_digest`` of the pixels: the key of what is worked out from them."""
        return content_digest(self.pixels)

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
    return parsed, SourcePhoto(pixels, matrix, reader.size, name, icc_profile(photo))


def read_photo_faces(reader, photo: ImageInput) -> tuple[np.ndarray, list, str, bytes | None]:
    """A photo → (its pixels, every face in it aligned (``AlignedFace``, numbered left to
    right, not parsed yet: ``reader.parse_aligned`` parses the ones edited), its name, its ICC
    profile). ``SourcePhoto(pixels, face.matrix, reader.size, name, profile)`` is one face's source."""
    pixels = load_photo(photo)
    name = Path(photo).name if isinstance(photo, (str, Path)) else describe(photo)
    try:
        faces = reader.aligner.align_all(pixels, reader.size)
    except NoFaceFound as error:  # said again with the photo's name, not the array's shape
        raise NoFaceFound(f"{name}: {str(error).split(': ', 1)[-1]}") from None
    return pixels, faces, name, icc_profile(photo)


def icc_profile(photo: ImageInput) -> bytes | None:
    """The ICC colour profile of a photo file or PIL image, None when it has none."""
    if isinstance(photo, Image.Image):
        return photo.info.get("icc_profile") or None
    if isinstance(photo, (str, Path)):
        try:
            with Image.open(photo) as image:
                return image.info.get("icc_profile") or None
        except (OSError, ValueError):  # the pixels were read already; a profile is optional
            return None
    return None


def working_side(photo: SourcePhoto, side: int) -> int:
    """The side of the aligned crop an edit is finished at: the face's own resolution in the
    photo (so its detail is kept as it is), at least ``side`` and at most ``MAX_WORK_SIDE``."""
    return int(min(max(side, round(photo.face_side)), max(side, MAX_WORK_SIDE)))



def save_image(image: np.ndarray, path: str | Path, icc_profile: bytes | None = None) -> Path:
    """Write a photo atomically in the format its name asks for (.jpg/.jpeg: JPEG, else PNG),
    with ``icc_profile`` (the source photo's, so its colours show as they did). The pixels
    are upright (EXIF orientation applied on reading), so no orientation tag is written."""
    save_images([(image, path, photo_format(path))], icc_profile=icc_profile)
    return Path(path)
