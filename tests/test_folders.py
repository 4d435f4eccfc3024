"""Where *Save result* and the other file dialogs start (``app/state/folders.py``): beside the
photo being edited, as ``<photo>-edited.<ext>``, and in the last folder used."""

from __future__ import annotations

import numpy as np

from ca2sis.app.state.document import Face, Studio
from ca2sis.app.state.folders import RecentFolders, result_file
from ca2sis.app.state.gallery import gallery_entries
from ca2sis.model.photo.source import SourcePhoto


def studio_of_photo(path) -> Studio:
    face = gallery_entries()[0].load()
    pixels = np.zeros((300, 420, 3), dtype=np.uint8)
    matrix = np.array([[512 / 200, 0.0, -100 * 512 / 200], [0.0, 512 / 200, -50 * 512 / 200]])
    photo = SourcePhoto(pixels, matrix, 512, path.name)
    return Studio(Face(face.name, face.image, face.mask, str(path), photo))


def test_a_result_is_proposed_beside_its_photo_with_the_photos_extension(tmp_path):
    (tmp_path / "trip").mkdir()
    recent = RecentFolders()
    assert result_file(studio_of_photo(tmp_path / "trip" / "beach.JPG").document, recent) == (
        tmp_path / "trip" / "beach-edited.JPG")
    assert result_file(studio_of_photo(tmp_path / "trip" / "dune.png").document, recent).name == "dune-edited.png"
    # A format the result is not written in is proposed as PNG (what the writer makes of it).
    assert result_file(studio_of_photo(tmp_path / "trip" / "sea.webp").document, recent).name == "sea-edited.png"


def test_the_last_folder_used_is_remembered(tmp_path):
    for name in ("trip", "edits", "faces"):
        (tmp_path / name).mkdir()
    beach = studio_of_photo(tmp_path / "trip" / "beach.jpg").document
    recent = RecentFolders()
    recent.used("result", tmp_path / "edits" / "mine.jpg", str(tmp_path / "trip" / "beach.jpg"))
    assert result_file(beach, recent) == tmp_path / "edits" / "beach-edited.jpg"  # this photo went there
    other = studio_of_photo(tmp_path / "trip" / "dune.jpg").document
    assert result_file(other, recent) == tmp_path / "trip" / "dune-edited.jpg"  # another photo: beside it
    face = Studio(gallery_entries()[0].load()).document  # no photo: the last result folder
    assert result_file(face, recent) == tmp_path / "edits" / "result.png"
    assert RecentFolders().folder("result") == RecentFolders().folder("photo")  # nothing used yet: one default
    recent.used("photo", tmp_path / "faces" / "a.jpg")
    assert recent.folder("photo") == tmp_path / "faces"
    (tmp_path / "faces").rmdir()  # a folder that is gone is not proposed
    assert recent.folder("photo") != tmp_path / "faces"
    # A project whose photo has moved away: the last result folder.
    gone = studio_of_photo(tmp_path / "moved" / "old.jpg").document
    assert result_file(gone, recent) == tmp_path / "edits" / "old-edited.jpg"
