"""Face images and semantic masks: loading, checking, and the training datasets.

Two layouts are read:
- a folder of ``images/<id>.jpg`` + ``masks/<id>.png`` (index or palette PNGs), the layout
  of ``celebamask-mini``;
- the official CelebAMask-HQ layout, ``CelebA-HQ-img/<id>.jpg`` and one binary PNG per part
  in ``CelebAMask-HQ-mask-anno/<id // 2000>/<id:05d>_<part>.png``, merged in class order.

Every problem with a file (will not decode, labels out of 0..18, unknown colours, missing
partner) is a ``DataError`` that names the file. Datasets draw no random numbers: the
mirrored copy of face i is item n + i, so a sampler alone decides the augmentation, which
is what makes training resume exactly.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch.utils.data import Dataset

from .errors import DataError
from .labels import ANNOTATION_PARTS, COLORS, NUM_CLASSES, flip_mask

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp")


def _open(path: Path) -> Image.Image:
    try:
        with warnings.catch_warnings():
            # PIL only warns between 1x and 2x its pixel limit; treat that as the bomb it is.
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(path)
            image.load()
        return image
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise DataError(f"{path}: image is too large to be safe to decode ({exc})") from exc
    except FileNotFoundError as exc:
        raise DataError(f"{path}: file not found") from exc
    except (OSError, ValueError, SyntaxError) as exc:
        raise DataError(f"{path}: cannot decode image ({exc})") from exc


def to_rgb(image: Image.Image) -> Image.Image:
    """Any PIL mode (grey, RGBA, CMYK, palette, 16-bit) → 8-bit RGB."""
    if image.mode in ("I;16", "I;16B", "I;16L", "I"):
        array = np.asarray(image, dtype=np.float64)
        peak = 65535.0 if array.max() > 255 else 255.0
        image = Image.fromarray((array / peak * 255).round().astype(np.uint8))
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        image = image.convert("RGBA")
        background = Image.new("RGBA", image.size, (255, 255, 255, 255))
        image = Image.alpha_composite(background, image)
    return image.convert("RGB")


def load_image(path: str | Path, size: int | None = None) -> np.ndarray:
    """An RGB face as uint8 (H, W, 3), resized to size x size when given."""
    image = to_rgb(_open(Path(path)))
    if size is not None and image.size != (size, size):
        image = image.resize((size, size), Image.Resampling.BICUBIC, reducing_gap=2.0)
    return np.array(image, dtype=np.uint8)  # writable: torch.from_numpy wants that


def colors_to_indices(rgb: np.ndarray, source: str = "mask") -> np.ndarray:
    """An RGB mask in the CelebAMask-HQ palette → class indices; other colours are an error."""
    codes = rgb[..., 0].astype(np.int32) << 16 | rgb[..., 1].astype(np.int32) << 8 | rgb[..., 2]
    table = {r << 16 | g << 8 | b: index for index, (r, g, b) in enumerate(COLORS)}
    unique, inverse = np.unique(codes, return_inverse=True)
    unknown = [int(u) for u in unique if int(u) not in table]
    if unknown:
        c = unknown[0]
        raise DataError(
            f"{source}: colour ({c >> 16}, {c >> 8 & 255}, {c & 255}) is not in the CelebAMask-HQ palette "
            f"({len(unknown)} unknown colours in all)"
        )
    lookup = np.array([table[int(u)] for u in unique], dtype=np.uint8)
    return lookup[inverse].reshape(codes.shape)


def check_labels(mask: np.ndarray, source: str, num_classes: int = NUM_CLASSES) -> np.ndarray:
    bad = np.unique(mask[mask >= num_classes])
    if bad.size:
        raise DataError(
            f"{source}: labels {bad[:8].tolist()} are outside 0..{num_classes - 1} "
            "(is this a class-index mask?)"
        )
    return mask


def load_mask(path: str | Path, size: int | None = None, num_classes: int = NUM_CLASSES) -> np.ndarray:
    """A class-index mask as uint8 (H, W), resized with nearest neighbour when ``size``."""
    path = Path(path)
    image = _open(path)
    if image.mode in ("P", "L"):
        mask = np.array(image, dtype=np.uint8)
    elif image.mode in ("I", "I;16", "I;16B", "I;16L"):
        mask = np.asarray(image).astype(np.int64)
        check_labels(mask, str(path), num_classes)
        mask = mask.astype(np.uint8)
    elif image.mode in ("RGB", "RGBA"):
        mask = colors_to_indices(np.asarray(image.convert("RGB")), str(path))
    else:
        raise DataError(f"{path}: mask mode {image.mode} is neither an index PNG nor an RGB colour mask")
    check_labels(mask, str(path), num_classes)
    if size is not None and mask.shape != (size, size):
        mask = np.array(Image.fromarray(mask).resize((size, size), Image.Resampling.NEAREST))
    return mask


def official_part_path(root: str | Path, face_id: int, part: str) -> Path:
    return Path(root) / "CelebAMask-HQ-mask-anno" / str(face_id // 2000) / f"{face_id:05d}_{part}.png"


def load_official_mask(root: str | Path, face_id: int, size: int | None = None) -> np.ndarray:
    """Merge the per-part binary PNGs of one face; later classes overwrite earlier ones."""
    mask: np.ndarray | None = None
    for index, part in enumerate(ANNOTATION_PARTS, start=1):
        path = official_part_path(root, face_id, part)
        if not path.exists():
            continue
        part_image = np.asarray(_open(path).convert("L"))
        if mask is None:
            mask = np.zeros(part_image.shape, np.uint8)
        elif part_image.shape != mask.shape:
            raise DataError(f"{path}: size {part_image.shape} differs from the face's other parts {mask.shape}")
        mask[part_image > 0] = index
    if mask is None:
        raise DataError(f"face {face_id}: no part annotation under {Path(root) / 'CelebAMask-HQ-mask-anno'}")
    if size is not None and mask.shape != (size, size):
        mask = np.array(Image.fromarray(mask).resize((size, size), Image.Resampling.NEAREST))
    return mask


def image_to_tensor(image: np.ndarray) -> torch.Tensor:
    """uint8 (H, W, 3) → float32 (3, H, W) in [-1, 1]."""
    return torch.from_numpy(np.ascontiguousarray(image)).permute(2, 0, 1).float() / 127.5 - 1.0


def one_hot(mask: torch.Tensor, num_classes: int = NUM_CLASSES) -> torch.Tensor:
    """Class indices (B, H, W) → one-hot float32 (B, C, H, W), on the mask's device."""
    out = torch.zeros(mask.shape[0], num_classes, *mask.shape[1:], device=mask.device)
    return out.scatter_(1, mask.long().unsqueeze(1), 1.0)


