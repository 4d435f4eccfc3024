"""Decoding face images and semantic masks from files, with every problem a ``DataError`` naming the file.

The studio, the CLI, the face aligner and the training datasets all read pictures through these
functions, so a face decodes the same way wherever it is opened (EXIF rotation, 16-bit greys,
palette and colour-coded masks).
"""

from __future__ import annotations

import struct
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import numpy as np
from PIL import Image, ImageOps

from ..errors import DataError
from ..labels import COLORS, NUM_CLASSES

SIXTEEN_BIT_MODES = ("I;16", "I;16B", "I;16L", "I;16N")
_T = TypeVar("_T")


def check_square(width: int, height: int, source: str, what: str) -> None:
    """Refuse a face or mask that is not square: ca2sis never stretches a face crop."""
    if width != height:
        raise DataError(
            f"{source}: the {what} is {width}x{height}; ca2sis works on square, aligned face "
            "crops (CelebA-HQ framing)"
        )



def decode_file(
    path: Path, convert: Callable[[Image.Image], _T], before_load: Callable[[Image.Image], None] | None = None
) -> _T:
    """Open ``path``, decode it fully and return ``convert(image)``; any failure → DataError.

    The conversion runs while the file is open so that the returned value never refers to a
    closed PIL image, and so that a conversion PIL cannot do is reported like a bad file. Running
    out of memory is a DataError too, saying about how much the picture needs.
    """
    header: tuple[int, int, str] | None = None  # width, height, mode: known once the file is open
    try:
        with warnings.catch_warnings():
            # PIL only warns between 1x and 2x its pixel limit; that is still a bomb to us.
            # The filter is scoped to this block: nothing global is changed.
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as image:
                header = (image.width, image.height, image.mode)
                if before_load is not None:  # e.g. a header check, or a reduced JPEG decode
                    before_load(image)
                image.load()
                return convert(image)
    except DataError:
        raise
    except MemoryError as exc:  # numpy's _ArrayMemoryError is one too
        raise DataError(out_of_memory_message(path, header)) from exc
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise DataError(f"{path}: image is too large to decode safely ({exc})") from exc
    except FileNotFoundError as exc:
        raise DataError(f"{path}: file not found") from exc
    except IsADirectoryError as exc:
        raise DataError(f"{path}: is a folder, not an image file") from exc
    except (OSError, ValueError, SyntaxError, EOFError, struct.error) as exc:
        # UnidentifiedImageError and "image file is truncated" are OSErrors.
        raise DataError(f"{path}: cannot decode image ({exc})") from exc


# Bytes per pixel of PIL's decoded image by mode (RGB is stored in 4); anything else: 4.
_DECODED_BYTES = {"1": 1, "L": 1, "P": 1, "LA": 4, "PA": 4, "I;16": 2, "I;16B": 2, "I;16L": 2, "I;16N": 2}
# On top of the decoded image: its 8-bit RGB conversion (4 bytes) and the uint8 array (3 bytes).
_CONVERSION_BYTES = 7


def out_of_memory_message(path: Path, header: tuple[int, int, str] | None) -> str:
    """What a user reads when decoding ``path`` ran out of memory: the picture's size and
    roughly how much memory decoding it takes (``header``: width, height, PIL mode)."""
    if header is None:
        return f"{path}: not enough memory to open this picture; close other programs or use a smaller copy"
    width, height, mode = header
    needed = width * height * (_DECODED_BYTES.get(mode, 4) + _CONVERSION_BYTES)
    amount = f"{needed / 2**30:.1f} GB" if needed >= 2**30 else f"{max(1, round(needed / 2**20))} MB"
    return (f"{path}: not enough memory to decode this {width}x{height} picture (it needs about {amount}); "
            "close other programs or use a smaller copy of it")


def to_rgb(image: Image.Image) -> Image.Image:
    """Any PIL mode (grey, RGBA, CMYK, palette, 16/32-bit) → 8-bit RGB."""
    if image.mode in SIXTEEN_BIT_MODES + ("I", "F"):
        values = np.asarray(image, dtype=np.float64)
        # PIL's own convert() clips 16-bit values at 255; scale them instead. Mode "I" is
        # also what some 16-bit files decode to, so it is scaled only when it goes past 255.
        sixteen_bit = image.mode in SIXTEEN_BIT_MODES or values.max(initial=0) > 255
        if sixteen_bit:
            values = values * (255.0 / 65535.0)
        image = Image.fromarray(np.clip(values, 0, 255).round().astype(np.uint8))
    if image.mode in ("RGBA", "LA", "PA", "RGBa", "La") or (
        image.mode == "P" and "transparency" in image.info
    ):
        # Transparent pixels become white, not whatever colour PIL left under them.
        image = image.convert("RGBA")
        background = Image.new("RGBA", image.size, (255, 255, 255, 255))
        image = Image.alpha_composite(background, image)
    return image.convert("RGB")


