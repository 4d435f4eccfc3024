"""Where the studio's file dialogs start (no Qt): beside the photo being edited, or in the
last folder used for that kind of file.

``RecentFolders`` remembers the last folder of each kind of file ("photo", "mask", "project",
"png", "result") and the photo whose result was saved last; the window keeps it in its
settings between sessions. ``result_file`` is what *Save result* proposes: ``<photo>-edited``
with the photo's own extension in the photo's own folder (or where this photo's result went
last time), and for a face without a photo ``result.png`` in the last folder a result went to.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from .document import Document

# What *Save result* writes in the format its name says (JPEG or PNG); any other photo's
# result is proposed as PNG, which is what the writer makes of other names.
RESULT_SUFFIXES = (".jpg", ".jpeg", ".png")
FILE_KINDS = ("photo", "mask", "project", "png", "result")


@dataclass
class RecentFolders:
    """The last folder used for each kind of file, and the photo whose result was saved last."""

    folders: dict[str, str] = field(default_factory=dict)
    result_photo: str = ""  # the photo file of the last result saved (in ``folders["result"]``)

    def folder(self, kind: str) -> Path:
        """The last folder used for ``kind`` while it still exists, else the home folder."""
        last = self.folders.get(kind)
        return Path(last) if last and Path(last).is_dir() else Path.home()

    def used(self, kind: str, path: str | Path, photo: str = "") -> None:
        """``path`` was chosen for ``kind`` (for a result, of ``photo``'s edit)."""
        if kind not in FILE_KINDS:
            raise ValueError(f"kind must be one of {FILE_KINDS}")
        self.folders[kind] = os.path.abspath(Path(path).parent)
        if kind == "result":
            self.result_photo = photo


def photo_file(document: Document) -> str:
    """The file the document's photo was read from, as an absolute path ("" without a photo).
    A face from a photo keeps its file as its source (a reopened project too)."""
    face = document.photo_face
    if face is None or face.photo is None:
        return ""
    return os.path.abspath(face.source or face.photo.name or "photo")


def result_file(document: Document, recent: RecentFolders) -> Path:
    """What *Save result* proposes: ``<photo>-edited.<ext>`` beside the photo (or in the folder
    this photo's result was last saved to), ``result.png`` in the last result folder without one."""
    photo = photo_file(document)
    if not photo:
        return recent.folder("result") / "result.png"
    path = Path(photo)
    suffix = path.suffix if path.suffix.lower() in RESULT_SUFFIXES else ".png"
    if recent.result_photo == photo and "result" in recent.folders:
        folder = recent.folder("result")
    elif path.parent.is_dir():
        folder = path.parent
    else:  # a project whose photo has moved away since
        folder = recent.folder("result")
    return folder / f"{path.stem or 'photo'}-edited{suffix}"


__all__ = ["FILE_KINDS", "RESULT_SUFFIXES", "RecentFolders", "photo_file", "result_file"]
