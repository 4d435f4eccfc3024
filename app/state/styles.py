"""Part styles kept as files, in the studio: saving a part row's style, the styles library (a
folder of ``.ca2style`` files shown with their thumbnails) and using one on a part.

The file format is ``model/io/styles.py``; a style is made from a face by
``model/photo/styles.py``. Nothing here needs Qt: the window's *Save style as…*, the library
panel and drops on a part row call these.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path

from ca2sis.model.errors import CA2SISError, DataError
from ca2sis.model.inference.edits import Reference
from ca2sis.model.inference.engine import Engine
from ca2sis.model.io.styles import STYLE_SUFFIX, SavedStyle, read_style, save_style
from ca2sis.model.photo.styles import part_style

from .document import Studio, part_name


def default_library_folder() -> Path:
    """Where the studio keeps saved styles: $CA2SIS_STYLES, else the user's data folder."""
    override = os.environ.get("CA2SIS_STYLES")
    if override:
        return Path(override)
    if sys.platform == "win32":
        base = Path(os.environ.get("APPDATA") or Path.home() / "AppData" / "Roaming")
    elif sys.platform == "darwin":
        base = Path.home() / "Library" / "Application Support"
    else:
        base = Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")
    return base / "ca2sis" / "styles"


def style_source(studio: Studio, part: int) -> Reference | SavedStyle:
    """What *Save style as…* on a part's row saves: the style the part shows at full strength
    (a style from a file as it is, else the style of the face the part takes it from)."""
    if part in studio.document.random_parts:
        raise DataError(f"{part_name(part)} has a random style from the mapping network, not a face's: drop a face "
                        "on it to save a style")
    current = studio.document.part_styles.get(part)
    if current is not None and current.saved is not None:
        return current.saved
    face = studio.style_face(part)
    if face is None or not face.has_part(part):
        name = "the base face" if face is None else face.name
        raise DataError(f"{name} has no {part_name(part).lower()}, so it has no such style to save")
    return face.reference()


def make_part_style(engine: Engine, studio: Studio, part: int) -> SavedStyle:
    """The saved style of ``part`` as the studio shows it (runs E_s: call it off the GUI thread)."""
    source = style_source(studio, part)
    if isinstance(source, SavedStyle):
        return source
    return part_style(engine, source, part, source=studio.style_face(part).name)


def suggested_name(studio: Studio, part: int) -> str:
    """A file name for a part's style, e.g. "anna-hair.ca2style"."""
    face = studio.style_face(part)
    stem = face.name if face is not None else "random"
    return f"{stem}-{part_name(part).lower().replace(' ', '-')}{STYLE_SUFFIX}"


def use_saved_style(studio: Studio, engine: Engine, part: int, style: SavedStyle) -> None:
    """``part`` takes ``style`` (dropped on its row), after checking that these weights made it
    (a DataError naming both weights otherwise, before the document changes)."""
    engine.check_saved_style(style)
    studio.set_saved_style(part, style)


@dataclass(frozen=True)
class LibraryEntry:
    """A file of the styles library: its style, or why it cannot be used (``problem``)."""

    path: Path
    style: SavedStyle | None
    problem: str = ""

    @property
    def name(self) -> str:
        return self.path.name[: -len(STYLE_SUFFIX)] if self.path.name.lower().endswith(STYLE_SUFFIX) else self.path.stem


class StyleLibrary:
    """A folder of saved styles. Its files are read as they are listed (a few KiB each); a file
    that is not a usable style is listed with the reason, never loaded."""

    def __init__(self, folder: str | Path | None = None):
        self.folder = Path(folder) if folder is not None else default_library_folder()

    def entries(self) -> list[LibraryEntry]:
        """Every ``.ca2style`` file of the folder, by name (none when the folder does not exist)."""
        try:
            paths = sorted(path for path in self.folder.iterdir()
                           if path.name.lower().endswith(STYLE_SUFFIX) and path.is_file())
        except OSError:
            return []
        entries = []
        for path in paths:
            try:
                entries.append(LibraryEntry(path, read_style(path)))
            except (CA2SISError, OSError) as error:
                entries.append(LibraryEntry(path, None, str(error)))
        return entries

    def save(self, style: SavedStyle, path: str | Path) -> Path:
        """Write ``style`` to ``path`` (any folder; the library's when it is a bare name)."""
        path = Path(path)
        if not path.name.lower().endswith(STYLE_SUFFIX):
            path = path.with_name(path.name + STYLE_SUFFIX)
        if path.parent == Path("."):
            path = self.folder / path
        return save_style(style, path)


__all__ = ["LibraryEntry", "StyleLibrary", "default_library_folder", "make_part_style", "style_source",
           "suggested_name", "use_saved_style"]
