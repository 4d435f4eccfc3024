"""Reading a project file's pieces, which may have been crafted: every number and count is
bounded, every file is checked before it is read (a bare name inside the project's files
folder, not a link leading out of it, the canvas size in its header), and a face is decoded
only when the document refers to it, each PNG once. Problems are ``DataError``s naming the
project and what is wrong. ``project.load_project`` reads the JSON and hands it here.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from ca2sis.model.errors import DataError, check_fraction
from ca2sis.model.faces.group import FaceInPhoto
from ca2sis.model.io.decode import decode_file
from ca2sis.model.io.styles import SavedStyle, read_style
from ca2sis.model.labels import NUM_CLASSES, part_index
from ca2sis.model.photo.source import SourcePhoto

from .document import CANVAS_SIZE, RESULT_VIEWS, Document, Face, PartStyle, RandomStyle, RenderOptions

# Bounds on what a project file may say (a crafted one must not exhaust memory or time, or load
# values that fail every render later). Ours stay far inside: a few KB, at most 22 faces (the
# base, the shape source, the photo's face and one per part) for each face of a group photo.
MAX_PROJECT_BYTES = 1 << 20
MAX_FACES = 256
MAX_PHOTO_FACES = 32  # the faces of a group photo a project keeps
MAX_PHOTO_SIDE = 1 << 20  # a face's box and centre lie within this many pixels of the photo
MAX_TEXT = 1024  # a face's or photo's name, a source
MAX_SEED = 2**63 - 1
MAX_ALIGNED_SIZE = 4096  # the crop side the face was parsed at (the parser's size: 512)
MAX_MATRIX_ENTRY = 1e7
MIN_ALIGNMENT_SCALE = 1e-4  # crop pixels per photo pixel, and its inverse at most


def _inside(folder: Path, name: Any, kind: str, path: Path) -> Path:
    """The file ``name`` of the project's files folder, checked before anything reads it: a bare
    name, present, and not a link that leads out of the folder (which a save would copy in)."""
    if not isinstance(name, str) or len(name) > MAX_TEXT:
        raise DataError(f"{path}: the {kind} file name {name!r:.80} must be a file name")
    file = folder / Path(name).name
    try:
        real = file.resolve(strict=True)
    except FileNotFoundError:
        raise DataError(f"{path}: the project names the {kind} file {file.name}, but it is missing") from None
    except (OSError, RuntimeError) as error:  # a loop of links
        raise DataError(f"{path}: the {kind} file {file.name} cannot be read ({error})") from None
    if not real.is_relative_to(folder.resolve()):
        raise DataError(f"{path}: the {kind} file {file.name} is a link to {real}, outside the project's folder "
                        f"{folder.name}: refused")
    if not real.is_file():
        raise DataError(f"{path}: the {kind} file {file.name} is not a file")
    return file


def _saved_style(folder: Path, name: Any, path: Path) -> SavedStyle | None:
    """A part style saved as a file that the project keeps (None: the part's face gives it)."""
    if name is None:
        return None
    return read_style(_inside(folder, name, "style", path))


def _read_png(file: Path, kind: str) -> np.ndarray:
    """A mask (class per pixel) or an RGB face of the canvas size; the size is checked on the
    header, before a pixel is decoded."""

    def check_size(image: Image.Image) -> None:
        if image.size != (CANVAS_SIZE, CANVAS_SIZE):
            raise DataError(f"{file}: expected {CANVAS_SIZE}x{CANVAS_SIZE}, found {image.width}x{image.height}")

    def convert(image: Image.Image) -> np.ndarray:
        if kind == "mask":
            if image.mode not in ("P", "L"):
                raise DataError(f"{file}: a project mask must be a palette or grey PNG, not {image.mode}")
            return np.array(image, dtype=np.uint8)
        return np.array(image.convert("RGB"), dtype=np.uint8)

    array = decode_file(file, convert, check_size)
    if kind == "mask" and array.max(initial=0) >= NUM_CLASSES:
        raise DataError(f"{file}: class {int(array.max())} is out of range (0..{NUM_CLASSES - 1})")
    return array


def _part(name: str, path: Path) -> int:
    try:
        return part_index(name)
    except DataError as error:
        raise DataError(f"{path}: {error}") from None


def _unit(value: Any, what: str, path: Path) -> float:
    return check_fraction(value, f"{path}: {what}")


def _seed(value: Any, what: str, path: Path) -> int:
    # Any whole number is a seed (the engine maps negative ones); 1.5, "7" or true are not. A seed
    # is shown in the window, so it is bounded like numpy's (64 bits).
    if not isinstance(value, int) or isinstance(value, bool):
        raise DataError(f"{path}: {what} must be a whole number, not {value!r:.80}")
    if abs(value) > MAX_SEED:
        raise DataError(f"{path}: {what} is beyond 64 bits (at most {MAX_SEED} either side of 0)")
    return value


def _text(value: Any, what: str, path: Path) -> str:
    if not isinstance(value, str) or len(value) > MAX_TEXT:
        raise DataError(f"{path}: {what} must be a text of at most {MAX_TEXT} characters")
    return value


def _table(value: Any, what: str, path: Path, limit: int) -> dict:
    """A JSON object of at most ``limit`` entries (every count in a project is bounded)."""
    if not isinstance(value, dict):
        raise DataError(f"{path}: {what} must be a table of names, not {type(value).__name__}")
    if len(value) > limit:
        raise DataError(f"{path}: {what} lists {len(value)} entries; a project has at most {limit}")
    return value


def project_folder(path: Path, name: Any) -> Path:
    """The folder of a project's PNGs: a folder beside the project file, named by a bare name.

    "..", "." or a path would let a project read files outside its own folder; so would a files
    folder that is a link to elsewhere."""
    if not isinstance(name, str) or name in ("", ".", "..") or Path(name).name != name or "\\" in name:
        raise DataError(f"{path}: its files folder {name!r:.80} must be the bare name of a folder beside it")
    folder = path.parent / name
    if folder.is_symlink() and not folder.resolve().is_relative_to(path.parent.resolve()):
        raise DataError(f"{path}: its files folder {name} is a link to {folder.resolve()}, outside the project's "
                        "folder: refused")
    return folder


def _alignment(entry: dict, path: Path) -> tuple[np.ndarray, int]:
    """The photo's alignment, bounded: a 2x3 matrix of finite numbers of at most ``MAX_MATRIX_ENTRY``
    that maps the photo onto the crop at a sane scale, and a crop side of 1..``MAX_ALIGNED_SIZE``
    (a size of 10**400 would load and then fail every render)."""
    rows, size = entry["matrix"], entry["aligned_size"]
    problem = f"{path}: the photo's alignment must be a 2x3 matrix of numbers and a crop size of 1..{MAX_ALIGNED_SIZE}"
    if (not isinstance(rows, list) or len(rows) != 2
            or any(not isinstance(row, list) or len(row) != 3 for row in rows)
            or any(not isinstance(value, (int, float)) or isinstance(value, bool) for row in rows for value in row)):
        raise DataError(problem)
    if not isinstance(size, int) or isinstance(size, bool) or not 1 <= size <= MAX_ALIGNED_SIZE:
        raise DataError(problem)
    try:
        matrix = np.array(rows, dtype=np.float64)
    except OverflowError:  # an integer beyond float's range (10**400)
        matrix = np.full((2, 3), np.inf)
    if not np.isfinite(matrix).all() or np.abs(matrix).max() > MAX_MATRIX_ENTRY:
        raise DataError(f"{path}: the photo's alignment has a number beyond ±{MAX_MATRIX_ENTRY:g}")
    scale = float(np.sqrt(abs(np.linalg.det(matrix[:, :2]))))  # crop pixels per photo pixel
    if not MIN_ALIGNMENT_SCALE <= scale <= 1 / MIN_ALIGNMENT_SCALE:
        raise DataError(f"{path}: the photo's alignment scales the photo by {scale:.3g}; it must be within "
                        f"{MIN_ALIGNMENT_SCALE:g}..{1 / MIN_ALIGNMENT_SCALE:g}")
    return matrix, size


@dataclass
class PhotoFaces:
    """Every face of a group photo that a project keeps: the finder's ``found`` faces (left to
    right), each one's ``faces[i]`` (None: it cannot be edited alone), the ``documents`` of the
    faces with edits other than the one being edited (``current``: the project's document)."""

    found: list[FaceInPhoto]
    faces: list[Face | None]
    current: int
    documents: dict[int, Document] = field(default_factory=dict)


class ProjectReader:
    """Reads a project's faces as they are referred to: a face nothing refers to is never decoded,
    and a PNG that several faces name is decoded once (the photo of a group's faces too)."""

    def __init__(self, path: Path, folder: Path, entries: dict):
        self.path, self.folder, self.entries = path, folder, entries
        self._arrays: dict[tuple[str, str], np.ndarray] = {}
        self._faces: dict[str, Face] = {}
        self._photos: dict[str, tuple[np.ndarray, bytes | None]] = {}

    def png(self, name: Any, kind: str) -> np.ndarray:
        file = _inside(self.folder, name, kind, self.path)
        key = (file.name, kind)
        if key not in self._arrays:
            self._arrays[key] = _read_png(file, kind)
        return self._arrays[key]

    def face(self, key: Any) -> Face:
        if not isinstance(key, str) or key not in self.entries:
            raise DataError(f"{self.path}: the project names face {key!r:.80}, which it does not contain")
        if key not in self._faces:
            entry = self.entries[key]
            self._faces[key] = Face(_text(entry["name"], f"face {key}'s name", self.path),
                                    self.png(entry["image"], "face"), self.png(entry["mask"], "mask"),
                                    _text(entry.get("source", ""), f"face {key}'s source", self.path))
        return self._faces[key]

    def photo_face(self, entry: Any) -> Face | None:
        """The face cut out of a photo, with that photo and its alignment (None: no photo)."""
        if entry is None:
            return None
        matrix, aligned_size = _alignment(entry, self.path)  # checked before the photo is decoded
        cut = self.face(entry["face"])
        name = _text(entry.get("name", ""), "the photo's name", self.path)
        file = _inside(self.folder, entry["photo"], "photo", self.path)
        if file.name not in self._photos:  # every face of a group photo names the same photo
            profile: list[bytes | None] = [None]

            def convert(image: Image.Image) -> np.ndarray:
                profile[0] = image.info.get("icc_profile") or None
                return np.array(image.convert("RGB"), dtype=np.uint8)

            self._photos[file.name] = (decode_file(file, convert), profile[0])
        pixels, icc_profile = self._photos[file.name]
        photo = SourcePhoto(pixels, matrix, aligned_size, name or file.name, icc_profile)
        return Face(cut.name, cut.image, cut.mask, cut.source, photo)

    def photo_faces(self, entry: Any, current_face: Face | None) -> PhotoFaces | None:
        """The faces of a group photo (None: the project is of one face). Their photo is decoded
        once; ``current_face``, the project's photo face, is the one being edited."""
        if entry is None:
            return None
        if not isinstance(entry, dict) or not isinstance(entry.get("faces"), list):
            raise DataError(f"{self.path}: photo_faces must hold a list of faces")
        entries = entry["faces"]
        if not 1 <= len(entries) <= MAX_PHOTO_FACES:
            raise DataError(f"{self.path}: photo_faces lists {len(entries)} faces; a project keeps "
                            f"1..{MAX_PHOTO_FACES}")
        current = entry["current"]
        if not isinstance(current, int) or isinstance(current, bool) or not 0 <= current < len(entries):
            raise DataError(f"{self.path}: photo_faces' current face {current!r:.40} is not one of its "
                            f"{len(entries)} faces")
        found = [_face_in_photo(face.get("found") if isinstance(face, dict) else None, len(entries), self.path)
                 for face in entries]
        faces = [None if face["photo_face"] is None or index == current else self.photo_face(face["photo_face"])
                 for index, face in enumerate(entries)]
        if current_face is None or current_face.photo is None:
            raise DataError(f"{self.path}: photo_faces without the photo face being edited")
        faces[current] = current_face
        documents = {}
        for index, face in enumerate(entries):
            if face.get("document") is None or index == current:
                continue
            if faces[index] is None:
                raise DataError(f"{self.path}: face {index + 1} of the photo has a document but no face")
            documents[index] = document_of(self, _table(face["document"], f"face {index + 1}'s document",
                                                        self.path, 16), faces[index])
        return PhotoFaces(found, faces, current, documents)


def _face_in_photo(entry: Any, count: int, path: Path) -> FaceInPhoto:
    """A face the finder found, bounded: its number, box, centre and side within the photo's reach."""
    problem = f"{path}: a face of photo_faces must hold its number, box, centre, side, cut_by_frame and overlaps"
    if not isinstance(entry, dict):
        raise DataError(problem)

    def whole(value: Any, low: int, high: int) -> int:
        if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
            raise DataError(f"{problem} ({value!r:.40} is not a whole number in {low}..{high})")
        return value

    def number(value: Any, low: float, high: float) -> float:
        if not isinstance(value, (int, float)) or isinstance(value, bool) or not math.isfinite(float(value)) \
                or not low <= value <= high:
            raise DataError(f"{problem} ({value!r:.40} is not a number in {low:g}..{high:g})")
        return float(value)

    box, centre, overlaps = entry["box"], entry["centre"], entry["overlaps"]
    if not isinstance(box, list) or len(box) != 4 or not isinstance(centre, list) or len(centre) != 2 \
            or not isinstance(overlaps, list) or len(overlaps) > count or not isinstance(entry["cut_by_frame"], bool):
        raise DataError(problem)
    return FaceInPhoto(whole(entry["number"], 1, count), tuple(whole(value, -MAX_PHOTO_SIDE, MAX_PHOTO_SIDE)
                                                               for value in box),
                       tuple(number(value, -MAX_PHOTO_SIDE, MAX_PHOTO_SIDE) for value in centre),
                       number(entry["side"], 0, MAX_PHOTO_SIDE), entry["cut_by_frame"],
                       tuple(whole(value, 1, count) for value in overlaps))


def read_project(path: Path, content: dict) -> tuple[Document, PhotoFaces | None]:
    """The document of the project file ``path`` whose JSON is ``content`` (format and version
    checked), and every face of its photo when it is a group photo's."""
    try:
        folder = project_folder(path, content["files"])
        reader = ProjectReader(path, folder, _table(content["faces"], "faces", path, MAX_FACES))
        document = document_of(reader, content, reader.photo_face(content.get("photo_face")))
        return document, reader.photo_faces(content.get("photo_faces"), document.photo_face)
    except DataError:  # said already, with what is wrong
        raise
    except (KeyError, TypeError, ValueError, AttributeError, ArithmeticError) as error:
        problem = f"{type(error).__name__}: {error}"[:200]
        raise DataError(f"{path}: the project file is incomplete or malformed ({problem})") from None


def document_of(reader: ProjectReader, content: dict, photo_face: Face | None) -> Document:
    """The document that ``content`` (the project's, or one face's of a group photo) describes,
    of ``photo_face``, the face in its photo."""
    path, folder, face = reader.path, reader.folder, reader.face
    mask = reader.png(content["mask"], "mask").copy()  # painted in place: never an array a face shares
    ghost = reader.png(content["ghost"], "face") if content.get("ghost") else None
    part_styles = {
        _part(name, path): PartStyle(face(entry["face"]), _unit(entry["strength"], f"{name} strength", path),
                                     _saved_style(folder, entry.get("style"), path))
        for name, entry in _table(content["part_styles"], "part_styles", path, NUM_CLASSES).items()
    }
    random_parts = {
        _part(name, path): RandomStyle(_seed(entry["seed"], f"{name} seed", path),
                                       _unit(entry["strength"], f"{name} strength", path))
        for name, entry in _table(content["random_parts"], "random_parts", path, NUM_CLASSES).items()
    }
    shape_alphas = {_part(name, path): _unit(alpha, f"{name} shape", path)
                    for name, alpha in _table(content["shape_alphas"], "shape_alphas", path, NUM_CLASSES).items()}
    shape_source = face(content["shape_source"]) if content.get("shape_source") is not None else None
    base = face(content["base"])
    if photo_face is not None and base.key == photo_face.key:
        base = photo_face  # the same face, with its photo
    return Document(mask=mask, base=base, ghost=ghost, part_styles=part_styles,
                    random_parts=random_parts, shape_source=shape_source, shape_alphas=shape_alphas,
                    photo_face=photo_face, **_render_view(content, photo_face, path))


def _render_view(content: dict, photo_face: Face | None, path: Path) -> dict[str, Any]:
    """The render options and the result's view a project was saved with (one saved before
    they were: the default options, and before | after for a photo, as an opened photo shows)."""
    options = content.get("render_options") or {}
    if not isinstance(options, dict) or not set(options) <= {"global_edit", "paste_region"}:
        raise DataError(f"{path}: render_options must hold global_edit and paste_region only")
    try:
        render_options = RenderOptions(**options)
    except DataError as error:
        raise DataError(f"{path}: {error}") from None
    view = content.get("result_view", "compare" if photo_face is not None else "face")
    if not isinstance(view, str) or view not in RESULT_VIEWS:
        raise DataError(f"{path}: result_view must be one of {', '.join(RESULT_VIEWS)}, not {view!r:.40}")
    return {"render_options": render_options, "result_view": view}
