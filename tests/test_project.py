"""Project files (`app/state/project.py`, `app/state/project_reader.py`): saved and reopened
exactly, never replacing what the program did not write, recovering from a save cut short, and
refusing crafted files with a clear `DataError` (bounded numbers and counts, faces decoded only
when referred to, no links out of the project's folder)."""

from __future__ import annotations

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

from conftest import folder_digests as digests
from conftest import folder_listing


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


# ---- a group photo: every face of the photo kept (issue 38) ---------------------------------
def two_face_group():
    """Two fixture faces side by side in one 512 x 256 photo, as the finder would give them (no
    face reader needed): each face cut out at twice the photo's scale."""
    from ca2sis.app.state.group_photo import GroupPhoto
    from ca2sis.model.faces.group import FaceInPhoto

    from conftest import FACE_DATA

    stems = [path.stem for path in sorted((FACE_DATA / "images").glob("*.jpg"))[0:5:4]]
    images = [np.array(Image.open(FACE_DATA / "images" / f"{stem}.jpg").convert("RGB")) for stem in stems]
    pixels = np.ascontiguousarray(np.concatenate(images, axis=1))
    faces, found = [], []
    for index, stem in enumerate(stems):
        photo = SourcePhoto(pixels, np.array([[2.0, 0.0, -512.0 * index], [0.0, 2.0, 0.0]]), 512, "two.png")
        faces.append(Face.load(images[index], FACE_DATA / "masks" / f"{stem}.png", f"two (face {index + 1})",
                               "two.png", photo))
        found.append(FaceInPhoto(index + 1, (256 * index + 40, 40, 256 * index + 216, 216),
                                 (256 * index + 128.0, 128.0), 256.0, False))
    return GroupPhoto(pixels, faces, found, current=0)


def edited_group():
    """Face 1 with new hair (seed 3), face 2 with new hair (seed 5) and its nose reshaped; face 2 edited last."""
    from ca2sis.model.labels import CLASS_NAMES

    group = two_face_group()
    studio = Studio(group.faces[0])
    studio.set_random_style(CLASS_NAMES.index("hair"), 3)
    group.select(studio, 1)
    studio.set_random_style(CLASS_NAMES.index("hair"), 5)
    studio.set_shape_source(group.faces[0])
    studio.set_shape_alpha(CLASS_NAMES.index("nose"), 0.5)
    return group, studio


def reopen(path: Path):
    """What the studio does on Open project: the document taken up, the group photo around it."""
    from ca2sis.app.state.group_photo import GroupPhoto
    from ca2sis.app.state.project import load_project_faces

    document, faces = load_project_faces(path)
    assert faces is not None
    studio = Studio(document.photo_face)
    studio.replace_document(document, "Open project")
    return GroupPhoto.from_project(document, faces), studio


def test_a_group_photo_project_reopens_with_every_faces_edits(tmp_path):
    from ca2sis.model.labels import CLASS_NAMES

    hair, nose = CLASS_NAMES.index("hair"), CLASS_NAMES.index("nose")
    group, studio = edited_group()
    path = save_project(studio.document, tmp_path / "two", group.project_faces(studio))
    content = json.loads(path.read_text())
    assert content["version"] == 2 and len(content["photo_faces"]["faces"]) == 2
    assert (path.parent / "two_files" / "face1-mask.png").is_file()  # face 1's own mask; face 2's is mask.png

    opened, reopened = reopen(path)
    assert opened.current == 1 and opened.numbers == [1, 2] and np.array_equal(opened.pixels, group.pixels)
    assert reopened.document.random_parts[hair].seed == 5 and reopened.document.shape_alphas[nose] == 0.5
    assert reopened.document.photo_face is opened.faces[1]
    opened.select(reopened, 0)  # face 1: its edit is back
    assert reopened.document.random_parts[hair].seed == 3 and reopened.document.photo_face is opened.faces[0]
    assert reopened.document.shape_alphas == {}
    # Both faces' edits are what Save result writes, the photo decoded once for both.
    assert [index for index, _, _ in opened.save_jobs(reopened)] == [0, 1]
    assert opened.faces[0].photo.pixels is opened.faces[1].photo.pixels
    # Saved again from there (face 1 being edited now) and reopened: the same two edits.
    save_project(reopened.document, path, opened.project_faces(reopened))
    again, studio_again = reopen(path)
    assert again.current == 0 and studio_again.document.random_parts[hair].seed == 3
    again.select(studio_again, 1)
    assert studio_again.document.random_parts[hair].seed == 5 and studio_again.document.shape_alphas[nose] == 0.5
    # A project of one face is written as before (version 1) and an old one still loads.
    single = save_project(studio.document, tmp_path / "one")
    assert json.loads(single.read_text())["version"] == 1 and "photo_faces" not in json.loads(single.read_text())
    assert load_project(single).random_parts[hair].seed == 5


@pytest.mark.parametrize(("change", "message"), [
    (lambda faces: faces.update(current=7), "current face 7 is not one of its 2 faces"),
    (lambda faces: faces.update(faces=faces["faces"] * 20), "lists 40 faces"),
    (lambda faces: faces["faces"][1]["found"].update(box=[0, 0, 10**400, 5]), "not a whole number"),
    (lambda faces: faces["faces"][1]["found"].update(side=float("nan")), "not a number"),
    (lambda faces: faces["faces"][0]["photo_face"].update(matrix=[[1e300, 0, 0], [0, 1, 0]]), "alignment"),
    (lambda faces: faces["faces"][0]["document"]["part_styles"].update(hiar={}), "unknown part 'hiar'"),
    (lambda faces: faces["faces"][0]["photo_face"].update(photo="../../etc/passwd"), "missing"),
], ids=["current", "count", "box", "side", "matrix", "part", "link"])
def test_a_crafted_group_photo_project_is_a_data_error(tmp_path, change, message):
    group, studio = edited_group()
    path = save_project(studio.document, tmp_path / "two", group.project_faces(studio))
    rewrite(path, lambda content: change(content["photo_faces"]))
    with pytest.raises(DataError, match=message):
        load_project(path)


@pytest.mark.slow
def test_a_reopened_group_photo_project_renders_both_faces(tiny_weights, tmp_path):
    from ca2sis.model.photo.pipeline import PhotoPipeline

    group, studio = edited_group()
    path = save_project(studio.document, tmp_path / "two", group.project_faces(studio))
    opened, reopened = reopen(path)
    pipeline = PhotoPipeline(Engine.from_pretrained(tiny_weights, backend="torch"))
    composed = opened.compose(pipeline, opened.save_jobs(reopened))  # Save result after reopening
    changed = np.any(composed != opened.pixels, axis=-1)
    assert changed[:, :240].any() and changed[:, 272:].any()  # both faces' edits are in the photo
    assert np.array_equal(composed, group.compose(pipeline, group.save_jobs(studio)))  # as before saving
