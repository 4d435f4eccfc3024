"""Project files (`app/state/project.py`, `app/state/project_reader.py`): saved and reopened
exactly, never replacing what the program did not write, recovering from a save cut short, and
refusing crafted files with a clear `DataError` (bounded numbers and counts, faces decoded only
when referred to, no links out of the project's folder)."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import stat
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from ca2sis.app.state import project, project_reader
from ca2sis.app.state.document import Document, Face, Studio
from ca2sis.app.state.gallery import gallery_entries
from ca2sis.app.state.project import load_project, save_project
from ca2sis.app.state.project_reader import MAX_FACES
from ca2sis.model.errors import DataError
from ca2sis.model.inference.engine import Engine
from ca2sis.model.io.atomic import STALE_SECONDS
from ca2sis.model.photo.source import SourcePhoto


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def digests(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): digest(p) for p in sorted(folder.rglob("*")) if p.is_file()}


def folder_listing(folder: Path) -> list[str]:
    return sorted(str(path.relative_to(folder)) for path in folder.rglob("*"))


@pytest.fixture(scope="module")
def document():
    return Studio(gallery_entries()[0].load()).document


@pytest.fixture
def two_documents():
    entries = gallery_entries()
    return Studio(entries[0].load()).document, Studio(entries[1].load()).document


@pytest.fixture(scope="module")
def photo_document():
    """A face cut out of a small photo (the photo is kept whole in the project)."""
    face = gallery_entries()[0].load()
    pixels = np.random.default_rng(0).integers(0, 255, (300, 400, 3), dtype=np.uint8)
    photo = SourcePhoto(pixels, np.array([[2.0, 0.0, -100.0], [0.0, 2.0, -50.0]]), 512, "holiday.jpg")
    return Studio(Face(face.name, face.image, face.mask, face.source, photo)).document


def rewrite(path: Path, change) -> None:
    content = json.loads(path.read_text())
    change(content)
    path.write_text(json.dumps(content))


# ---- where a project goes -------------------------------------------------------------------------------------
def test_a_project_saved_to_a_folder_goes_inside_that_folder(document, tmp_path):
    # `proj/` names a folder: the project is written in it, not beside it as proj.ca2sis.json.
    written = save_project(document, f"{tmp_path / 'proj'}{os.sep}")
    assert written == tmp_path / "proj" / "proj.ca2sis.json" and written.is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["proj"]
    assert np.array_equal(load_project(written).mask, document.mask)
    # An existing folder given without the separator is a folder too.
    (tmp_path / "album").mkdir()
    assert save_project(document, tmp_path / "album") == tmp_path / "album" / "album.ca2sis.json"
    assert not (tmp_path / "album.ca2sis.json").exists()


# ---- saving never deletes what the program did not write ------------------------------------------------------
def test_saving_a_project_keeps_an_unrelated_files_folder(document, tmp_path):
    unrelated = tmp_path / "d" / "vacation_files"
    unrelated.mkdir(parents=True)
    (unrelated / "beach.jpg").write_bytes(b"a photo of the user's")
    with pytest.raises(FileExistsError, match="vacation_files"):
        save_project(document, tmp_path / "d" / "vacation")
    assert (unrelated / "beach.jpg").read_bytes() == b"a photo of the user's"
    assert folder_listing(tmp_path / "d") == ["vacation_files", "vacation_files/beach.jpg"]


def test_saving_over_a_project_replaces_only_its_own_files(document, tmp_path):
    path = save_project(document, tmp_path / "portrait")
    save_project(document, path)  # saving again over our own project is fine
    assert load_project(path).mask.shape == document.mask.shape
    assert folder_listing(tmp_path) == sorted(["portrait.ca2sis.json", "portrait_files",
                                               *(f"portrait_files/{p.name}" for p in (tmp_path / "portrait_files")
                                                 .iterdir())])  # no temporary left behind
    notes = tmp_path / "portrait_files" / "notes.txt"
    notes.write_text("mine")
    with pytest.raises(FileExistsError, match="notes.txt"):
        save_project(document, path)
    assert notes.read_text() == "mine"
    other = tmp_path / "other.ca2sis.json"
    other.write_text("not a project, but the user's")
    with pytest.raises(FileExistsError, match="not a ca2sis project"):
        save_project(document, other)
    assert other.read_text() == "not a project, but the user's"


# ---- a save that fails, is killed or fills the disk -----------------------------------------------------------
def test_a_save_failing_at_its_final_rename_keeps_the_previous_project(two_documents, tmp_path, monkeypatch):
    first, second = two_documents
    path = save_project(first, tmp_path / "p")
    before = digests(tmp_path)
    real_replace = os.replace

    def failing_replace(source, target):
        if Path(target) == path:
            raise OSError(5, "Input/output error")
        return real_replace(source, target)

    monkeypatch.setattr(project.os, "replace", failing_replace)
    with pytest.raises(OSError, match=str(path.name)):
        save_project(second, path)
    monkeypatch.undo()
    assert digests(tmp_path) == before and sorted(p.name for p in tmp_path.iterdir()) == ["p.ca2sis.json", "p_files"]
    assert np.array_equal(load_project(path).mask, first.mask)
    save_project(second, path)
    assert np.array_equal(load_project(path).mask, second.mask)


class Killed(BaseException):
    """Stands for SIGKILL: nothing after it runs, no except or finally of the save's own."""


