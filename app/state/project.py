"""Project files: a JSON document plus the PNG files it names, restoring a session exactly.

    portrait.ca2sis.json          the document: styles, strengths, sliders, file names
    portrait_files/mask.png       the painted mask (palette PNG, class index per pixel)
    portrait_files/ghost.png      the photo under the mask, when there is one
    portrait_files/<key>.png      each face a style or shape comes from
    portrait_files/<key>_mask.png and its mask
    portrait_files/photo.png      the whole photo a face was cut out of, when editing inside
                                  it (with its ICC profile; the alignment is in the JSON)

PNG is lossless, so every array comes back bit for bit. The files are written to a
temporary folder first and swapped in at the end: a failed save leaves the last good
project as it was. Loading checks every name, class and value and raises ``DataError``
with what is wrong; nothing of the current session changes until a project has loaded.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import time
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from ca2sis.model.errors import DataError, check_fraction
from ca2sis.model.io.atomic import STALE_SECONDS, named_os_error
from ca2sis.model.io.decode import decode_file
from ca2sis.model.io.images import mask_image, save_png
from ca2sis.model.labels import CLASS_NAMES, NUM_CLASSES, part_index
from ca2sis.model.photo.source import SourcePhoto, save_image

from .document import CANVAS_SIZE, RESULT_VIEWS, Document, Face, PartStyle, RandomStyle, RenderOptions

PROJECT_FORMAT = "ca2sis-project"
PROJECT_VERSION = 1
PROJECT_SUFFIX = ".ca2sis.json"
# Bounds on what a project file may say (a crafted one must not exhaust memory or time, or load
# values that fail every render later). Ours stay far inside: a few KB, at most 22 faces (the
# base, the shape source, the photo's face and one per part).
MAX_PROJECT_BYTES = 1 << 20
MAX_FACES = 64
MAX_TEXT = 1024  # a face's or photo's name, a source
MAX_SEED = 2**63 - 1
MAX_ALIGNED_SIZE = 4096  # the crop side the face was parsed at (the parser's size: 512)
MAX_MATRIX_ENTRY = 1e7
MIN_ALIGNMENT_SCALE = 1e-4  # crop pixels per photo pixel, and its inverse at most


def project_file(path: str | Path) -> Path:
    """Where ``save_project(document, path)`` writes: ``path`` ending in ``.ca2sis.json``, or for a
    folder (one that exists, or a name ending in a separator) ``FOLDER/FOLDER.ca2sis.json`` inside it."""
    text = str(path)
    path = Path(path)
    if path.is_dir() or text.endswith((os.sep, "/")):
        path = path / (path.resolve().name or "portrait")
    if not path.name.endswith(PROJECT_SUFFIX):
        path = path.with_name(path.name + PROJECT_SUFFIX)
    return path


def files_folder(path: Path) -> Path:
    """The folder beside a project file that holds its PNGs."""
    name = path.name[: -len(PROJECT_SUFFIX)] if path.name.endswith(PROJECT_SUFFIX) else path.stem
    return path.with_name(name + "_files")


def save_project(document: Document, path: str | Path) -> Path:
    """Write ``document`` as a project; returns the JSON file's path (``project_file``). Slow for a
    project of a large photo (it is written whole, as PNG): run it off the GUI thread."""
    path = project_file(path)
    folder = files_folder(path)
    recover_interrupted_save(path)
    old_files = _own_files(path, folder)
    # Temporary names of our own: a folder or file of the user's is never reused or removed.
    token = secrets.token_hex(6)
    staging = folder.with_name(f".{folder.name}.saving-{token}")
    staging.mkdir(parents=True)
    try:
        return _write_project(document, path, folder, staging, old_files, token)
    finally:
        shutil.rmtree(staging, ignore_errors=True)  # only there when the save failed


def _read_json(path: Path) -> Any:
    """A JSON file's content; ValueError for anything that is not JSON this program reads (also
    an integer of thousands of digits, or nesting deep enough to exhaust the stack)."""
    try:
        return json.loads(path.read_text())
    except RecursionError:
        raise ValueError("nested too deeply") from None


def recover_interrupted_save(path: Path) -> None:
    """Finish or undo a save that was killed (SIGKILL, power loss) or failed mid-swap.

    A save swaps its files in by renaming: files folder → ``.FOLDER.old-T``, the new files →
    files folder, then ``.NAME.T.tmp`` → the project file (the commit). Left behind by an
    interrupted save: with ``.NAME.T.tmp`` still there the project file was not replaced, so the
    old files go back; without it the save was committed and the old files go. The
    temporaries of saves killed earlier (``STALE_SECONDS`` ago) are removed."""
    folder = files_folder(path)
    for old in sorted(path.parent.glob(f".{folder.name}.old-*")):
        token = old.name.rsplit("-", 1)[-1]
        if not old.is_dir() or old.is_symlink() or not re.fullmatch(r"[0-9a-f]{12}", token):
            continue
        pending = path.with_name(f".{path.name}.{token}.tmp")
        if pending.exists() or not folder.exists():  # not committed: the project file names the old files
            if folder.exists():
                folder.rename(folder.with_name(f".{folder.name}.saving-{token}"))
                shutil.rmtree(folder.with_name(f".{folder.name}.saving-{token}"), ignore_errors=True)
            old.rename(folder)
            pending.unlink(missing_ok=True)
        else:  # committed: these are the files the last project wrote (checked before that save)
            shutil.rmtree(old, ignore_errors=True)
    now = time.time()
    for leftover in [*path.parent.glob(f".{folder.name}.saving-*"), *path.parent.glob(f".{path.name}.*.tmp")]:
        try:
            if now - leftover.lstat().st_mtime > STALE_SECONDS and not leftover.is_symlink():
                shutil.rmtree(leftover) if leftover.is_dir() else leftover.unlink()
        except OSError:
            continue


def _own_files(path: Path, folder: Path) -> set[str]:
    """The names of the files in ``folder`` that the project already at ``path`` wrote.

    Saving replaces the folder beside the project, and may only replace what this program
    wrote there. Refused with FileExistsError, nothing touched: an existing ``path`` that
    is not a ca2sis project; a ``folder`` that the project at ``path`` does not name (an
    unrelated folder of the user's); one that holds anything the project did not write.
    """
    content = None
    if path.exists():
        try:
            content = _read_json(path)
        except (OSError, ValueError):  # UnicodeDecodeError and JSONDecodeError are ValueErrors
            content = None
        if not isinstance(content, dict) or content.get("format") != PROJECT_FORMAT:
            raise FileExistsError(f"{path} exists and is not a ca2sis project: choose another name")
    if not folder.exists() and not folder.is_symlink():
        return set()
    if content is None or content.get("files") != folder.name or folder.is_symlink() or not folder.is_dir():
        raise FileExistsError(f"{folder} exists and is not the files folder of project {path.name}: choose "
                              "another name (saving would replace that folder)")
    try:
        named = {content["mask"], content.get("ghost")}
        if isinstance(content.get("photo_face"), dict):
            named.add(content["photo_face"].get("photo"))
        for entry in dict(content["faces"]).values():
            named |= {entry["image"], entry["mask"]}
    except (KeyError, TypeError, ValueError, AttributeError):
        named = set()
    others = sorted(entry.name for entry in folder.iterdir() if entry.name not in named or not entry.is_file())
    if others:
        raise FileExistsError(f"{folder} holds files this project did not write ({', '.join(others[:3])}): "
                              "move them, or save under another name")
    return {entry.name for entry in folder.iterdir()}


def _write_project(
    document: Document, path: Path, folder: Path, staging: Path, old_files: set[str], token: str
) -> Path:

    faces: dict[str, dict[str, str]] = {}

    def keep(face: Face) -> str:
        key = face.key
        if key not in faces:
            save_png(face.image, staging / f"{key}.png")
            save_png(mask_image(face.mask), staging / f"{key}_mask.png")
            faces[key] = {"name": face.name, "source": face.source, "image": f"{key}.png", "mask": f"{key}_mask.png"}
        return key

    save_png(mask_image(document.mask), staging / "mask.png")
    if document.ghost is not None:
        save_png(document.ghost, staging / "ghost.png")
    photo_face = None
    if document.photo_face is not None and document.photo_face.photo is not None:
        photo = document.photo_face.photo
        save_image(photo.pixels, staging / "photo.png", icc_profile=photo.icc_profile)
        photo_face = {"face": keep(document.photo_face), "photo": "photo.png", "name": photo.name,
                      "matrix": photo.matrix.tolist(), "aligned_size": photo.aligned_size}
    content: dict[str, Any] = {
        "format": PROJECT_FORMAT,
        "version": PROJECT_VERSION,
        "files": folder.name,
        "mask": "mask.png",
        "ghost": "ghost.png" if document.ghost is not None else None,
        "base": keep(document.base),
        "part_styles": {CLASS_NAMES[part]: {"face": keep(style.face), "strength": style.strength}
                        for part, style in sorted(document.part_styles.items())},
        "random_parts": {CLASS_NAMES[part]: {"seed": style.seed, "strength": style.strength}
                         for part, style in sorted(document.random_parts.items())},
        "shape_source": keep(document.shape_source) if document.shape_source is not None else None,
        "shape_alphas": {CLASS_NAMES[part]: alpha for part, alpha in sorted(document.shape_alphas.items())},
        "photo_face": photo_face,
        "render_options": {"global_edit": document.render_options.global_edit,
                           "paste_region": document.render_options.paste_region},
        "result_view": document.result_view,
        "faces": faces,
    }
    tmp = path.with_name(f".{path.name}.{token}.tmp")
    # Swap the new files in, then the JSON that names them (the commit: see recover_interrupted_save).
    old = folder.with_name(f".{folder.name}.old-{token}")
    moved_old = moved_new = False
    try:
        with open(tmp, "x") as file:
            file.write(json.dumps(content, indent=2) + "\n")
        if folder.exists():
            folder.rename(old)
            moved_old = True
        staging.rename(folder)
        moved_new = True
        os.replace(tmp, path)
    except OSError as error:
        # Put the last project's files back; a step that fails here too is finished by the next open.
        try:
            if moved_new:
                folder.rename(staging)
            if moved_old:
                old.rename(folder)
        except OSError:
            pass
        else:
            tmp.unlink(missing_ok=True)
        raise named_os_error(error, path) from error
    if old.exists():  # the last project's files: only what it wrote (checked by _own_files)
        for entry in old.iterdir():
            if entry.name in old_files and entry.is_file():
                entry.unlink()
        try:
            old.rmdir()
        except OSError:  # something appeared there meanwhile: keep it rather than delete it
            pass
    return path


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


def _project_folder(path: Path, name: Any) -> Path:
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


class _ProjectReader:
    """Reads a project's faces as they are referred to: a face nothing refers to is never decoded,
    and a PNG that several faces name is decoded once."""

    def __init__(self, path: Path, folder: Path, entries: dict):
        self.path, self.folder, self.entries = path, folder, entries
        self._arrays: dict[tuple[str, str], np.ndarray] = {}
        self._faces: dict[str, Face] = {}

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
        profile: list[bytes | None] = [None]

        def convert(image: Image.Image) -> np.ndarray:
            profile[0] = image.info.get("icc_profile") or None
            return np.array(image.convert("RGB"), dtype=np.uint8)

        pixels = decode_file(file, convert)
        photo = SourcePhoto(pixels, matrix, aligned_size, name or file.name, profile[0])
        return Face(cut.name, cut.image, cut.mask, cut.source, photo)


def load_project(path: str | Path) -> Document:
    """Read a project written by ``save_project``; a DataError says what is wrong.

    Slow for a project of a large photo (it decodes the photo): run it off the GUI thread."""
    path = Path(path)
    try:
        recover_interrupted_save(path)
        if path.stat().st_size > MAX_PROJECT_BYTES:
            raise DataError(f"{path}: {path.stat().st_size} bytes is too large for a ca2sis project file "
                            f"(at most {MAX_PROJECT_BYTES}; its pictures are in its files folder)")
        content = _read_json(path)
    except FileNotFoundError:
        raise DataError(f"{path}: no such project file") from None
    except (OSError, ValueError) as error:  # UnicodeDecodeError and JSONDecodeError are ValueErrors
        raise DataError(f"{path}: not a readable ca2sis project ({error})") from None
    if not isinstance(content, dict) or content.get("format") != PROJECT_FORMAT:
        raise DataError(f"{path}: not a ca2sis project file")
    if content.get("version") != PROJECT_VERSION:
        raise DataError(f"{path}: project version {content.get('version')!r:.40} is not supported (this is "
                        "version 1)")
    try:
        folder = _project_folder(path, content["files"])
        reader = _ProjectReader(path, folder, _table(content["faces"], "faces", path, MAX_FACES))
        face = reader.face
        mask = reader.png(content["mask"], "mask").copy()  # painted in place: never an array a face shares
        ghost = reader.png(content["ghost"], "face") if content.get("ghost") else None
        part_styles = {
            _part(name, path): PartStyle(face(entry["face"]), _unit(entry["strength"], f"{name} strength", path))
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
        photo_face = reader.photo_face(content.get("photo_face"))
        base = face(content["base"])
        if photo_face is not None and base.key == photo_face.key:
            base = photo_face  # the same face, with its photo
        return Document(mask=mask, base=base, ghost=ghost, part_styles=part_styles,
                        random_parts=random_parts, shape_source=shape_source, shape_alphas=shape_alphas,
                        photo_face=photo_face, **_render_view(content, photo_face, path))
    except DataError:  # said already, with what is wrong
        raise
    except (KeyError, TypeError, ValueError, AttributeError, ArithmeticError) as error:
        problem = f"{type(error).__name__}: {error}"[:200]
        raise DataError(f"{path}: the project file is incomplete or malformed ({problem})") from None


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
