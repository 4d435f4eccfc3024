"""Part styles kept as files (.ca2style): saved from a face, applied like that face, refused when
they cannot be trusted (other weights, a damaged file, a pickle)."""

from __future__ import annotations

import json
import pickle
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from safetensors.numpy import save as save_tensors

from ca2sis.model.cli import edit as cli_edit
from ca2sis.model.config import get_config
from ca2sis.model.errors import DataError
from ca2sis.model.inference.edits import Edit, Reference
from ca2sis.model.inference.engine import Engine
from ca2sis.model.io.styles import read_style, save_style
from ca2sis.model.labels import CLASS_NAMES
from ca2sis.model.photo.paste import PhotoTarget
from ca2sis.model.photo.pipeline import PhotoPipeline
from ca2sis.model.photo.source import SourcePhoto
from ca2sis.model.photo.styles import part_style

from conftest import styled_random_model

HAIR = CLASS_NAMES.index("hair")
EYES = (CLASS_NAMES.index("l_eye"), CLASS_NAMES.index("r_eye"))


@pytest.fixture
def two_faces(face_data):
    names = sorted(p.stem for p in (face_data / "images").glob("*.jpg"))[:2]
    return [(face_data / "images" / f"{n}.jpg", face_data / "masks" / f"{n}.png") for n in names]


@pytest.fixture(scope="module")
def engine(tiny_weights):
    return Engine.from_pretrained(tiny_weights, device="cpu", backend="torch")


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    error = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return float("inf") if error == 0 else 10 * np.log10(255.0**2 / error)


def _edit(*args: str, weights) -> int:
    """ca2sis-edit's exit code (an argument error exits from argparse)."""
    try:
        return cli_edit.main([*args, "--weights", str(weights), "--device", "cpu", "--backend", "torch"])
    except SystemExit as exit:
        return exit.code


def _photo_of(face: Path, mask: Path) -> PhotoTarget:
    """The fixture face inside a larger photo (a frame around it), its mask as the photo's parse."""
    pixels = np.pad(np.asarray(Image.open(face).convert("RGB")), ((40, 40), (60, 60), (0, 0)), mode="reflect")
    photo = SourcePhoto(pixels, np.array([[1.0, 0.0, -60.0], [0.0, 1.0, -40.0]]), 256, "photo.png")
    return PhotoTarget(photo, np.asarray(Image.open(mask)))


def test_a_saved_hair_style_edits_a_photo_as_the_face_it_came_from(engine, two_faces, tmp_path):
    """A user saves B's hair, then applies the file to photo A: the photo is the one that applying
    B itself gives (PSNR >= 40 dB; here the same codes and colours, so the same pixels)."""
    (face, mask), (other, other_mask) = two_faces
    path = save_style(part_style(engine, Reference(other, other_mask), "hair"), tmp_path / "copper.ca2style")
    saved = read_style(path)
    assert saved.parts == (HAIR,) and saved.thumbnail.shape == (96, 96, 3)
    assert saved.weights_digest == engine.weights_digest
    pipeline, target = PhotoPipeline(engine), _photo_of(face, mask)
    from_face = Edit(mask, Reference(face, mask), part_styles={HAIR: (Reference(other, other_mask), 0.8)})
    from_file = Edit(mask, Reference(face, mask), part_styles={HAIR: (saved, 0.8)})
    by_face = pipeline.render(from_face, target, full_photo=True).photo
    by_file = pipeline.render(from_file, target, full_photo=True).photo
    assert psnr(by_face, by_file) >= 40
    # Not vacuous: the hair edit changes the photo, and the file holds B's hair, not A's.
    assert psnr(by_face, target.photo.pixels) < 40
    assert not np.allclose(saved.code(HAIR), engine.encode_styles(face, mask)[HAIR])


