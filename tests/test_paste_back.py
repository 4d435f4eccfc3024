"""Editing a face inside its photo: paste-back, the CNN face detector fallback, whole pictures."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest
from PIL import Image

from ca2sis.model.cli import edit as cli_edit
from ca2sis.model.cli import parse as cli_parse
from ca2sis.model.faces.align import FaceAligner
from ca2sis.model.labels import CLASS_NAMES, DISPLAY_NAMES
from ca2sis.model.photo.colour import match_colours
from ca2sis.model.photo.paste import paste_back
from ca2sis.model.photo.pipeline import PhotoPipeline
from ca2sis.model.photo.regions import anchor_pixels, edited_region, face_region
from ca2sis.model.photo.source import SourcePhoto, whole_picture_matrix

from conftest import REPO
from photo_cases import photo_region, photo_with_face, textured_photo

FACES = REPO / "assets" / "faces"
HAIR = CLASS_NAMES.index("hair")


def test_paste_back_changes_only_the_face_region_and_keeps_the_photo_size():
    pixels = textured_photo()
    # A turned, scaled and moved crop, as an alignment of a tilted face gives.
    matrix = cv2.getRotationMatrix2D((400.0, 300.0), 20.0, 512 / 300)
    matrix[:, 2] += np.array([256.0, 256.0]) - matrix[:, :2] @ np.array([400.0, 300.0])
    photo = SourcePhoto(pixels, matrix, 512, "photo.png")
    yy, xx = np.mgrid[:512, :512]
    region = (xx - 256) ** 2 + ((yy - 280) / 1.3) ** 2 < 150 ** 2  # an oval "face"
    face = np.full((128, 128, 3), (250, 30, 200), np.uint8)
    pasted = paste_back(photo, face, region)
    assert pasted.shape == pixels.shape and pasted.dtype == np.uint8
    inside = photo_region(photo, region)
    assert np.array_equal(pasted[~inside], pixels[~inside])  # byte for byte outside
    changed = np.any(pasted != pixels, axis=-1)
    assert changed.sum() > 0.8 * photo_region(photo, region, grow=0).sum()
    # The centre of the region is the face's colour; the feather makes the edge a mix.
    centre = np.round(cv2.invertAffineTransform(matrix) @ np.array([256.0, 280.0, 1.0])).astype(int)
    assert np.abs(pasted[centre[1], centre[0]].astype(int) - (250, 30, 200)).max() <= 2
    # An empty region leaves every byte alone.
    assert np.array_equal(paste_back(photo, face, np.zeros_like(region)), pixels)


def test_colours_are_matched_on_the_anchor_and_a_restyled_part_keeps_its_own():
    rng = np.random.default_rng(1)
    target = rng.integers(90, 160, (64, 64, 3)).astype(np.uint8)
    face = np.clip(target.astype(int) * 0.6 + 70, 0, 255).astype(np.uint8)  # a colour cast and less contrast
    anchor = np.zeros((64, 64), bool)
    anchor[8:40, 8:56] = True
    matched = match_colours(face, target, anchor)
    assert np.abs(matched[anchor].mean(axis=0) - target[anchor].mean(axis=0)).max() < 0.5
    assert np.abs(matched[anchor] - target[anchor]).mean() < 3
    assert np.array_equal(match_colours(face, target, np.zeros_like(anchor)), face.astype(np.float32))
    # Anchors leave out the background, restyled parts and repainted pixels.
    original = np.zeros((64, 64), np.uint8)
    original[10:50, 10:50] = 1
    original[10:20, 10:50] = HAIR
    edited = original.copy()
    edited[45:50, 10:50] = 2
    anchor = anchor_pixels(original, edited, restyled={HAIR})
    assert not anchor[original == 0].any() and not anchor[original == HAIR].any() and not anchor[45:50].any()
    assert anchor[30, 30]
    # "Edited parts" covers the restyled hair and the repainted band, not the untouched skin far from them.
    region = edited_region(original, edited, restyled={HAIR})
    assert region[15, 30] and region[47, 30] and not region[32, 30]
    assert face_region(original, edited).sum() == (original != 0).sum()


@pytest.mark.slow  # 3-6 s: dlib's detectors on whole photos
def test_the_cnn_detector_finds_a_tilted_face_the_frontal_detector_misses():
    face = np.array(Image.open(FACES / "face-03.jpg").convert("RGB"))
    canvas = np.full((600, 800, 3), 110, np.uint8)
    canvas[150:450, 250:550] = cv2.resize(face, (300, 300), interpolation=cv2.INTER_AREA)
    tilted = cv2.warpAffine(canvas, cv2.getRotationMatrix2D((400, 300), 50, 1.0), (800, 600),
                            borderValue=(110, 110, 110))
    aligner = FaceAligner()
    assert not list(aligner.detector(tilted, 0)) and not list(aligner.detector(tilted, 1))  # HOG: nothing
    aligned = aligner.align(tilted, 256)
    assert aligner.last_detector == "cnn"
    # The crop undoes the tilt and gives back the demo face.
    degrees = np.degrees(np.arctan2(aligned.matrix[1, 0], aligned.matrix[0, 0]))
    assert abs(degrees - 50) < 5, degrees
    reference = cv2.resize(face, (256, 256), interpolation=cv2.INTER_AREA)
    assert np.abs(aligned.image[48:208, 48:208].astype(int) - reference[48:208, 48:208]).mean() < 20


@pytest.mark.slow  # 3-6 s: dlib's detectors on whole photos
def test_parse_offers_and_uses_the_whole_picture_when_a_square_crop_has_no_face(tmp_path, capsys):
    picture = tmp_path / "crop.png"
    Image.fromarray(np.tile(np.linspace(0, 255, 300, dtype=np.uint8)[:, None, None], (1, 300, 3))).save(picture)
    out = tmp_path / "mask.png"
    assert cli_parse.main([str(picture), "--out", str(out)]) == 2
    assert "--whole-if-no-face" in capsys.readouterr().err and not out.exists()
    assert cli_parse.main([str(picture), "--out", str(out), "--whole-if-no-face", "--json"]) == 0
    captured = capsys.readouterr()
    summary = json.loads(captured.out)
    assert "whole picture" in captured.err and summary["aligned"] is False
    assert summary["parts"] == [DISPLAY_NAMES[CLASS_NAMES.index(name)] for name in summary["classes"]]
    assert np.allclose(whole_picture_matrix(300, 300, 512), [[512 / 300, 0, 0], [0, 512 / 300, 0]])


def test_edit_command_pastes_the_face_back_into_the_whole_photo(tiny_weights, tmp_path, capsys):
    pixels, _ = photo_with_face()
    photo_path = tmp_path / "portrait.png"
    Image.fromarray(pixels).save(photo_path)
    out = tmp_path / "edited.png"
    arguments = ["--paste-back", str(photo_path), "--paste-region", "face", "--random-part", "hair:3",
                 "--out", str(out), "--face-out", str(tmp_path / "face.png"), "--weights", str(tiny_weights),
                 "--backend", "torch", "--json"]
    assert cli_edit.main(arguments) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["pasted_into"]["size"] == [900, 700]
    edited = np.array(Image.open(out))
    assert edited.shape == pixels.shape
    changed = np.any(edited != pixels, axis=-1)
    rows, cols = np.nonzero(changed)
    # Only around the face (the inner 400 px square it was set in, turned 12 degrees).
    assert changed.sum() > 20_000 and rows.min() > 60 and rows.max() < 640 and cols.min() > 160 and cols.max() < 740
    side = json.loads((tiny_weights / "config.json").read_text())["image_size"]
    assert Image.open(tmp_path / "face.png").size == (side, side)
    with pytest.raises(SystemExit) as exit_info:
        cli_edit.main(["--out", str(tmp_path / "x.png")])  # neither --mask/--style nor --paste-back
    assert exit_info.value.code == 2


@pytest.mark.slow  # 3-5 s: a photo read, parsed and edited end to end
def test_an_edit_gives_the_same_photo_from_the_command_line_and_from_the_studio(tiny_weights, tmp_path):
    from ca2sis.app.state.document import Face, Studio
    from ca2sis.app.state.gallery import read_photo
    from ca2sis.app.state.photo_edit import paste_plan
    from ca2sis.model.faces.reader import FaceReader
    from ca2sis.model.inference.engine import Engine

    pixels, _ = photo_with_face()
    photo_path = tmp_path / "portrait.png"
    Image.fromarray(pixels).save(photo_path)
    reference = FACES / "face-05.jpg"
    # Hair from a reference at 0.8 and the reference's nose shape: a style, a colour and a shape edit at once.
    out = tmp_path / "edited.png"
    reference_mask = reference.with_suffix(".png")
    assert cli_edit.main(["--paste-back", str(photo_path), "--part", f"hair={reference}:{reference_mask}@0.8",
                          "--shape", f"nose={reference_mask}:1", "--out", str(out),
                          "--weights", str(tiny_weights), "--backend", "torch"]) == 0
    from_cli = np.array(Image.open(out))

    studio = Studio(read_photo(photo_path, FaceReader()))
    other = Face.load(reference, reference_mask, "face-05")
    studio.set_part_style(HAIR, other, 0.8)
    studio.set_shape_source(other)
    studio.set_shape_alpha(CLASS_NAMES.index("nose"), 1.0)
    pipeline = PhotoPipeline(Engine.from_pretrained(tiny_weights, backend="torch"))
    live = pipeline.render(studio.edit(), paste_plan(studio.document))  # the studio's live view, then its save
    from_studio = pipeline.paste(live, paste_plan(studio.document))
    assert np.any(from_studio != pixels)  # the edit shows
    assert np.array_equal(from_cli, from_studio)
