"""A photo with several faces in the window: every face read when the photo is opened,
numbered on the result's photo views (*Photo*, *Before | after*), one chosen by a click, and
*Save result* writing the photo with every face's edits (``state/group_photo.py``).

While one face is edited, the photo it is pasted into shows the other faces' edits: when a
face is chosen, the others' edits are composed once in the background (the *backdrop*) and
every render of the chosen face goes into that.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QBrush, QColor, QFont, QPainter, QPen, QPixmap
from PySide6.QtWidgets import QMessageBox, QWidget

from ca2sis.model.errors import DataError
from ca2sis.model.faces.reader import FaceReader
from ca2sis.model.photo.source import SourcePhoto, save_image
from ca2sis.model.photo.source import read_photo as read_source_photo

from ..state.display import elided
from ..state.document import Document, Face
from ..state.group_photo import GroupPhoto, read_group_photo
from ..state.project_reader import PhotoFaces
from ..state.rendering import RenderRequest

if TYPE_CHECKING:
    from .controllers import PhotoController

CURRENT = QColor(255, 204, 0)  # the face being edited
OTHER = QColor(255, 255, 255)
REFUSED = QColor(150, 150, 150)  # a face that cannot be edited alone


class GroupFaces:
    """The faces of the photo being edited, when it has several (``group``)."""

    def __init__(self, photos: PhotoController):
        self.photos = photos
        self.group: GroupPhoto | None = None
        # The photo with every other face's edits, for the face being edited (index → photo).
        self._backdrop: tuple[int, SourcePhoto] | None = None
        self.on_backdrop: Callable[[], object] | None = None  # asks for a render (the window's)
        self._written: dict[int, object] = {}  # face index → its newest undo step when Save result wrote it

    def active(self) -> GroupPhoto | None:
        """The group photo whose face the studio is editing now (None: one face, or something else opened)."""
        group = self.group
        face = self.photos.studio.document.photo_face
        if group is None or face is None or not any(face is other for other in group.faces):
            return None
        return group

    # ---- opening a photo -------------------------------------------------------------------
    def open_photo(self, path: str | Path, open_face: Callable[[Face], object]) -> None:
        """Read every face of a photo in the background and open the largest; with several, the
        others are a click away. A picture with its mask beside it, or a reader that only
        parses, opens as before."""
        path = Path(path)
        reader = self.photos.engine.face_reader
        mask_beside = path.suffix.lower() in (".jpg", ".jpeg") and path.with_suffix(".png").is_file()
        if not isinstance(reader, FaceReader) or mask_beside:
            self.photos.read_photo(path, open_face)
            return
        self.photos.status_bar.showMessage(f"Reading {elided(path.name)}: finding and parsing every face…")
        self.photos.tasks.start(lambda: _read(path, reader), lambda read: self._opened(read, open_face),
                                lambda message: self.photos.photo_failed(path, open_face, message))

    def _opened(self, read: GroupPhoto | Face, open_face: Callable[[Face], object]) -> None:
        if isinstance(read, Face):  # no face could be edited alone: the largest, as one face
            self.group = None
            self.photos.apply_face(open_face, read)
            return
        several = len(read.found) > 1
        self.group = read if several else None
        self._backdrop, self._written = None, {}
        self.photos.apply_face(open_face, read.faces[read.current])
        if several:
            self.photos.status_bar.showMessage(
                f"{len(read.found)} faces, numbered left to right: editing face {read.current + 1}; click another "
                "on the photo (View: Photo or Before | after) to edit it", 10000)

    def opened_project(self, document: Document, photo_faces: PhotoFaces | None) -> None:
        """A project was opened: the group photo it keeps, every face's edits back (None: one face)."""
        self.group = None if photo_faces is None else GroupPhoto.from_project(document, photo_faces)
        self._backdrop, self._written = None, {}
        if self.group is not None:
            self._compose_backdrop(self.group, self.group.current)

    # ---- choosing a face -------------------------------------------------------------------
    def select(self, index: int) -> None:
        """Edit face ``index`` (0-based): the one left keeps its edits and undo."""
        group = self.active()
        if group is None:
            return
        try:
            group.select(self.photos.studio, index)
        except DataError as error:
            self.photos.status_bar.showMessage(str(error), 8000)
            return
        self.photos.status_bar.showMessage(f"Editing face {index + 1} of {len(group.found)}", 5000)
        self._compose_backdrop(group, index)

    def _compose_backdrop(self, group: GroupPhoto, index: int) -> None:
        """Compose the other faces' edits in the background, then render face ``index`` into them."""
        self._backdrop = None
        jobs = [job for job in group.save_jobs(self.photos.studio) if job[0] != index]
        if not jobs:
            return
        photo = group.faces[index].photo

        def ready(pixels) -> None:
            if self.group is group and group.current == index:  # still the face being edited
                self._backdrop = (index, photo.with_pixels(pixels))
                if self.on_backdrop is not None:
                    self.on_backdrop()

        self.photos.tasks.start(lambda: group.compose(self.photos.pipeline, jobs), ready,
                                lambda message: self.photos.status_bar.showMessage(
                                    f"The other faces' edits are not shown: {message}", 8000))

    def with_backdrop(self, request: RenderRequest) -> RenderRequest:
        """``request`` going into the photo with the other faces' edits, when it is the face the
        backdrop was made for (runs on the render thread: reads, never changes)."""
        backdrop = self._backdrop
        if backdrop is None or request.photo is None or self.group is None:
            return request
        face = self.group.faces[backdrop[0]]
        if face is None or request.photo.photo is not face.photo:
            return request
        return replace(request, photo=replace(request.photo, photo=backdrop[1]))

    def click(self, x: float, y: float) -> bool:
        """A click at (x, y), as shares (0..1) of the photo's width and height: choose the face
        there. True when there was one."""
        group = self.active()
        if group is None:
            return False
        height, width = group.pixels.shape[:2]
        index = group.face_at(x * width, y * height)
        if index is None:
            return False
        self.select(index)
        return True

    def numbered(self, pixmap: QPixmap) -> QPixmap:
        """``pixmap`` (the photo, any size) with each face's box and number drawn on it."""
        group = self.active()
        if group is None:
            return pixmap
        scale = pixmap.width() / group.pixels.shape[1]
        drawn = QPixmap(pixmap)
        painter = QPainter(drawn)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        font = QFont()
        font.setBold(True)
        font.setPixelSize(14)
        painter.setFont(font)
        for index, face in enumerate(group.found):
            colour = CURRENT if index == group.current else OTHER if face.problem is None else REFUSED
            left, top, right, bottom = (value * scale for value in face.box)
            pen = QPen(colour, 2.5 if index == group.current else 1.5)
            if face.problem is not None:
                pen.setStyle(Qt.PenStyle.DashLine)
            painter.setPen(pen)
            painter.setBrush(Qt.BrushStyle.NoBrush)
            painter.drawRect(QRectF(left, top, right - left, bottom - top))
            badge = QRectF(QPointF(left, max(0.0, top - 22)), QPointF(left + 22, max(22.0, top)))
            painter.setBrush(QBrush(colour))
            painter.setPen(Qt.PenStyle.NoPen)
            painter.drawEllipse(badge)
            painter.setPen(QColor(20, 20, 20))
            painter.drawText(badge, Qt.AlignmentFlag.AlignCenter, str(face.number))
        painter.end()
        return drawn

    # ---- saving --------------------------------------------------------------------------
    def project_faces(self) -> tuple[PhotoFaces | None, dict[int, object]]:
        """What a project keeps of the group photo (None: one face) and each face's newest undo
        step now, for ``kept`` once the project is written (taken on the GUI thread)."""
        group = self.active()
        if group is None:
            return None, {}
        steps = {index: _newest_step(history) for index, history in group.histories(self.photos.studio).items()}
        return group.project_faces(self.photos.studio), steps

    def kept(self, steps: dict[int, object]) -> None:
        """A project or *Save result* has kept every face's edits up to ``steps``."""
        if steps:
            self._written = steps

    def may_quit(self, parent: QWidget) -> bool:
        """True when no other face has unsaved edits, or the user chose to quit without them."""
        others = self.unsaved_faces()
        if not others:
            return True
        faces = f"Face{'s' if len(others) > 1 else ''} {', '.join(map(str, others))}"
        answer = QMessageBox.question(
            parent, "Unsaved faces", f"{faces} of the photo {'have' if len(others) > 1 else 'has'} edits that "
            "neither a project nor Save result has kept.\n\nQuit without them?",
            QMessageBox.StandardButton.Discard | QMessageBox.StandardButton.Cancel, QMessageBox.StandardButton.Cancel)
        return answer == QMessageBox.StandardButton.Discard

    def unsaved_faces(self) -> list[int]:
        """The numbers of the faces other than the one being edited whose edits neither a project
        nor *Save result* since their last change has kept."""
        group = self.active()
        if group is None:
            return []
        return [index + 1 for index, history in group.histories(self.photos.studio).items()
                if index != group.current and not history.is_clean()
                and self._written.get(index, False) is not _newest_step(history)]

    def save(self, path: str | Path) -> bool:
        """*Save result* for a group photo: every face's edits, written in the background.
        False when the photo has one face (the window saves it as before)."""
        group = self.active()
        if group is None:
            return False
        photos = self.photos
        jobs = group.save_jobs(photos.studio)  # the documents as they are now (copies)
        edited = ", ".join(str(index + 1) for index, _, _ in jobs) or "none"
        profile = photos.studio.document.photo_face.photo.icc_profile
        photos.status_bar.showMessage(f"Saving {elided(Path(path).name)}: faces edited: {edited}…")
        steps = {index: _newest_step(history) for index, history in group.histories(photos.studio).items()}

        def saved(written: Path) -> None:
            self._written = steps
            photos.status_bar.showMessage(f"Saved {written}", 5000)

        photos.tasks.start(lambda: save_image(group.compose(photos.pipeline, jobs), path, icc_profile=profile), saved,
                           lambda message: photos.show_error("The result was not saved", message),
                           writes=Path(path).name)
        return True


def _newest_step(history) -> object:
    return history.done[-1] if history.done else None


def _read(path: Path, reader: FaceReader) -> GroupPhoto | Face:
    """Every face of the photo; when none can be edited alone, its largest face as one face."""
    try:
        return read_group_photo(path, reader)
    except DataError as error:
        if "no face can be edited alone" not in str(error):
            raise
    parsed, photo = read_source_photo(reader, path)
    return Face.load(parsed.image, parsed.mask, path.stem, str(path), photo)