def resize_image(image: Image.Image, size: int) -> Image.Image:
    if image.size == (size, size):
        return image
    # LANCZOS keeps detail when shrinking a lot (1024 → 256); BICUBIC otherwise.
    shrinking_a_lot = max(image.size) >= 2 * size
    resample = Image.Resampling.LANCZOS if shrinking_a_lot else Image.Resampling.BICUBIC
    return image.resize((size, size), resample)


def check_size(size: int | None) -> None:
    if size is not None and (not isinstance(size, int) or size < 1):
        raise DataError(f"size must be a positive integer or None, got {size!r}")


def load_image(path: str | Path, size: int | None = None) -> np.ndarray:
    """Read a face photo as uint8 RGB (H, W, 3), resized to ``size`` x ``size`` when given.

    Any PIL mode is converted to RGB; a non-square image is stretched to a square. A file
    that will not decode raises DataError naming it.
    """
    check_size(size)
    path = Path(path)

    def convert(image: Image.Image) -> np.ndarray:
        # Phone photos store their rotation in EXIF; show the face the way a viewer does.
        rgb = to_rgb(ImageOps.exif_transpose(image))
        if size is not None:
            rgb = resize_image(rgb, size)
        return np.array(rgb, dtype=np.uint8)  # a writable copy: torch.from_numpy wants that

    return decode_file(path, convert)


# --------------------------------------------------------------------------- masks


def colors_to_indices(rgb: np.ndarray, source: str = "mask") -> np.ndarray:
    """An RGB mask (H, W, 3) in the CelebAMask-HQ colours → uint8 class indices (H, W).

    A colour outside the palette raises DataError naming ``source`` and one such colour.
    """
    rgb = np.asarray(rgb)
    if rgb.ndim != 3 or rgb.shape[-1] != 3:
        raise DataError(f"{source}: an RGB mask must be (H, W, 3), got shape {rgb.shape}")
    rgb = rgb.astype(np.int64)
    codes = rgb[..., 0] << 16 | rgb[..., 1] << 8 | rgb[..., 2]
    table = {r << 16 | g << 8 | b: index for index, (r, g, b) in enumerate(COLORS)}
    unique, inverse = np.unique(codes, return_inverse=True)
    unknown = [int(code) for code in unique if int(code) not in table]
    if unknown:
        code = unknown[0]
        grey_hint = ""
        if all(c >> 16 == c >> 8 & 255 == c & 255 for c in unknown):
            grey_hint = "; it looks like a grey index mask saved as RGB: save it as one channel"
        raise DataError(
            f"{source}: colour ({code >> 16}, {code >> 8 & 255}, {code & 255}) is not in the "
            f"CelebAMask-HQ palette ({len(unknown)} unknown colours in all{grey_hint})"
        )
    lookup = np.array([table[int(code)] for code in unique], dtype=np.uint8)
    return lookup[inverse.reshape(-1)].reshape(codes.shape)


def check_labels(mask: np.ndarray, source: str, num_classes: int) -> None:
    bad = np.unique(mask[(mask < 0) | (mask >= num_classes)])
    if bad.size:
        raise DataError(
            f"{source}: labels {bad[:8].tolist()} are outside 0..{num_classes - 1} (each mask "
            "pixel must be a class index; colour masks must use the CelebAMask-HQ palette)"
        )


def resize_mask(mask: np.ndarray, size: int | None) -> np.ndarray:
    if size is None or mask.shape == (size, size):
        return mask
    # NEAREST: a resized mask must only hold labels that were already there.
    return np.array(Image.fromarray(mask).resize((size, size), Image.Resampling.NEAREST))


def mask_from_pil(image: Image.Image, source: str, num_classes: int = NUM_CLASSES) -> np.ndarray:
    """A decoded mask image → uint8 class indices (H, W), checked against ``num_classes``.

    Palette ("P") and grey ("L") images hold the class index per pixel; an RGB image is
    read through the CelebAMask-HQ colours. ``source`` names the mask in error messages.
    """
    if image.mode in ("P", "L", "1"):
        mask = np.array(image, dtype=np.uint8)
    elif image.mode in ("PA", "LA"):
        mask = np.array(image.getchannel(0), dtype=np.uint8)
    elif image.mode in SIXTEEN_BIT_MODES + ("I",):
        wide = np.asarray(image).astype(np.int64)
        check_labels(wide, source, num_classes)  # before uint8 could wrap them
        mask = wide.astype(np.uint8)
    elif image.mode in ("RGB", "RGBA"):
        mask = colors_to_indices(np.asarray(image.convert("RGB")), source)
    else:
        raise DataError(
            f"{source}: mask mode {image.mode!r} is neither an index PNG (P or L) nor an RGB "
            "colour mask"
        )
    check_labels(mask, source, num_classes)
    return mask