class FaceMaskDataset(Dataset):
    """Base of both layouts. Items: {"image": (3, S, S) in [-1, 1], "mask": (S, S) int64,
    "name": id}. With ``flip``, items n..2n-1 are the faces mirrored, l/r classes swapped."""

    def __init__(self, ids: list[str], image_size: int, flip: bool = False):
        if not ids:
            raise DataError("the dataset is empty")
        self.ids = ids
        self.image_size = image_size
        self.flip = flip

    def load_pair(self, face_id: str) -> tuple[np.ndarray, np.ndarray]:
        raise NotImplementedError

    def __len__(self) -> int:
        return len(self.ids) * (2 if self.flip else 1)

    def __getitem__(self, index: int) -> dict:
        if not 0 <= index < len(self):
            raise IndexError(index)
        mirrored, position = divmod(index, len(self.ids))
        face_id = self.ids[position]
        image, mask = self.load_pair(face_id)
        if mirrored:
            image, mask = image[:, ::-1], flip_mask(mask)
        return {
            "image": image_to_tensor(image),
            "mask": torch.from_numpy(np.ascontiguousarray(mask)).long(),
            "name": face_id + (":flip" if mirrored else ""),
        }


def _select(ids: list[str], include: Iterable[str] | None, exclude: Iterable[str] | None, root: Path) -> list[str]:
    if include is not None:
        wanted = [str(i) for i in include]
        missing = sorted(set(wanted) - set(ids))
        if missing:
            raise DataError(f"{root}: unknown face ids {missing[:5]}")
        ids = wanted
    if exclude is not None:
        dropped = {str(i) for i in exclude}
        ids = [i for i in ids if i not in dropped]
    return ids