def test_a_save_killed_at_its_final_rename_is_recovered_on_the_next_open(two_documents, tmp_path, monkeypatch):
    first, second = two_documents
    path = save_project(first, tmp_path / "p")
    real_replace = os.replace

    def killed_replace(source, target):
        if Path(target) == path:
            raise Killed
        return real_replace(source, target)

    monkeypatch.setattr(project.os, "replace", killed_replace)
    monkeypatch.setattr(project.shutil, "rmtree", lambda *_, **__: None)  # a killed process cleans nothing
    with pytest.raises(Killed):
        save_project(second, path)
    monkeypatch.undo()
    assert any(p.name.startswith(".p_files.old-") for p in tmp_path.iterdir())
    assert np.array_equal(load_project(path).mask, first.mask)  # the old project, recovered
    save_project(second, path)  # and it saves again
    assert np.array_equal(load_project(path).mask, second.mask)
    # The killed save's staging folder is removed once it is stale.
    leftovers = [p for p in tmp_path.iterdir() if p.name.startswith(".")]
    for leftover in leftovers:
        os.utime(leftover, (time.time() - STALE_SECONDS - 60,) * 2)
    save_project(second, path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["p.ca2sis.json", "p_files"]


def test_a_disk_full_save_names_its_file_and_leaves_nothing(two_documents, tmp_path, monkeypatch):
    first, second = two_documents
    path = save_project(first, tmp_path / "p")
    before = digests(tmp_path)
    real_open = open

    def full_open(file, mode="r", *args, **kwargs):
        handle = real_open(file, mode, *args, **kwargs)
        if str(file).endswith(".tmp") and "x" in mode and "p.ca2sis.json" in str(file):
            handle.close()
            raise OSError(28, "No space left on device")
        return handle

    monkeypatch.setattr("builtins.open", full_open)
    with pytest.raises(OSError, match="No space left on device.*p.ca2sis.json"):
        project.save_project(second, path)
    monkeypatch.undo()
    assert digests(tmp_path) == before and sorted(p.name for p in tmp_path.iterdir()) == ["p.ca2sis.json", "p_files"]


# ---- values a project may hold --------------------------------------------------------------------------------
def test_a_project_with_a_negative_seed_renders(tiny_weights, document, tmp_path):
    path = save_project(document, tmp_path / "p")
    rewrite(path, lambda content: content.update(random_parts={"hair": {"seed": -5, "strength": 1.0}}))
    studio = Studio(gallery_entries()[0].load())
    studio.replace_document(load_project(path), "open")
    engine = Engine.from_pretrained(tiny_weights, device="cpu", backend="torch")
    assert engine.render(studio.edit()).image.shape == (64, 64, 3)
    for seed in (1.5, "7", True, 10**400):
        rewrite(path, lambda content, seed=seed: content.update(random_parts={"hair": {"seed": seed, "strength": 1}}))
        with pytest.raises(DataError, match="hair seed"):
            load_project(path)


@pytest.mark.parametrize("change", ["strength", "digits", "nesting"])
def test_odd_numbers_in_a_project_are_data_errors(two_documents, tmp_path, change):
    first, second = two_documents
    path = save_project(first, tmp_path / "p")
    text = path.read_text()
    content = json.loads(text)
    if change == "strength":
        content["random_parts"] = {"hair": {"seed": 1, "strength": 10**400}}
        text = json.dumps(content)
    elif change == "digits":
        text = text.replace('"version": 1', '"version": ' + "1" * 5000)
    else:
        text = text.replace('"faces": {', '"deep": ' + "[" * 100_000 + "]" * 100_000 + ', "faces": {')
    path.write_text(text)
    with pytest.raises(DataError):
        load_project(path)
    if change == "strength":  # a project of ours with a bad value: saving over it replaces it
        save_project(second, path)
        assert np.array_equal(load_project(path).mask, second.mask)
    else:
        with pytest.raises(FileExistsError):  # not JSON this program reads: refused, not a ValueError
            save_project(second, path)


@pytest.mark.parametrize("matrix, size, message", [
    ([[10**400, 0, 0], [0, 2.0, 0]], 512, "beyond"),  # an OverflowError traceback and an abort before
    ([[2.0, 0, 0], [0, 2.0, 0]], 10**400, "crop size"),  # loaded, then every render failed
    ([[2.0, 0, 0], [0, 2.0, 0]], 0, "crop size"),
    ([[1e-9, 0, 0], [0, 1e-9, 0]], 512, "scales the photo"),  # a singular alignment
    ([[2.0, 0], [0, 2.0]], 512, "2x3 matrix"),
    ([[2.0, 0, "x"], [0, 2.0, 0]], 512, "2x3 matrix"),
], ids=["huge-entry", "huge-size", "zero-size", "singular", "2x2", "text"])
def test_a_photo_alignment_out_of_bounds_is_a_data_error(photo_document, tmp_path, matrix, size, message):
    path = save_project(photo_document, tmp_path / "p")
    assert load_project(path).photo_face.photo.size == (400, 300)
    rewrite(path, lambda content: content["photo_face"].update(matrix=matrix, aligned_size=size))
    with pytest.raises(DataError, match=message):
        load_project(path)


def test_names_and_counts_are_bounded(document, tmp_path):
    path = save_project(document, tmp_path / "p")
    base = json.loads(path.read_text())["base"]
    # Thousands of faces (3,000 pointing at the same two PNGs took 33 s and 3.6 GB): refused at once.
    rewrite(path, lambda content: content["faces"].update(
        {f"k{index}": dict(content["faces"][base]) for index in range(3000)}))
    started = time.perf_counter()
    with pytest.raises(DataError, match=f"lists 3001 entries; a project has at most {MAX_FACES}"):
        load_project(path)
    assert time.perf_counter() - started < 2.0
    save_project(document, path)
    rewrite(path, lambda content: content["faces"][base].update(name="x" * 100_000))
    with pytest.raises(DataError, match="name must be a text"):
        load_project(path)
    save_project(document, path)
    with open(path, "a") as file:  # a project file far larger than any this program writes
        file.write(" " * (project_reader.MAX_PROJECT_BYTES + 1))
    with pytest.raises(DataError, match="too large"):
        load_project(path)


def test_only_the_faces_referred_to_are_decoded_and_each_png_once(document, tmp_path, monkeypatch):
    path = save_project(document, tmp_path / "p")
    base = json.loads(path.read_text())["base"]

    def many_faces(content):
        entry = content["faces"][base]
        # Faces nothing refers to, some of them naming files that are not there: never read.
        content["faces"].update({f"unused{index}": {**entry, "image": f"gone{index}.png"} for index in range(30)})
        # Faces that do style parts, all naming the base's two PNGs: those are decoded once.
        content["faces"].update({f"same{index}": dict(entry) for index in range(10)})
        content["part_styles"] = {name: {"face": f"same{index}", "strength": 0.5}
                                  for index, name in enumerate(["hair", "nose", "skin", "u_lip", "l_lip"])}

    rewrite(path, many_faces)
    decoded: list[str] = []
    real_decode = project_reader.decode_file
    monkeypatch.setattr(project_reader, "decode_file", lambda file, *args: decoded.append(Path(file).name)
                        or real_decode(file, *args))
    loaded = load_project(path)
    assert len(loaded.part_styles) == 5 and all(style.strength == 0.5 for style in loaded.part_styles.values())
    assert sorted(decoded) == sorted(["mask.png", "ghost.png", f"{base}.png", f"{base}_mask.png"])


def test_links_that_leave_the_project_folder_are_refused(photo_document, tmp_path):
    inside = tmp_path / "project"
    inside.mkdir()
    path = save_project(photo_document, inside / "p")
    assert load_project(path).photo_face is not None
    outside = tmp_path / "private.png"
    Image.fromarray(np.full((300, 400, 3), 7, np.uint8)).save(outside)
    photo = inside / "p_files" / "photo.png"
    photo.unlink()
    photo.symlink_to(outside)  # the next save would copy the private picture into the project
    with pytest.raises(DataError, match="photo.png is a link to .*outside the project's folder"):
        load_project(path)
    photo.unlink()
    shutil.copy(outside, photo)
    (inside / "p_files" / "alias.png").symlink_to("photo.png")  # a link inside the folder is fine
    json_content = json.loads(path.read_text())
    json_content["photo_face"]["photo"] = "alias.png"
    path.write_text(json.dumps(json_content))
    assert load_project(path).photo_face.photo.pixels[0, 0, 0] == 7
    # The files folder itself, a link to a folder elsewhere.
    elsewhere = tmp_path / "elsewhere"
    shutil.move(inside / "p_files", elsewhere)
    (inside / "p_files").symlink_to(elsewhere)
    with pytest.raises(DataError, match="files folder p_files is a link"):
        load_project(path)


def test_a_project_cannot_read_files_outside_its_folder(document, tmp_path):
    folder = tmp_path / "inner"
    folder.mkdir()
    path = save_project(document, folder / "p")
    shutil.copytree(folder / "p_files", tmp_path, dirs_exist_ok=True)  # the same PNGs one level up
    content = json.loads(path.read_text())
    for files in ("..", ".", "", "../p_files", "/tmp", 3):
        content["files"] = files
        path.write_text(json.dumps(content))
        with pytest.raises(DataError, match="files folder"):
            load_project(path)


def test_a_fifo_at_the_projects_name_is_refused_and_stays_a_fifo(tmp_path):
    fifo = tmp_path / "trip.ca2sis.json"
    os.mkfifo(fifo)
    with pytest.raises(DataError, match="not a regular file"):
        save_project(Document.__new__(Document), fifo)  # refused before the document is read
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)
