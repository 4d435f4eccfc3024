"""Project files: a JSON document plus the PNG files it names, restoring a session exactly.

    portrait.ca2sis.json          the document: styles, strengths, sliders, file names
    portrait_files/mask.png       the painted mask (palette PNG, class index per pixel)
    portrait_files/ghost.png      the photo under the mask, when there is one
    portrait_files/<key>.png      each face a style or shape comes from
    portrait_files/<key>_mask.png and its mask
    portrait_files/photo.png      the whole photo a face was cut out of, when editing inside
                                  it (with its ICC profile; the alignment is in the JSON)
    portrait_files/face<N>-mask.png   a group photo (several faces): the painted mask of face N
    portrait_files/face<N>-ghost.png  when it has edits and is not the face being edited

A project of a group photo (version 2) also lists every face of the photo under
``photo_faces``: each one's place in the photo (number, box), its cut-out face and alignment
and, for a face with edits other than the one being edited, its document (the same fields as
the project's own). A project of one face is written as version 1, as before.

PNG is lossless, so every array comes back bit for bit. The files are written to a
temporary folder first and swapped in at the end: a failed save leaves the last good
project as it was. Loading checks every name, class and value (``project_reader``: every
number and count bounded, only the faces referred to decoded) and raises ``DataError`` with
what is wrong; nothing of the current session changes until a project has loaded.
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

from ca2sis.model.errors import DataError
from ca2sis.model.io.atomic import STALE_SECONDS, check_replaceable, named_os_error
from ca2sis.model.io.cache import content_digest
from ca2sis.model.io.images import mask_image, save_png
from ca2sis.model.io.styles import STYLE_SUFFIX, SavedStyle, style_bytes
from ca2sis.model.labels import CLASS_NAMES
from ca2sis.model.photo.source import save_image

from .document import Document, Face
from .project_reader import MAX_PROJECT_BYTES, PhotoFaces, read_project

PROJECT_FORMAT = "ca2sis-project"
PROJECT_VERSION = 2  # 2: a group photo's faces (photo_faces); a project of one face is still written as 1
READ_VERSIONS = (1, 2)
PROJECT_SUFFIX = ".ca2sis.json"
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


def save_project(document: Document, path: str | Path, photo_faces: PhotoFaces | None = None) -> Path:
    """Write ``document`` as a project; returns the JSON file's path (``project_file``). With
    ``photo_faces`` (a group photo: ``GroupPhoto.project_faces``) every face of the photo and the
    documents of those with edits are kept too. Slow for a project of a large photo (it is
    written whole, as PNG): run it off the GUI thread."""
    path = project_file(path)
    check_replaceable(path)  # a FIFO or a device at the project's name is refused, never replaced
    folder = files_folder(path)
    recover_interrupted_save(path)
    old_files = _own_files(path, folder)
    # Temporary names of our own: a folder or file of the user's is never reused or removed.
    token = secrets.token_hex(6)
    staging = folder.with_name(f".{folder.name}.saving-{token}")
    staging.mkdir(parents=True)
    try:
        return _write_project(document, photo_faces, path, folder, staging, old_files, token)
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
        documents = [content]
        for entry in (content.get("photo_faces") or {}).get("faces", []):  # a group photo's faces
            if isinstance(entry.get("photo_face"), dict):
                named.add(entry["photo_face"].get("photo"))
            if isinstance(entry.get("document"), dict):
                documents.append(entry["document"])
        for document in documents:
            named |= {document["mask"], document.get("ghost")}
            named |= {entry.get("style") for entry in dict(document["part_styles"]).values()}  # saved styles
    except (KeyError, TypeError, ValueError, AttributeError):
        named = set()
    others = sorted(entry.name for entry in folder.iterdir() if entry.name not in named or not entry.is_file())
    if others:
        raise FileExistsError(f"{folder} holds files this project did not write ({', '.join(others[:3])}): "
                              "move them, or save under another name")
    return {entry.name for entry in folder.iterdir()}


def _write_project(document: Document, photo_faces: PhotoFaces | None, path: Path, folder: Path, staging: Path,
                   old_files: set[str], token: str) -> Path:

    faces: dict[str, dict[str, str]] = {}

    def keep(face: Face) -> str:
        key = face.key
        if key not in faces:
            save_png(face.image, staging / f"{key}.png")
            save_png(mask_image(face.mask), staging / f"{key}_mask.png")
            faces[key] = {"name": face.name, "source": face.source, "image": f"{key}.png", "mask": f"{key}_mask.png"}
        return key

    def keep_style(style: SavedStyle) -> str:  # a part style saved as a file, kept whole
        data = style_bytes(style)
        name = f"{content_digest(data)[:16]}{STYLE_SUFFIX}"
        (staging / name).write_bytes(data)
        return name

    def keep_photo_face(face: Face | None) -> dict | None:  # the photo is written once for all its faces
        if face is None or face.photo is None:
            return None
        photo = face.photo
        if not (staging / "photo.png").exists():
            save_image(photo.pixels, staging / "photo.png", icc_profile=photo.icc_profile)
        return {"face": keep(face), "photo": "photo.png", "name": photo.name, "matrix": photo.matrix.tolist(),
                "aligned_size": photo.aligned_size}

    def document_content(document: Document, prefix: str) -> dict[str, Any]:
        save_png(mask_image(document.mask), staging / f"{prefix}mask.png")
        if document.ghost is not None:
            save_png(document.ghost, staging / f"{prefix}ghost.png")
        return {
            "mask": f"{prefix}mask.png",
            "ghost": f"{prefix}ghost.png" if document.ghost is not None else None,
            "base": keep(document.base),
            "part_styles": {CLASS_NAMES[part]: {"face": keep(style.face), "strength": style.strength,
                                                **({} if style.saved is None else {"style": keep_style(style.saved)})}
                            for part, style in sorted(document.part_styles.items())},
            "random_parts": {CLASS_NAMES[part]: {"seed": style.seed, "strength": style.strength}
                             for part, style in sorted(document.random_parts.items())},
            "shape_source": keep(document.shape_source) if document.shape_source is not None else None,
            "shape_alphas": {CLASS_NAMES[part]: alpha for part, alpha in sorted(document.shape_alphas.items())},
            "render_options": {"global_edit": document.render_options.global_edit,
                               "paste_region": document.render_options.paste_region},
            "result_view": document.result_view,
        }

    content: dict[str, Any] = {
        "format": PROJECT_FORMAT,
        "version": 1 if photo_faces is None else PROJECT_VERSION,
        "files": folder.name,
        **document_content(document, ""),
        "photo_face": keep_photo_face(document.photo_face),
    }
    if photo_faces is not None:
        content["photo_faces"] = {"current": photo_faces.current, "faces": [
            {"found": {"number": found.number, "box": [int(value) for value in found.box],
                       "centre": [float(value) for value in found.centre], "side": float(found.side),
                       "cut_by_frame": bool(found.cut_by_frame), "overlaps": [int(value) for value in found.overlaps]},
             "photo_face": keep_photo_face(face) if index != photo_faces.current else content["photo_face"],
             "document": (document_content(photo_faces.documents[index], f"face{index + 1}-")
                          if index in photo_faces.documents and index != photo_faces.current else None)}
            for index, (found, face) in enumerate(zip(photo_faces.found, photo_faces.faces))]}
    content["faces"] = faces
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


def load_project(path: str | Path) -> Document:
    """Read a project written by ``save_project``; a DataError says what is wrong.

    Slow for a project of a large photo (it decodes the photo): run it off the GUI thread."""
    return load_project_faces(path)[0]


def load_project_faces(path: str | Path) -> tuple[Document, PhotoFaces | None]:
    """Read a project written by ``save_project``: its document and, for a group photo, every
    face of the photo (``GroupPhoto.from_project`` takes them up). Off the GUI thread, as
    ``load_project``."""
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
    if content.get("version") not in READ_VERSIONS or isinstance(content.get("version"), bool):
        raise DataError(f"{path}: project version {content.get('version')!r:.40} is not supported (this ca2sis "
                        f"reads versions {', '.join(map(str, READ_VERSIONS))})")
    return read_project(path, content)