class FolderDataset(FaceMaskDataset):
    """``images/<id>.<jpg|png|...>`` + ``masks/<id>.png``."""

    def __init__(self, root: str | Path, image_size: int, flip: bool = False,
                 ids: Iterable[str] | None = None, exclude: Iterable[str] | None = None):
        self.root = Path(root)
        images = {p.stem: p for p in sorted((self.root / "images").iterdir()) if p.suffix.lower() in IMAGE_SUFFIXES}
        masks = {p.stem: p for p in sorted((self.root / "masks").iterdir()) if p.suffix.lower() == ".png"}
        lonely = sorted(set(images) - set(masks))
        if lonely:
            raise DataError(f"{images[lonely[0]]} has no mask {self.root / 'masks' / (lonely[0] + '.png')}"
                            f" ({len(lonely)} images without a mask)")
        orphans = sorted(set(masks) - set(images))
        if orphans:
            raise DataError(f"{masks[orphans[0]]} has no image in {self.root / 'images'}")
        self.images, self.masks = images, masks
        super().__init__(_select(sorted(images), ids, exclude, self.root), image_size, flip)

    def load_pair(self, face_id: str) -> tuple[np.ndarray, np.ndarray]:
        return load_image(self.images[face_id], self.image_size), load_mask(self.masks[face_id], self.image_size)


class CelebAMaskHQDataset(FaceMaskDataset):
    """The official CelebAMask-HQ layout (integer ids, parts merged on the fly)."""

    def __init__(self, root: str | Path, image_size: int, flip: bool = False,
                 ids: Iterable[str] | None = None, exclude: Iterable[str] | None = None):
        self.root = Path(root)
        found = sorted((p for p in (self.root / "CelebA-HQ-img").iterdir() if p.stem.isdigit()),
                       key=lambda p: int(p.stem))
        self.images = {p.stem: p for p in found if p.suffix.lower() in IMAGE_SUFFIXES}
        super().__init__(_select(list(self.images), ids, exclude, self.root), image_size, flip)

    def load_pair(self, face_id: str) -> tuple[np.ndarray, np.ndarray]:
        return (load_image(self.images[face_id], self.image_size),
                load_official_mask(self.root, int(face_id), self.image_size))


def open_dataset(root: str | Path, image_size: int, flip: bool = False,
                 exclude: Iterable[str] | None = None, include: Iterable[str] | None = None) -> FaceMaskDataset:
    """The dataset in ``root``, whichever of the two layouts it has."""
    root = Path(root)
    if not root.is_dir():
        raise DataError(f"dataset folder not found: {root}")
    if (root / "images").is_dir() and (root / "masks").is_dir():
        return FolderDataset(root, image_size, flip, include, exclude)
    if (root / "CelebA-HQ-img").is_dir() and (root / "CelebAMask-HQ-mask-anno").is_dir():
        return CelebAMaskHQDataset(root, image_size, flip, include, exclude)
    raise DataError(
        f"{root} is not a dataset folder: expected images/ + masks/, or the official CelebAMask-HQ "
        "layout CelebA-HQ-img/ + CelebAMask-HQ-mask-anno/"
    )


def read_id_list(path: str | Path) -> list[str]:
    """Face ids, one per line; blank lines and # comments ignored."""
    try:
        lines = Path(path).read_text().splitlines()
    except OSError as exc:
        raise DataError(f"cannot read id list {path}: {exc}") from exc
    return [line.split("#", 1)[0].strip() for line in lines if line.split("#", 1)[0].strip()]
