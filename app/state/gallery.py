"""The demo gallery: bundled aligned faces with their masks (``assets/faces``), and photos.

A gallery entry is an image ``NAME.jpg`` (or .jpeg) with its mask ``NAME.png`` beside it;
``CA2SIS_GALLERY`` names another folder. Photos a user opens or drops go through the face
parser instead (``read_photo``).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ca2sis.model.errors import DataError
from ca2sis.model.faces.reader import FaceReader
from ca2sis.model.io.bundled import bundled_gallery
from ca2sis.model.photo.source import read_photo as read_source_photo

from .document import Face


def default_gallery() -> Path:
    override = os.environ.get("CA2SIS_GALLERY")
    return Path(override) if override else bundled_gallery()


@dataclass(frozen=True)
class GalleryEntry:
    name: str
    image: Path
    mask: Path

    def load(self) -> Face:
        return Face.load(self.image, self.mask, self.name, f"gallery:{self.name}")


def gallery_entries(folder: str | Path | None = None) -> list[GalleryEntry]:
    """The faces of a gallery folder that have a mask beside them, by name."""
    folder = Path(folder) if folder is not None else default_gallery()
    if not folder.is_dir():
        return []
    entries = []
    for image in sorted(folder.glob("*.jpg")) + sorted(folder.glob("*.jpeg")):
        mask = image.with_suffix(".png")
        if mask.is_file():
            entries.append(GalleryEntry(image.stem, image, mask))
    return entries


def read_photo(path: str | Path, reader: Callable[[str | Path], tuple[np.ndarray, np.ndarray]] | None,
               whole_picture: bool = False) -> Face:
    """A photo → an aligned, parsed ``Face`` (any portrait; slow: run it off the GUI thread).

    A square image with a mask of the same name beside it (``face.jpg`` + ``face.png``) is
    taken with that mask, as in the gallery. With a ``FaceReader`` the face keeps its photo
    and alignment (``Face.photo``), so an edit can be pasted back; ``whole_picture`` takes
    a square picture as the aligned face itself.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: no such file")
    mask = path.with_suffix(".png")
    if path.suffix.lower() in (".jpg", ".jpeg") and mask.is_file():
        return Face.load(path, mask, path.stem, str(path))
    if reader is None:
        raise DataError(f"{path}: no face parser is installed to find and parse the face in this photo")
    if isinstance(reader, FaceReader):
        parsed, photo = read_source_photo(reader, path, whole_picture)
        return Face.load(parsed.image, parsed.mask, path.stem, str(path), photo)
    image, parsed_mask = reader(path)
    return Face.load(image, parsed_mask, path.stem, str(path))

