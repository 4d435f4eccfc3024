"""Face images and semantic masks: loading, checking, and the training datasets.

Two dataset layouts are read:

- a folder of ``images/<id>.jpg`` + ``masks/<id>.png`` (class-index or palette PNGs), the
  layout of ``celebamask-mini``;
- the official CelebAMask-HQ layout, ``CelebA-HQ-img/<id>.jpg`` and one binary PNG per part
  in ``CelebAMask-HQ-mask-anno/<id // 2000>/<id:05d>_<part>.png``, merged in class order.

Every problem with a file (will not decode, labels outside 0..18, unknown colours, missing
partner) is a ``DataError`` whose message names the file. The datasets draw no random
numbers: the mirrored copy of face i is item n + i, so the sampler alone decides the
augmentation, which is what lets training resume exactly.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch.utils.data import Dataset

from ..errors import DataError
from ..io.decode import (
    SIXTEEN_BIT_MODES,
    check_size,
    decode_file,
    load_image,
    mask_from_pil,
    resize_mask,
)
from ..io.pixels import image_to_tensor
from ..labels import ANNOTATION_PARTS, FLIP_PERMUTATION, NUM_CLASSES, flip_mask

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp")
MASK_SUFFIX = ".png"
OFFICIAL_IMAGE_DIR = "CelebA-HQ-img"
OFFICIAL_ANNO_DIR = "CelebAMask-HQ-mask-anno"
OFFICIAL_FOLDER_SIZE = 2000  # faces per numbered annotation sub-folder





def load_mask(
    path: str | Path, size: int | None = None, num_classes: int = NUM_CLASSES
) -> np.ndarray:
    """Read a semantic mask as uint8 class indices (H, W), resized (nearest) when ``size``.

    Palette ("P") and grey ("L") PNGs hold the class index per pixel; an RGB mask is read
    through the CelebAMask-HQ colours. Labels >= ``num_classes`` raise DataError.
    """
    check_size(size)
    path = Path(path)
    mask = decode_file(path, lambda image: mask_from_pil(image, str(path), num_classes))
    return resize_mask(mask, size)


def official_part_path(root: str | Path, face_id: int, part: str) -> Path:
    """Where the official layout stores the binary mask of one part of one face."""
    folder = str(face_id // OFFICIAL_FOLDER_SIZE)
    return Path(root) / OFFICIAL_ANNO_DIR / folder / f"{face_id:05d}_{part}.png"


def _part_present(image: Image.Image) -> np.ndarray:
    if image.mode in ("1", "L", "I", "F") + SIXTEEN_BIT_MODES:
        return np.asarray(image) != 0
    if image.mode in ("LA", "La"):
        return np.asarray(image.getchannel(0)) != 0
    # RGB, RGBA, palette...: present where any colour channel is nonzero.
    return np.asarray(image.convert("RGB")).any(axis=-1)


def load_official_mask(root: str | Path, face_id: int, size: int | None = None) -> np.ndarray:
    """Merge the per-part binary PNGs of one official CelebAMask-HQ face into class indices.

    Parts are painted in class order, a later class overwriting an earlier one where they
    overlap (as the official preprocessing script does); a missing part file means the part
    is absent. A face with no part file at all raises DataError.
    """
    check_size(size)
    if isinstance(face_id, bool) or not isinstance(face_id, (int, np.integer)) or face_id < 0:
        raise DataError(f"official CelebAMask-HQ face ids are integers >= 0, got {face_id!r}")
    face_id = int(face_id)
    mask: np.ndarray | None = None
    for index, part in enumerate(ANNOTATION_PARTS, start=1):
        path = official_part_path(root, face_id, part)
        if not path.is_file():
            continue
        present = decode_file(path, _part_present)
        if mask is None:
            mask = np.zeros(present.shape, np.uint8)
        elif present.shape != mask.shape:
            raise DataError(
                f"{path}: size {present.shape[::-1]} differs from the face's other parts "
                f"{mask.shape[::-1]}"
            )
        mask[present] = index
    if mask is None:
        expected = official_part_path(root, face_id, ANNOTATION_PARTS[0]).parent
        raise DataError(
            f"face {face_id}: no part annotation {face_id:05d}_<part>.png in {expected}"
        )
    return resize_mask(mask, size)


# --------------------------------------------------------------------------- datasets


class FaceMaskDataset(Dataset):
    """Faces with their masks, as items ``{"image", "mask", "name"}``.

    ``image`` is float32 (3, S, S) in [-1, 1], ``mask`` int64 (S, S) class indices and
    ``name`` the face id. With ``flip`` the dataset has 2n items: item n + i is face i
    mirrored left-right, its mask mirrored with the l_/r_ classes swapped, named
    ``"<id>:flip"``. No random number is drawn here; the sampler decides everything.
    Subclasses implement ``load_pair``.
    """

    def __init__(self, ids: Sequence[str], image_size: int, flip: bool = False) -> None:
        if not isinstance(image_size, int) or image_size < 1:
            raise DataError(f"image_size must be a positive integer, got {image_size!r}")
        if not ids:
            raise DataError("the dataset is empty")
        self.ids: list[str] = list(ids)
        self.image_size = image_size
        self.flip = flip

    def load_pair(self, face_id: str) -> tuple[np.ndarray, np.ndarray]:
        """The face ``face_id`` at ``image_size``: uint8 RGB (S, S, 3) and uint8 mask (S, S)."""
        raise NotImplementedError

    def __len__(self) -> int:
        return len(self.ids) * (2 if self.flip else 1)

    def __getitem__(self, index: int) -> dict[str, torch.Tensor | str]:
        length = len(self)
        if index < 0:
            index += length
        if not 0 <= index < length:
            raise IndexError(f"index {index} out of range for a dataset of {length} items")
        mirrored, position = divmod(index, len(self.ids))
        face_id = self.ids[position]
        image, mask = self.load_pair(face_id)
        if mirrored:
            image, mask = image[:, ::-1], flip_mask(mask)
        return {
            "image": image_to_tensor(image),
            "mask": torch.from_numpy(np.ascontiguousarray(mask)).long(),
            "name": f"{face_id}:flip" if mirrored else face_id,
        }


class FacesInMemory:
    """Every face of a dataset decoded once, at the training size, as uint8 tensors.

    On a CPU, worker processes that decode JPEGs compete with the training math for the
    same cores; decoding the faces once (800 faces at 128 px are 52 MB: RGB and mask) and mirroring with
    tensor ops removes that work from every step. Indexing follows ``FaceMaskDataset``:
    item n + i is face i mirrored with its l_/r_ classes swapped, so a batch holds exactly
    what the dataset would give for the same indices.

    Every file is decoded before the first step, so a bad file is reported at once, with
    all other bad files, not hours into training; ``skip_bad`` trains on the rest.
    """

    def __init__(self, dataset: FaceMaskDataset, skip_bad: bool = False, progress: bool = True) -> None:
        from tqdm import tqdm  # only the trainer needs a progress bar

        size = dataset.image_size
        images, masks, ids, problems = [], [], [], []
        for face_id in tqdm(dataset.ids, desc="decoding faces", unit="face", disable=not progress,
                            mininterval=1.0, leave=False):
            try:
                image, mask = dataset.load_pair(face_id)
            except DataError as exc:
                problems.append(str(exc))
                continue
            images.append(torch.from_numpy(np.ascontiguousarray(image)))
            masks.append(torch.from_numpy(np.ascontiguousarray(mask)))
            ids.append(face_id)
        if problems and not skip_bad:
            shown = "\n  ".join(problems[:20]) + ("\n  ..." if len(problems) > 20 else "")
            raise DataError(f"{len(problems)} of {len(dataset.ids)} faces cannot be used (add --skip-bad to "
                            f"train on the others):\n  {shown}")
        if not ids:
            raise DataError("no usable face in the dataset")
        self.skipped = problems
        self.ids = ids
        self.flip = dataset.flip
        self.images = torch.stack(images) if images else torch.empty(0, size, size, 3, dtype=torch.uint8)
        self.masks = torch.stack(masks)
        self.flip_table = torch.tensor(FLIP_PERMUTATION, dtype=torch.uint8)

    def __len__(self) -> int:
        return len(self.ids) * (2 if self.flip else 1)

    def batch(self, indices: torch.Tensor | Sequence[int]) -> dict[str, torch.Tensor]:
        """Items ``indices`` as a batch: ``image`` float32 (B, 3, S, S) in [-1, 1], ``mask`` int64 (B, S, S)."""
        indices = torch.as_tensor(indices, dtype=torch.long)
        mirrored, position = indices // len(self.ids), indices % len(self.ids)
        image, mask = self.images[position], self.masks[position]
        if bool(mirrored.any()):
            flip = mirrored.bool()
            image[flip] = image[flip].flip(2)
            mask[flip] = self.flip_table[mask[flip].flip(2).long()]
        return {"image": image_to_tensor(image), "mask": mask.long()}


def _as_list(ids: Iterable[str] | str | None) -> list[str] | None:
    if ids is None:
        return None
    if isinstance(ids, (str, int)):  # one id, not an iterable of characters
        return [str(ids)]
    return [str(face_id) for face_id in ids]


def _select(
    available: list[str],
    include: list[str] | None,
    exclude: list[str] | None,
    root: Path,
    sort_key: Callable[[str], object] | None = None,
) -> list[str]:
    """Apply ``include`` / ``exclude`` to the ids found in ``root``; an empty result is an error."""
    if not available:
        raise DataError(f"{root}: the dataset is empty (no face found)")
    ids = available
    if include is not None:
        known = set(available)
        unknown = sorted({i for i in include if i not in known})
        if unknown:
            raise DataError(
                f"{root}: unknown face ids {unknown[:5]}" + (" ..." if len(unknown) > 5 else "")
            )
        ids = sorted(set(include), key=sort_key)
    if exclude is not None:
        dropped = set(exclude)
        ids = [i for i in ids if i not in dropped]
    if not ids:
        raise DataError(f"{root}: the dataset is empty once the selected ids are applied")
    return ids


def _require_folders(*folders: Path) -> None:
    for folder in folders:
        if not folder.is_dir():
            raise DataError(f"{folder}: folder not found")


def _files(folder: Path, suffixes: tuple[str, ...]) -> dict[str, Path]:
    """Files of ``folder`` by stem; hidden files (".DS_Store", "._x.jpg") are skipped."""
    found: dict[str, Path] = {}
    for path in sorted(folder.iterdir()):
        if path.name.startswith(".") or not path.is_file() or path.suffix.lower() not in suffixes:
            continue
        if path.stem in found:
            raise DataError(f"{path} and {found[path.stem]} have the same id {path.stem!r}")
        found[path.stem] = path
    return found


class FolderDataset(FaceMaskDataset):
    """The ``images/<id>.<jpg|jpeg|png|webp>`` + ``masks/<id>.png`` layout, ids sorted."""

    def __init__(
        self,
        root: str | Path,
        image_size: int,
        flip: bool = False,
        ids: Iterable[str] | None = None,
        *,
        exclude: Iterable[str] | None = None,
    ) -> None:
        self.root = Path(root)
        _require_folders(self.root / "images", self.root / "masks")
        self.images = _files(self.root / "images", IMAGE_SUFFIXES)
        self.masks = _files(self.root / "masks", (MASK_SUFFIX,))
        lonely = sorted(set(self.images) - set(self.masks))
        if lonely:
            expected = self.root / "masks" / f"{lonely[0]}{MASK_SUFFIX}"
            raise DataError(
                f"{self.images[lonely[0]]} has no mask (expected {expected}; "
                f"{len(lonely)} images without a mask in all)"
            )
        orphans = sorted(set(self.masks) - set(self.images))
        if orphans:
            raise DataError(
                f"{self.masks[orphans[0]]} has no image {orphans[0]}.jpg (or .jpeg/.png/.webp) in "
                f"{self.root / 'images'} ({len(orphans)} masks without an image in all)"
            )
        selected = _select(sorted(self.images), _as_list(ids), _as_list(exclude), self.root)
        super().__init__(selected, image_size, flip)

    def load_pair(self, face_id: str) -> tuple[np.ndarray, np.ndarray]:
        """The image and mask of ``face_id``, both at ``image_size``."""
        image = load_image(self.images[face_id], self.image_size)
        mask = load_mask(self.masks[face_id], self.image_size)
        return image, mask


def _official_ids(ids: list[str] | None, root: Path) -> list[str] | None:
    """Canonical official ids ("00012" → "12"); a non-integer id is an error."""
    if ids is None:
        return None
    canonical = []
    for face_id in ids:
        if not face_id.strip().isdigit():
            raise DataError(f"{root}: official CelebAMask-HQ ids are integers, got {face_id!r}")
        canonical.append(str(int(face_id)))
    return canonical


class CelebAMaskHQDataset(FaceMaskDataset):
    """The official CelebAMask-HQ layout: integer ids sorted numerically, parts merged on read."""

    def __init__(
        self,
        root: str | Path,
        image_size: int,
        flip: bool = False,
        ids: Iterable[str | int] | None = None,
        *,
        exclude: Iterable[str | int] | None = None,
    ) -> None:
        self.root = Path(root)
        _require_folders(self.root / OFFICIAL_IMAGE_DIR, self.root / OFFICIAL_ANNO_DIR)
        self.images: dict[str, Path] = {}
        for stem, path in _files(self.root / OFFICIAL_IMAGE_DIR, IMAGE_SUFFIXES).items():
            if not stem.isdigit():
                continue  # not a face of the official layout
            face_id = str(int(stem))
            if face_id in self.images:
                raise DataError(f"{path} and {self.images[face_id]} are both face {face_id}")
            self.images[face_id] = path
        include = _official_ids(_as_list(ids), self.root)
        # An exclusion list may name ids of another layout; only integer ones can match here.
        dropped = _as_list(exclude)
        if dropped is not None:
            dropped = [str(int(i)) for i in dropped if i.strip().isdigit()]
        selected = _select(sorted(self.images, key=int), include, dropped, self.root, int)
        # A missing annotation folder is cheap to see now; missing single parts mean absent.
        # One check per numbered folder (15 for the full dataset), not one per face.
        first_face = {official_part_path(self.root, int(i), "skin").parent: i for i in reversed(selected)}
        for folder, face_id in first_face.items():
            if not folder.is_dir():
                raise DataError(f"{self.images[face_id]}: annotation folder {folder} not found")
        super().__init__(selected, image_size, flip)

    def load_pair(self, face_id: str) -> tuple[np.ndarray, np.ndarray]:
        """The image and merged mask of ``face_id``, both at ``image_size``."""
        image = load_image(self.images[face_id], self.image_size)
        mask = load_official_mask(self.root, int(face_id), self.image_size)
        return image, mask


def open_dataset(
    root: str | Path,
    image_size: int,
    flip: bool = False,
    exclude: Iterable[str] | None = None,
    include: Iterable[str] | None = None,
) -> FaceMaskDataset:
    """Open the dataset in ``root``, whichever of the two layouts it has.

    ``include`` keeps only those ids (an unknown id is an error); ``exclude`` removes ids,
    e.g. a held-out validation list. If a folder holds both layouts, ``images/`` +
    ``masks/`` is used.
    """
    root = Path(root)
    if not root.exists():
        raise DataError(f"dataset folder not found: {root}")
    if not root.is_dir():
        raise DataError(f"{root}: is a file, not a dataset folder")
    has = {
        name: (root / name).is_dir()
        for name in ("images", "masks", OFFICIAL_IMAGE_DIR, OFFICIAL_ANNO_DIR)
    }
    if has["images"] and has["masks"]:
        return FolderDataset(root, image_size, flip, include, exclude=exclude)
    if has[OFFICIAL_IMAGE_DIR] and has[OFFICIAL_ANNO_DIR]:
        return CelebAMaskHQDataset(root, image_size, flip, include, exclude=exclude)
    found = [f"{name}/" for name, present in has.items() if present]
    raise DataError(
        f"{root} is not a dataset folder: expected images/ + masks/ (an <id>.png mask per "
        f"<id>.jpg image), or the official CelebAMask-HQ layout {OFFICIAL_IMAGE_DIR}/ + "
        f"{OFFICIAL_ANNO_DIR}/" + (f"; found only {', '.join(found)}" if found else "")
    )


def read_id_list(path: str | Path) -> list[str]:
    """Face ids from a text file, one per line; blank lines and ``#`` comments are ignored."""
    try:
        text = Path(path).read_text(encoding="utf-8-sig")  # -sig: tolerate a BOM from Windows
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(f"cannot read id list {path}: {exc}") from exc
    ids = (line.split("#", 1)[0].strip() for line in text.splitlines())
    return [face_id for face_id in ids if face_id]
