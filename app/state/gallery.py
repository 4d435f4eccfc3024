"""The gallery: the demo faces (``assets/faces``), the references read from files, and photos.

A demo entry is an image ``NAME.jpg`` (or .jpeg) with its mask ``NAME.png`` beside it;
``CA2SIS_GALLERY`` names another folder. Photos a user opens or drops go through the face
parser instead (``read_photo``); a photo read as a reference (*Open reference…*, or dropped
on a part) is kept in the session's ``Gallery``, to be used again.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Mapping
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
    """A face to drag from: a demo face (``image`` with its ``mask`` beside it, decoded when
    used) or a reference read from the file ``image`` (``face``: aligned and parsed already)."""

    name: str
    image: Path
    mask: Path | None = None
    face: Face | None = None

    def load(self) -> Face:
        if self.face is not None:
            return self.face
        return Face.load(self.image, self.mask, self.name, f"gallery:{self.name}")


GalleryCallback = Callable[[GalleryEntry], None]


class Gallery(Mapping[str, GalleryEntry]):
    """The faces to drag from, by name: the demo faces, then the references read from files
    in this session (``keep``); ``subscribe`` hears of each one added."""

    def __init__(self, entries: list[GalleryEntry] | None = None):
        self._entries = {entry.name: entry for entry in entries or []}
        self._subscribers: list[GalleryCallback] = []

    def __getitem__(self, name: str) -> GalleryEntry:
        return self._entries[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._entries)

    def __len__(self) -> int:
        return len(self._entries)

    def subscribe(self, callback: GalleryCallback) -> None:
        self._subscribers.append(callback)

    def keep(self, face: Face) -> GalleryEntry:
        """Keep a reference read from a file (once: the same face read again is the entry it has)."""
        for entry in self._entries.values():
            if entry.face is not None and entry.face.key == face.key:
                return entry
        name, number = face.name or "face", 2
        while name in self._entries:  # "portrait (2)": a demo face or another file of that name
            name, number = f"{face.name} ({number})", number + 1
        entry = GalleryEntry(name, Path(face.source), None, face)
        self._entries[name] = entry
        for callback in list(self._subscribers):
            callback(entry)
        return entry


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

