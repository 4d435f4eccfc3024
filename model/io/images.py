"""What the engine accepts as a face or a mask: files, PIL images or numpy arrays.

Faces of any mode (grey, RGBA, CMYK, palette, 16-bit) become 8-bit RGB; masks of another
size are resized with nearest (a resized mask only holds labels it already had); RGB masks
in the CelebAMask-HQ palette become class indices. Everything wrong is a ``DataError`` that
names the input: undecodable files, decompression bombs, labels out of range, faces that
are not square crops.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

from ..errors import DataError
from ..labels import NUM_CLASSES, palette_bytes
from ..training.data import (
    check_labels,
    colors_to_indices,
    decode_file,
    mask_from_pil,
    resize_image,
    resize_mask,
    to_rgb,
)
from .atomic import atomic_write

ImageInput = str | Path | Image.Image | np.ndarray
MaskInput = str | Path | Image.Image | np.ndarray


def describe(value: object) -> str:
    """A short name for an input in error messages: its path, or its kind and shape."""
    if isinstance(value, (str, Path)):
        return str(value)
    if isinstance(value, np.ndarray):
        return f"array of shape {value.shape}"
    if isinstance(value, Image.Image):
        return f"{value.mode} image of {value.width}x{value.height}"
    return type(value).__name__


def _check_pixels(width: int, height: int, source: str) -> None:
    limit = Image.MAX_IMAGE_PIXELS
    if limit is not None and width * height > limit:
        raise DataError(f"{source}: {width}x{height} pixels is too large to process safely")


def _check_square(width: int, height: int, source: str, what: str) -> None:
    if width != height:
        raise DataError(
            f"{source}: the {what} is {width}x{height}; ca2sis works on square, aligned face "
            "crops (CelebA-HQ framing)"
        )


def _array_to_rgb(array: np.ndarray, source: str) -> Image.Image:
    if array.ndim == 3 and array.shape[-1] == 1:
        array = array[..., 0]
    if array.ndim not in (2, 3) or (array.ndim == 3 and array.shape[-1] not in (3, 4)):
        raise DataError(f"{source}: a face array must be (H, W), (H, W, 3) or (H, W, 4)")
    if array.dtype == np.uint8:
        values = array
    elif array.dtype == np.uint16:
        values = (array.astype(np.float64) * (255.0 / 65535.0)).round().astype(np.uint8)
    elif np.issubdtype(array.dtype, np.floating):
        if not np.isfinite(array).all() or array.min() < 0.0 or array.max() > 1.0:
            raise DataError(f"{source}: a float face array must hold values in [0, 1]")
        values = (array * 255.0).round().astype(np.uint8)
    else:
        raise DataError(f"{source}: face arrays must be uint8, uint16 or float in [0, 1], not {array.dtype}")
    return Image.fromarray(np.ascontiguousarray(values))  # L, RGB or RGBA by shape


def as_image(value: ImageInput, size: int) -> np.ndarray:
    """A face → uint8 RGB (size, size, 3). Non-square faces are refused, not stretched."""
    source = describe(value)

    def convert(image: Image.Image) -> np.ndarray:
        _check_pixels(image.width, image.height, source)
        rgb = to_rgb(ImageOps.exif_transpose(image))
        _check_square(rgb.width, rgb.height, source, "face")
        return np.array(resize_image(rgb, size), dtype=np.uint8)

    if isinstance(value, (str, Path)):
        return decode_file(Path(value), convert)
    if isinstance(value, Image.Image):
        return convert(value)
    if isinstance(value, np.ndarray):
        if value.ndim >= 2:
            _check_pixels(value.shape[1], value.shape[0], source)
        return convert(_array_to_rgb(value, source))
    raise TypeError(f"a face must be a file path, a PIL image or a numpy array, not {type(value).__name__}")


def _array_to_mask(array: np.ndarray, source: str, num_classes: int) -> np.ndarray:
    if array.ndim == 3 and array.shape[-1] == 3:
        return colors_to_indices(array, source)
    if array.ndim != 2:
        raise DataError(f"{source}: a mask array must be (H, W) class indices or (H, W, 3) palette colours")
    if np.issubdtype(array.dtype, np.floating):
        if not np.isfinite(array).all() or (array != np.round(array)).any():
            raise DataError(f"{source}: mask values must be whole class indices")
    elif not np.issubdtype(array.dtype, np.integer) and array.dtype != np.bool_:
        raise DataError(f"{source}: mask arrays must hold integer class indices, not {array.dtype}")
    wide = array.astype(np.int64)
    check_labels(wide, source, num_classes)
    return wide.astype(np.uint8)


def as_mask(value: MaskInput, size: int, num_classes: int = NUM_CLASSES) -> np.ndarray:
    """A mask → uint8 class indices (size, size), resized with nearest when needed."""
    source = describe(value)
    if isinstance(value, (str, Path)):
        def convert(image: Image.Image) -> np.ndarray:
            _check_pixels(image.width, image.height, source)
            return mask_from_pil(image, source, num_classes)

        mask = decode_file(Path(value), convert)
    elif isinstance(value, Image.Image):
        _check_pixels(value.width, value.height, source)
        mask = mask_from_pil(value, source, num_classes)
    elif isinstance(value, np.ndarray):
        if value.ndim >= 2:
            _check_pixels(value.shape[1], value.shape[0], source)
        mask = _array_to_mask(value, source, num_classes)
    else:
        raise TypeError(f"a mask must be a file path, a PIL image or a numpy array, not {type(value).__name__}")
    _check_square(mask.shape[1], mask.shape[0], source, "mask")
    return resize_mask(mask, size)


def save_png(image: Image.Image | np.ndarray, path: str | Path) -> None:
    """Write a PNG atomically (never a half-written file under ``path``), making folders."""
    with atomic_write(path) as temporary:
        (image if isinstance(image, Image.Image) else Image.fromarray(image)).save(temporary, format="PNG")


def mask_image(mask: np.ndarray) -> Image.Image:
    """A class-index mask as a palette image: the indices are stored (what every ca2sis tool
    reads), any viewer shows the CelebAMask-HQ colours. Save it with ``save_png``."""
    mask = np.ascontiguousarray(mask, dtype=np.uint8)
    image = Image.frombytes("P", (mask.shape[1], mask.shape[0]), mask.tobytes())
    image.putpalette(palette_bytes())
    return image
