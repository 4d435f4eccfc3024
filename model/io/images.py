"""What the engine accepts as a face or a mask: files, PIL images or numpy arrays.

Faces of any mode (grey, RGBA, CMYK, palette, 16-bit) become 8-bit RGB; masks of another
size are resized with nearest (a resized mask only holds labels it already had); RGB masks
in the CelebAMask-HQ palette become class indices. Everything wrong is a ``DataError`` that
names the input: undecodable files, decompression bombs, labels out of range, faces that
are not square crops or are smaller than ``MIN_INPUT_SIZE``.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

from ..errors import DataError, NotARegularFile
from ..labels import NUM_CLASSES, palette_bytes
from .atomic import atomic_write_all, check_replaceable
from .decode import (
    check_labels,
    check_square,
    colors_to_indices,
    decode_file,
    mask_from_pil,
    resize_image,
    resize_mask,
    to_rgb,
)

ImageInput = str | Path | Image.Image | np.ndarray
MaskInput = str | Path | Image.Image | np.ndarray

# Below this side a face or mask holds too little to scale up into a face (an 8x8 icon
# would silently become a blurred "face"): it is refused.
MIN_INPUT_SIZE = 64


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
    check_square(width, height, source, what)  # the training data check applies the same rule
    if width < MIN_INPUT_SIZE:
        raise DataError(
            f"{source}: the {what} is only {width}x{height}; ca2sis needs at least "
            f"{MIN_INPUT_SIZE}x{MIN_INPUT_SIZE} pixels to make a face of it"
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
    if array.dtype.kind not in "buif":  # complex, object, text...: no class indices or colours
        raise DataError(f"{source}: mask arrays must hold integer class indices or colours, not {array.dtype}")
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
    save_pngs([(image, path)])


def save_pngs(images: Sequence[tuple[Image.Image | np.ndarray, str | Path]]) -> None:
    """Write several PNGs all or nothing (``save_images``)."""
    save_images([(image, path, "PNG") for image, path in images])


def photo_format(path: str | Path) -> str:
    """The format a photo is written in: JPEG for a .jpg/.jpeg name, else PNG."""
    return "JPEG" if Path(path).suffix.lower() in (".jpg", ".jpeg") else "PNG"


def save_images(
    images: Sequence[tuple[Image.Image | np.ndarray, str | Path, str]], icc_profile: bytes | None = None
) -> None:
    """Write several images ("PNG" or "JPEG") all or nothing: each goes to a temporary file of
    its own beside its target first (``atomic_write_all``), and the targets are replaced only
    once every one has been written. A failure removes the temporaries. ``icc_profile``: the
    colour profile embedded in every one (a photo's own, so its colours show as they did)."""
    with atomic_write_all([path for _, path, _ in images]) as temporaries:
        for (image, _, kind), temporary in zip(images, temporaries):
            picture = image if isinstance(image, Image.Image) else Image.fromarray(np.ascontiguousarray(image))
            with open(temporary, "r+b") as file:
                if kind == "JPEG":
                    picture.save(file, format="JPEG", quality=95, subsampling=0, icc_profile=icc_profile)
                else:  # 3: near the smallest size at a third of the time of the default 6
                    picture.save(file, format="PNG", compress_level=3, icc_profile=icc_profile)


def _same_file(first: Path, second: Path) -> bool:
    if first.resolve() == second.resolve():
        return True
    try:
        return first.exists() and second.exists() and os.path.samefile(first, second)
    except OSError:
        return False


def check_output_paths(outputs: Sequence[tuple[str, str | Path]], inputs: Iterable[object] = ()) -> None:
    """Refuse, before anything is written, an output that cannot be written as a file (a folder,
    a device, a FIFO), that is one of the ``inputs`` (files the command reads), or that another output also names.

    ``outputs`` are (option, path) pairs, e.g. ("--out", "face.png"); ``inputs`` may hold
    anything an input can be (only paths are compared).
    """
    input_paths = [Path(value) for value in inputs if isinstance(value, (str, Path)) and str(value)]
    seen: list[tuple[str, Path]] = []
    for option, value in outputs:
        path = Path(value)
        if not str(value) or path.is_dir() or path.name in ("", ".", ".."):
            raise DataError(f"{option} {value}: is a folder; give a file name to write")
        try:
            check_replaceable(path)  # a device or a FIFO would be replaced by a plain file
        except NotARegularFile as error:
            raise NotARegularFile(f"{option} {error}") from None
        ancestor = path.parent
        while not ancestor.exists() and ancestor != ancestor.parent:
            ancestor = ancestor.parent
        if ancestor.exists() and not ancestor.is_dir():
            raise DataError(f"{option} {value}: {ancestor} is a file, not a folder")
        if ancestor.exists() and not os.access(ancestor, os.W_OK):
            raise DataError(f"{option} {value}: cannot write into {ancestor} (no permission)")
        for source in input_paths:
            if _same_file(path, source):
                raise DataError(f"{option} {value}: is one of the inputs ({source}); it would be overwritten")
        for other_option, other in seen:
            if _same_file(path, other):
                raise DataError(f"{option} {value}: {other_option} writes the same file")
        seen.append((option, path))


def mask_image(mask: np.ndarray) -> Image.Image:
    """A class-index mask as a palette image: the indices are stored (what every ca2sis tool
    reads), any viewer shows the CelebAMask-HQ colours. Save it with ``save_png``."""
    mask = np.ascontiguousarray(mask, dtype=np.uint8)
    image = Image.frombytes("P", (mask.shape[1], mask.shape[0]), mask.tobytes())
    image.putpalette(palette_bytes())
    return image
