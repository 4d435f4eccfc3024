"""Several faces in one photo: every face found once, numbered left to right, listed with its
box, and edited alone (`--face N`) or in turn (`--face all`) without touching the others."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from ca2sis.model.cli import edit as cli_edit
from ca2sis.model.cli import parse as cli_parse
from ca2sis.model.errors import DataError
from ca2sis.model.faces.align import AlignedFace, FaceAligner, _distinct
from ca2sis.model.faces.group import chosen_faces, faces_in_photo, keep_to_territory

from conftest import FACE_DATA

FIXTURE_FACES = sorted((FACE_DATA / "images").glob("*.jpg"))


def two_face_photo(tmp_path, cut: int = 0):
    """Two fixture faces (256 px) side by side; ``cut`` columns taken off the right edge (a face cut by the frame)."""
    left, right = (np.array(Image.open(FIXTURE_FACES[index]).convert("RGB")) for index in (0, 4))
    pixels = np.ascontiguousarray(np.concatenate([left, right], axis=1)[:, : 512 - cut])
    path = tmp_path / "two.png"
    Image.fromarray(pixels).save(path)
    return pixels, path


@pytest.mark.slow
def test_both_faces_are_found_once_and_numbered_left_to_right(tmp_path, capsys):
    pixels, path = two_face_photo(tmp_path)
    faces = FaceAligner().find_faces(pixels)
    assert len(faces) == 2
    assert faces[0].box[2] <= 256 <= faces[1].box[0]  # face 1 is the left one
    # The listing a person reads and the JSON a script reads say the same.
    assert cli_parse.main([str(path), "--list-faces", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)["faces"]
    assert [face["face"] for face in listed] == [1, 2]
    assert [face["box"] for face in listed] == [[box[0], box[1], box[2] - box[0], box[3] - box[1]]
                                                for box in (face.box for face in faces)]
    assert all(face["editable"] and not face["cut_by_frame"] for face in listed)
    assert cli_parse.main([str(path), "--list-faces"]) == 0
    text = capsys.readouterr().out
    assert "2 faces" in text and "face 1: box" in text and "face 2: box" in text


def test_a_face_the_detector_reports_twice_is_kept_once():
    import dlib

    boxes = [dlib.rectangle(10, 10, 110, 110), dlib.rectangle(14, 12, 112, 108), dlib.rectangle(200, 10, 300, 110)]
    kept = _distinct(boxes)
    assert len(kept) == 2 and dlib.rectangle(200, 10, 300, 110) in kept


def _aligned(box: tuple[int, int, int, int], side: float, photo_size=(1000, 600)) -> AlignedFace:
    """A face whose crop is ``side`` photo pixels across, centred in ``box``."""
    scale = 256 / side
    centre = ((box[0] + box[2]) / 2, (box[1] + box[3]) / 2)
    matrix = np.array([[scale, 0, 128 - scale * centre[0]], [0, scale, 128 - scale * centre[1]]])
    landmarks = np.array([[box[0] + 5, box[1] + 5], [box[2] - 5, box[3] - 5]], float)
    return AlignedFace(np.zeros((256, 256, 3), np.uint8), matrix, photo_size, landmarks, box)


def test_an_overlapping_or_too_small_face_is_refused_with_its_number():
    faces = faces_in_photo([_aligned((100, 100, 300, 300), 400), _aligned((250, 120, 450, 320), 400),
                            _aligned((700, 100, 730, 130), 40)])
    assert faces[0].overlaps == (2,) and faces[1].overlaps == (1,) and not faces[2].overlaps
    with pytest.raises(DataError, match="face 2 cannot be edited alone: it overlaps face 1"):
        chosen_faces(faces, "2", "group.jpg")
    with pytest.raises(DataError, match="face 3 cannot be edited alone: it is too small"):
        chosen_faces(faces, "3", "group.jpg")
    with pytest.raises(DataError, match="--face 4, but 3 faces were found"):
        chosen_faces(faces, "4", "group.jpg")
    with pytest.raises(DataError, match="no face can be edited alone"):
        chosen_faces(faces, "all", "group.jpg")
    alone = faces_in_photo([_aligned((100, 100, 300, 300), 400), _aligned((600, 100, 800, 300), 400)])
    assert chosen_faces(alone, "all") == [0, 1] and chosen_faces(alone, None) == [0]


def test_an_edit_of_one_face_gives_the_other_faces_share_back_byte_for_byte():
    faces = faces_in_photo([_aligned((100, 100, 300, 300), 400), _aligned((600, 100, 800, 300), 400)])
    before = np.full((600, 1000, 3), 90, np.uint8)
    after = np.full_like(before, 200)  # an edit that (wrongly) changed every pixel
    kept = keep_to_territory(before, after, faces, 0)
    assert np.array_equal(kept[:, 450:], before[:, 450:])  # nearer to face 2: its bytes
    assert np.array_equal(kept[150:250, :430], after[150:250, :430])  # face 1's own share: the edit
    assert (kept[:, 430:450] >= before[:, 430:450]).all()  # a fade between the two, never past either
    assert np.array_equal(keep_to_territory(before, after, faces[:1], 0), after)  # one face: nothing to keep


def _edit(photo, out, weights, *extra) -> int:
    return cli_edit.main(["--paste-back", str(photo), "--random-part", "hair:3", "--paste-region", "face",
                          "--out", str(out), "--weights", str(weights), "--backend", "torch", *extra])


@pytest.mark.slow
def test_face_2_changes_only_the_right_face_and_all_changes_both(tiny_weights, tmp_path, capsys):
    pixels, path = two_face_photo(tmp_path)
    boxes = [face.box for face in FaceAligner().find_faces(pixels)]
    assert _edit(path, tmp_path / "right.png", tiny_weights, "--face", "2") == 0
    capsys.readouterr()
    right = np.array(Image.open(tmp_path / "right.png"))
    changed = np.any(right != pixels, axis=-1)
    left_box = changed[boxes[0][1]:boxes[0][3], boxes[0][0]:boxes[0][2]]
    assert not left_box.any() and not changed[:, :240].any()  # the left face: every byte as it was
    assert changed[:, 256:].sum() > 5000  # the right face: edited
    assert _edit(path, tmp_path / "both.png", tiny_weights, "--face", "all", "--json") == 0
    assert json.loads(capsys.readouterr().out)["faces"] == [1, 2]
    both = np.any(np.array(Image.open(tmp_path / "both.png")) != pixels, axis=-1)
    assert both[:, :256].sum() > 5000 and both[:, 256:].sum() > 5000
    # Face 2's edit in the photo of both is the one face 2 got alone (the same edit, the same face).
    assert np.array_equal(both[:, 300:], changed[:, 300:])
    assert _edit(path, tmp_path / "none.png", tiny_weights, "--face", "3") == 2
    assert "--face 3, but 2 faces were found" in capsys.readouterr().err
    assert not (tmp_path / "none.png").exists()


@pytest.mark.slow
def test_a_face_cut_by_the_frame_is_listed_as_cut_and_edited(tiny_weights, tmp_path, capsys):
    pixels, path = two_face_photo(tmp_path, cut=50)  # the frame runs through the right face's box
    assert cli_parse.main([str(path), "--list-faces", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)["faces"]
    assert len(listed) == 2 and listed[1]["cut_by_frame"] and not listed[0]["cut_by_frame"]
    assert _edit(path, tmp_path / "cut.png", tiny_weights, "--face", "2") == 0
    changed = np.any(np.array(Image.open(tmp_path / "cut.png")) != pixels, axis=-1)
    assert changed.shape == pixels.shape[:2] and changed[:, 256:].sum() > 3000 and not changed[:, :240].any()


@pytest.mark.slow
def test_the_studio_keeps_each_faces_edits_and_undo_and_saves_them_all(tiny_weights, tmp_path):
    from ca2sis.app.state.document import Studio
    from ca2sis.app.state.group_photo import read_group_photo
    from ca2sis.model.faces.reader import FaceReader
    from ca2sis.model.inference.engine import Engine
    from ca2sis.model.labels import CLASS_NAMES
    from ca2sis.model.photo.pipeline import PhotoPipeline

    hair = CLASS_NAMES.index("hair")
    pixels, path = two_face_photo(tmp_path)
    group = read_group_photo(path, FaceReader())
    assert group.numbers == [1, 2] and all(face is not None and face.photo is not None for face in group.faces)
    assert group.face_at(100, 150) == 0 and group.face_at(380, 150) == 1 and group.face_at(5, 5) is None
    studio = Studio(group.faces[group.current])
    group.select(studio, 0)
    studio.set_random_style(hair, 3)  # face 1: new hair, one undo step
    group.select(studio, 1)
    assert studio.document.base is group.faces[1] and not studio.history.done  # face 2: its own, fresh
    studio.set_random_style(hair, 5)
    studio.set_random_style(hair, 7)
    studio.history.undo()
    assert studio.document.random_parts[hair].seed == 5
    group.select(studio, 0)  # back to face 1: its edit and its undo as they were left
    assert studio.document.random_parts[hair].seed == 3 and len(studio.history.done) == 1
    group.select(studio, 1)
    assert studio.document.random_parts[hair].seed == 5 and studio.history.undone  # face 2's redo is kept too

    pipeline = PhotoPipeline(Engine.from_pretrained(tiny_weights, backend="torch"))
    both = np.any(group.compose(pipeline, group.save_jobs(studio)) != pixels, axis=-1)
    assert both[:, :240].any() and both[:, 272:].any()  # Save result: every face's edits
    studio.history.undo()  # face 2 back to as it was: only face 1's edit is written
    assert [index for index, _, _ in group.save_jobs(studio)] == [0]
    only_left = np.any(group.compose(pipeline, group.save_jobs(studio)) != pixels, axis=-1)
    assert only_left[:, :240].any() and not only_left[:, 272:].any()


def studio_with_two_faces(qtbot, tiny_weights, tmp_path):
    """The studio with the two-face photo opened, its first render done: the window, the photo's
    pixels and a check that the window has settled (rendered, nothing running)."""
    from ca2sis.app.qt.window import StudioWindow
    from ca2sis.app.state.gallery import gallery_entries
    from ca2sis.model.inference.engine import Engine

    pixels, path = two_face_photo(tmp_path)
    entries = gallery_entries()
    window = StudioWindow(Engine.from_pretrained(tiny_weights, backend="torch"), entries[0].load(), entries)
    qtbot.addWidget(window, before_close_func=lambda widget: widget.studio.history.set_clean())
    window.show()

    def settled() -> bool:
        return window.result is not None and window.is_current() and not window.tasks.running

    window.projects.open_photo(path)
    qtbot.waitUntil(lambda: window.photos.groups.active() is not None and settled(), timeout=90_000)
    return window, pixels, settled


@pytest.mark.slow
def test_the_studio_numbers_the_faces_a_click_switches_and_save_writes_every_face(qtbot, tiny_weights, tmp_path):
    from PySide6.QtCore import QPoint, Qt

    from ca2sis.model.labels import CLASS_NAMES

    hair = CLASS_NAMES.index("hair")
    window, pixels, settled = studio_with_two_faces(qtbot, tiny_weights, tmp_path)
    group, view = window.photos.groups.active(), window.result_view
    assert group.numbers == [1, 2] and window.studio.document.photo_face is group.faces[1]  # the larger one
    assert view.view_key == "compare"
    plain = view.shown_image()
    numbered = view.image.pixmap().toImage()
    # The faces' boxes are drawn on the before | after view (the shown photo itself is not changed).
    box = group.found[0].box
    scale = numbered.width() / pixels.shape[1]
    edge = numbered.pixelColor(round(box[0] * scale), round((box[1] + box[3]) / 2 * scale))
    assert (edge.red(), edge.green(), edge.blue()) == (255, 255, 255) and plain.shape == pixels.shape

    def click(x: float, y: float) -> None:
        pixmap = view.image.pixmap()
        left = (view.image.width() - pixmap.width()) / 2
        top = (view.image.height() - pixmap.height()) / 2
        qtbot.mouseClick(view.image, Qt.MouseButton.LeftButton,
                         pos=QPoint(round(left + x * pixmap.width()), round(top + y * pixmap.height())))

    window.studio.set_random_styles({hair: 5})  # face 2's edit
    qtbot.waitUntil(settled, timeout=30_000)
    click(120 / 512, 150 / 256)  # face 1
    assert window.studio.document.photo_face is group.faces[0] and not window.studio.history.done
    # The photo face 1 is edited in shows face 2's edit (composed in the background once).
    qtbot.waitUntil(lambda: window.photos.groups._backdrop is not None and settled(), timeout=60_000)
    assert np.any(view.composite[:, 272:] != pixels[:, 272:])
    window.studio.set_random_styles({hair: 3})
    qtbot.waitUntil(settled, timeout=30_000)
    click(380 / 512, 150 / 256)  # back to face 2: its edit, and its undo
    assert window.studio.document.random_parts[hair].seed == 5 and window.studio.history.can_undo
    assert window.photos.groups.unsaved_faces() == [1]  # quitting now would ask about face 1's edits
    qtbot.waitUntil(settled, timeout=30_000)
    out = tmp_path / "both.png"
    assert window.exports.save_result(out)
    qtbot.waitUntil(lambda: out.exists() and not window.tasks.running, timeout=60_000)
    changed = np.any(np.array(Image.open(out)) != pixels, axis=-1)
    assert changed[:, :240].any() and changed[:, 272:].any()  # every face's edits in the saved photo
    assert window.photos.groups.unsaved_faces() == []  # Save result kept them