def test_save_style_from_the_command_line_then_use_it_like_a_face(tiny_weights, two_faces, tmp_path, capsys):
    (face, mask), (other, other_mask) = two_faces
    hair, eyes = tmp_path / "copper.ca2style", tmp_path / "eyes.ca2style"
    # No --out: only the styles are written.
    assert _edit("--style", str(other), "--style-mask", str(other_mask), "--save-style", f"hair={hair}",
                 "--save-style", f"eyes={eyes}", weights=tiny_weights) == 0
    assert f"wrote {hair}" in capsys.readouterr().out
    assert read_style(eyes).parts == EYES
    base = ("--mask", str(mask), "--style", str(face), "--style-mask", str(mask))
    outputs = {}
    for name, parts in {
        "face": ["--part", f"hair={other}:{other_mask}@0.5", "--part", f"eyes={other}:{other_mask}"],
        "file": ["--part", f"hair={hair}@0.5", "--part", f"eyes={eyes}"],
    }.items():
        outputs[name] = tmp_path / f"{name}.png"
        assert _edit(*base, *parts, "--out", str(outputs[name]), weights=tiny_weights) == 0
    by_face, by_file = (np.asarray(Image.open(outputs[name])) for name in ("face", "file"))
    assert psnr(by_face, by_file) >= 40
    plain = tmp_path / "plain.png"
    assert _edit(*base, "--out", str(plain), weights=tiny_weights) == 0
    assert psnr(np.asarray(Image.open(plain)), by_file) < 40  # the styles did change the face


def test_a_style_made_with_other_weights_is_refused_naming_both(tiny_weights, two_faces, tmp_path, capsys):
    (face, mask), (other, other_mask) = two_faces
    theirs = tmp_path / "theirs"
    styled_random_model(get_config("tiny"), seed=1).save_pretrained(theirs)
    style = tmp_path / "theirs.ca2style"
    assert _edit("--style", str(other), "--style-mask", str(other_mask), "--save-style", f"hair={style}",
                 weights=theirs) == 0
    capsys.readouterr()
    out = tmp_path / "out.png"
    base = ("--mask", str(mask), "--style", str(face), "--style-mask", str(mask), "--part", f"hair={style}")
    assert _edit(*base, "--out", str(out), weights=tiny_weights) == 2
    error = capsys.readouterr().err
    ours_digest = Engine.from_pretrained(tiny_weights, device="cpu", backend="torch").weights_digest
    assert error.startswith("error: ") and error.count("\n") == 1
    assert str(theirs) in error and str(tiny_weights) in error
    assert read_style(style).weights_digest in error and ours_digest in error
    assert not out.exists()
    # The same weights copied elsewhere are the same weights: the style is taken.
    copy = tmp_path / "copy"
    shutil.copytree(theirs, copy)
    assert _edit(*base, "--out", str(out), weights=copy) == 0 and out.exists()


