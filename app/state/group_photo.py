"""A photo with several faces in the studio: one document, with its own undo history, per face.

Every face the finder sees is aligned and parsed when the photo is opened, numbered left to
right (``model/faces/group.py``). The studio edits one at a time: ``GroupPhoto.select`` keeps
the document and history of the face it leaves and takes up those of the face chosen (a new
document the first time), so each face's edits and undo survive switching. *Save result*
writes the photo with every face's edits (``compose``): each face edited in turn, left to
right, its edit pasted into the photo before the next and kept to that face's share of it,
so a face nobody edited keeps its bytes. A project keeps every face (``project_faces``) and
gives them back (``from_project``).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from ca2sis.model.errors import DataError
from ca2sis.model.faces.group import FaceInPhoto, faces_in_photo, keep_to_territory
from ca2sis.model.faces.reader import FaceReader
from ca2sis.model.inference.edits import Edit
from ca2sis.model.photo.paste import PhotoTarget
from ca2sis.model.photo.pipeline import PhotoPipeline
from ca2sis.model.photo.source import SourcePhoto, read_photo_faces

from .document import Document, Face, Studio
from .history import History
from .photo_edit import paste_plan
from .project_reader import PhotoFaces


@dataclass
class GroupPhoto:
    """The faces of one photo (``faces[i]`` is face number i + 1, None for one that cannot be
    edited alone: ``found[i].problem`` says why), the one being edited (``current``) and the
    documents and histories of the others."""

    pixels: np.ndarray
    faces: list[Face | None]
    found: list[FaceInPhoto]
    current: int
    _left: dict[int, tuple[Document, History]] = field(default_factory=dict)
    # Documents a project gave back for faces not chosen since (a new undo history when chosen).
    _opened: dict[int, Document] = field(default_factory=dict)

    @property
    def numbers(self) -> list[int]:
        return [face.number for face in self.found]

    def select(self, studio: Studio, index: int) -> None:
        """Edit face ``index`` (0-based) in ``studio``: the current face's document and undo
        history are kept, the chosen face's taken up where they were left."""
        if not 0 <= index < len(self.faces):
            raise DataError(f"there is no face {index + 1} in this photo ({len(self.faces)} faces)")
        face = self.faces[index]
        if face is None:
            raise DataError(f"face {index + 1} cannot be edited alone: {self.found[index].problem}")
        if index == self.current:
            return
        self._left[self.current] = (studio.document, studio.history)
        opened = self._opened.pop(index, None)
        document, history = self._left.pop(index, (opened or Document.from_face(face), None))
        studio.switch_document(document, history)
        self.current = index

    def documents(self, studio: Studio) -> dict[int, Document]:
        """The document of every face that has edits, the current one included, by face index."""
        documents = {**self._opened, **{index: document for index, (document, _) in self._left.items()}}
        documents[self.current] = studio.document
        return {index: document for index, document in sorted(documents.items())
                if _has_edits(document, self.faces[index])}

    def save_jobs(self, studio: Studio) -> list[tuple[int, Edit, PhotoTarget]]:
        """What *Save result* renders, taken on the GUI thread (copies): each edited face's
        index, its edit and where it goes back."""
        jobs = []
        for index, document in self.documents(studio).items():
            plan = paste_plan(document, document.render_options.paste_region)
            if plan is not None:
                jobs.append((index, studio.edit(document), plan))
        return jobs

    def compose(self, pipeline: PhotoPipeline, jobs: list[tuple[int, Edit, PhotoTarget]]) -> np.ndarray:
        """The full photo with every job's edit (``save_jobs``), each kept to its own face's share
        of the photo, faces left to right (runs on a background thread)."""
        current = self.pixels
        for index, edit, plan in jobs:
            target = replace(plan, photo=plan.photo.with_pixels(current))
            rendered = pipeline.render(edit, target, full_photo=True)
            current = keep_to_territory(current, rendered.photo, self.found, index)
        return current

    def histories(self, studio: Studio) -> dict[int, History]:
        """Every face's undo history that exists yet (the current face's is the studio's), by face index."""
        return {**{index: history for index, (_, history) in self._left.items()}, self.current: studio.history}

    def project_faces(self, studio: Studio) -> PhotoFaces:
        """What a project keeps of the photo (taken on the GUI thread, masks copied: strokes paint
        them in place): every face, and the documents of those with edits."""
        documents = {index: replace(document, mask=document.mask.copy())
                     for index, document in self.documents(studio).items() if index != self.current}
        return PhotoFaces(list(self.found), list(self.faces), self.current, documents)

    @classmethod
    def from_project(cls, document: Document, faces: PhotoFaces) -> GroupPhoto:
        """The group photo a project gave back, ``document`` (the face being edited) included."""
        return cls(document.photo_face.photo.pixels, faces.faces, faces.found, faces.current,
                   _opened=dict(faces.documents))

    def face_at(self, x: float, y: float) -> int | None:
        """The index of the face at photo pixel (x, y): the one whose box holds it, else None."""
        for index, face in enumerate(self.found):
            left, top, right, bottom = face.box
            if left <= x <= right and top <= y <= bottom:
                return index
        return None


def _has_edits(document: Document, face: Face | None) -> bool:
    """Whether ``document`` (the document of ``face``) changes the photo: a part restyled or
    reshaped, the mask painted, another base style or the raw network output."""
    if face is None or document.photo_face is not face:
        return False  # another face or photo was opened over it
    return bool(document.part_styles or document.random_parts or document.shape_alphas
                or document.base is not face or document.render_options.global_edit
                or not np.array_equal(document.mask, face.mask))


def read_group_photo(path: str | Path, reader: FaceReader) -> GroupPhoto:
    """Every face of the photo at ``path``, aligned and parsed (slow: run it off the GUI thread);
    the face edited first is the largest."""
    pixels, alignments, name, profile = read_photo_faces(reader, path)
    found = faces_in_photo(alignments)
    stem = Path(path).stem
    faces: list[Face | None] = []
    for alignment, face in zip(alignments, found):
        if face.problem is not None:
            faces.append(None)
            continue
        parsed = reader.parse_aligned(alignment)
        photo = SourcePhoto(pixels, alignment.matrix, reader.size, name, profile)
        label = stem if len(found) == 1 else f"{stem} (face {face.number})"
        faces.append(Face.load(parsed.image, parsed.mask, label, str(path), photo))
    editable = [index for index, face in enumerate(faces) if face is not None]
    if not editable:
        reasons = "; ".join(f"face {face.number}: {face.problem}" for face in found)
        raise DataError(f"{name}: no face can be edited alone ({reasons})")
    current = max(editable, key=lambda index: (found[index].box[2] - found[index].box[0])
                  * (found[index].box[3] - found[index].box[1]))
    return GroupPhoto(pixels, faces, found, current)


__all__ = ["GroupPhoto", "read_group_photo"]