def test_a_damaged_or_pickled_style_file_is_refused_and_never_runs(engine, two_faces, tmp_path, capsys, tiny_weights):
    (face, mask), (other, other_mask) = two_faces
    good = save_style(part_style(engine, Reference(other, other_mask), "hair"), tmp_path / "good.ca2style")
    data = good.read_bytes()
    truncated = tmp_path / "truncated.ca2style"
    truncated.write_bytes(data[: len(data) // 2])
    flipped = tmp_path / "flipped.ca2style"
    changed = bytearray(data)
    changed[-500] ^= 0xFF  # a byte of the thumbnail or the codes: the layout still reads
    flipped.write_bytes(bytes(changed))
    marker = tmp_path / "ran"

    class Payload:  # what unpickling would run: it makes the marker file
        def __reduce__(self):
            return open, (str(marker), "w")

    pickled = tmp_path / "pickled.ca2style"
    pickled.write_bytes(pickle.dumps(Payload()))
    empty = tmp_path / "empty.ca2style"
    empty.write_bytes(b"")
    newer = tmp_path / "newer.ca2style"  # a later ca2sis's format: no guessing at it
    newer.write_bytes(save_tensors({"codes": np.zeros((1, 4), np.float32)}, metadata={
        "ca2sis_style": json.dumps({"format": "ca2sis-part-style", "version": 2})}))
    expected = {truncated: "truncated", flipped: "checksum", pickled: "pickle", empty: "truncated",
                newer: "update ca2sis"}
    for path, says in expected.items():
        with pytest.raises(DataError, match=says):
            read_style(path)
        out = tmp_path / "out.png"
        assert _edit("--mask", str(mask), "--style", str(face), "--style-mask", str(mask), "--part",
                     f"hair={path}", "--out", str(out), weights=tiny_weights) == 2
        error = capsys.readouterr().err
        assert error.startswith("error: ") and str(path) in error and says in error and not out.exists()
    assert not marker.exists()


def test_style_options_refuse_bad_requests_before_writing(tiny_weights, two_faces, tmp_path, capsys):
    (face, mask), (other, other_mask) = two_faces
    eyes = tmp_path / "eyes.ca2style"
    assert _edit("--style", str(other), "--style-mask", str(other_mask), "--save-style", f"eyes={eyes}",
                 weights=tiny_weights) == 0
    before = eyes.read_bytes()
    capsys.readouterr()
    base = ("--mask", str(mask), "--style", str(face), "--style-mask", str(mask))
    cases = [
        # A style of the eyes is no hair style.
        ([*base, "--part", f"hair={eyes}", "--out", str(tmp_path / "x.png")], "holds no hair style"),
        # The edit's output may not be the style file it reads.
        ([*base, "--part", f"eyes={eyes}", "--out", str(eyes)], "eyes.ca2style"),
        # A style file's name says what it is.
        (["--style", str(other), "--save-style", f"hair={tmp_path / 'hair.png'}"], "ends in .ca2style"),
        # --save-style needs a face to take the style from.
        (["--paste-back", str(other), "--save-style", f"hair={tmp_path / 'h.ca2style'}"], "--style FACE"),
        (["--style", str(other), "--save-style", f"nose_ring={tmp_path / 'h.ca2style'}"], "nose_ring"),
        # Saving while editing a folder of photos: one thing at a time, said plainly.
        (["--paste-back", str(tmp_path), "--style", str(other), "--save-style", f"hair={tmp_path / 'h.ca2style'}",
          "--out", str(tmp_path / "edited")], "folder of photos"),
    ]
    for args, says in cases:
        assert _edit(*args, weights=tiny_weights) == 2, args
        error = capsys.readouterr().err
        assert error.startswith("error: ") and says in error, error
    assert eyes.read_bytes() == before
    assert not (tmp_path / "x.png").exists() and not (tmp_path / "h.ca2style").exists()


def test_the_studio_uses_a_saved_style_like_the_face_and_keeps_it_in_its_project(engine, two_faces, tmp_path):
    """Save style as… on the hair row, then a drop of the library's file on the row: the face
    renders as with the face itself; a project keeps the style; other weights' style is refused."""
    from ca2sis.app.state.document import Face, Studio
    from ca2sis.app.state.project import load_project, save_project
    from ca2sis.app.state.styles import StyleLibrary, make_part_style, suggested_name, use_saved_style

    (face, mask), (other, other_mask) = two_faces
    studio = Studio(Face.load(face, mask, "anna"))
    studio.set_part_style(HAIR, Face.load(other, other_mask, "bea"))
    pipeline = PhotoPipeline(engine)
    by_face = pipeline.render(studio.edit()).image
    library = StyleLibrary(tmp_path / "library")
    saved = library.save(make_part_style(engine, studio, HAIR), suggested_name(studio, HAIR))
    assert saved == tmp_path / "library" / "bea-hair.ca2style"
    (tmp_path / "library" / "broken.ca2style").write_bytes(b"not a style")
    entries = library.entries()
    assert [entry.name for entry in entries] == ["bea-hair", "broken"]
    assert entries[0].style.source == "bea" and entries[1].style is None and "broken.ca2style" in entries[1].problem

    studio.reset_part_style(HAIR)
    plain = pipeline.render(studio.edit()).image
    use_saved_style(studio, engine, HAIR, entries[0].style)
    assert studio.style_face(HAIR).name == "bea-hair"  # the row shows the file's thumbnail and name
    by_file = pipeline.render(studio.edit()).image
    assert psnr(by_face, by_file) >= 40 and psnr(plain, by_file) < 40
    assert studio.history.undo() and HAIR not in studio.document.part_styles  # a drop is one undo step
    assert studio.history.redo() and studio.document.part_styles[HAIR].saved is entries[0].style
    with pytest.raises(DataError, match="holds no hair style"):
        studio.set_saved_style(HAIR, part_style(engine, Reference(other, other_mask), "eyes"))

    reopened = load_project(save_project(studio.document, tmp_path / "portrait"))
    assert reopened.part_styles[HAIR].saved is not None
    codes = engine.edit_codes(studio.edit())
    studio.replace_document(reopened, "Open project")
    assert np.array_equal(engine.edit_codes(studio.edit()), codes)  # what the renders read: the same codes
    # Saving the project again over itself keeps working (the style file is the project's own).
    save_project(studio.document, tmp_path / "portrait")

    theirs = tmp_path / "theirs"
    styled_random_model(get_config("tiny"), seed=1).save_pretrained(theirs)
    foreign = part_style(Engine.from_pretrained(theirs, device="cpu", backend="torch"),
                         Reference(other, other_mask), "hair")
    before = studio.document.part_styles
    with pytest.raises(DataError, match="other weights") as refused:
        use_saved_style(studio, engine, HAIR, foreign)
    assert str(theirs) in str(refused.value) and engine.weights_digest in str(refused.value)
    assert studio.document.part_styles is before


def test_the_studio_saves_a_row_s_style_to_its_library_and_takes_it_back_by_a_drop(
        qtbot, engine, tmp_path, monkeypatch):
    """Right-click the hair row, *Save style as…*: the file joins the Styles library dock with its
    thumbnail; dragging it onto the eyes row is refused (no eye style), onto the hair row used."""
    from PySide6.QtCore import QSettings, Qt
    from PySide6.QtWidgets import QFileDialog

    from ca2sis.app.qt.styles_library import mime_style_path, style_mime
    from ca2sis.app.qt.window import StudioWindow
    from ca2sis.app.state.gallery import gallery_entries

    monkeypatch.setenv("CA2SIS_STYLES", str(tmp_path / "library"))
    entries = gallery_entries()
    window = StudioWindow(engine, entries[0].load(), entries,
                          settings=QSettings(str(tmp_path / "studio.ini"), QSettings.Format.IniFormat))
    qtbot.addWidget(window, before_close_func=lambda w: w.studio.history.set_clean())
    errors = []
    monkeypatch.setattr(window, "show_error", lambda _title, message, _box=True: errors.append(message))
    window.style_files.show_error = window.show_error
    library_list = window.style_files.panel.list
    assert library_list.count() == 0
    chosen = tmp_path / "library" / "mine.ca2style"
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *_args, **_kwargs: (str(chosen), ""))
    row = window.style_panel.rows[HAIR]
    assert "Save style as…" in [action.text() for action in row.actions()]  # the row's context menu
    row.save_style.trigger()
    qtbot.waitUntil(lambda: library_list.count() == 1, timeout=20_000)
    assert read_style(chosen).parts == (HAIR,) and not errors
    item = library_list.item(0)
    assert item.text() == "mine" and not item.icon().isNull() and "hair style" in item.toolTip()

    library_list.setCurrentItem(item)
    mime = style_mime(item.data(Qt.ItemDataRole.UserRole))  # what the list's drag carries
    assert mime_style_path(mime) == str(chosen)
    window.style_panel.rows[EYES[0]].face_dropped(mime)
    assert errors and "holds no l_eye style" in errors[-1] and EYES[0] not in window.studio.document.part_styles
    window.studio.reset_part_style(HAIR)
    row.face_dropped(mime)
    assert window.studio.document.part_styles[HAIR].saved is not None
    assert window.studio.edit().part_styles[HAIR][0].weights_digest == engine.weights_digest

    # A style of other weights is listed greyed, with the reason, and cannot be dragged.
    theirs = tmp_path / "theirs"
    styled_random_model(get_config("tiny"), seed=1).save_pretrained(theirs)
    face = entries[1].load()
    foreign = part_style(Engine.from_pretrained(theirs, device="cpu", backend="torch"),
                         Reference(face.image, face.mask), "hair")
    save_style(foreign, tmp_path / "library" / "theirs.ca2style")  # copied in: listed without Refresh
    qtbot.waitUntil(lambda: library_list.count() == 2, timeout=10_000)
    greyed = library_list.item(1)
    assert greyed.text() == "theirs" and "other weights" in greyed.toolTip()
    assert not greyed.flags() & Qt.ItemFlag.ItemIsDragEnabled
    window.studio.history.set_clean()
    window.close()

