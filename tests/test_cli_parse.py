"""`ca2sis-parse`'s advice when no face is found (``model/cli/parse.py``): ``--whole-if-no-face`` is
suggested only for a square picture it can use (at least the 64 px a face needs), never for one where
following the advice fails again."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from ca2sis.model.cli import parse as cli_parse
from ca2sis.model.faces.align import NoFaceFound

ADVICE = "--whole-if-no-face uses the whole picture"


class _FindsNoFace:
    """The face reader on a picture without a face (what dlib says of a plain square), without
    loading the networks: the advice, not the finding, is under test."""

    def __init__(self, *_args, **_kwargs) -> None:
        pass

    def read(self, photo, align: bool = True):
        if align:
            raise NoFaceFound(f"{photo}: no face found in the picture")
        pytest.fail("the whole picture was used as the face")


@pytest.fixture
def finds_no_face(monkeypatch):
    monkeypatch.setattr(cli_parse, "FaceReader", _FindsNoFace)


def _plain_square(folder, side: int):
    path = folder / f"plain{side}.png"
    Image.new("RGB", (side, side), (130, 100, 90)).save(path)  # no face in it
    return path


def test_a_square_below_the_face_minimum_gets_no_advice_that_fails(tmp_path, capsys, finds_no_face):  # noqa: ARG001
    photo = _plain_square(tmp_path, 40)
    assert cli_parse.main([str(photo), "--out", str(tmp_path / "m.png")]) == 2
    error = capsys.readouterr().err
    assert error.startswith(f"error: {photo}: no face found") and "--whole-if-no-face" not in error
    # Asked for anyway: it says why it cannot help, instead of failing on the 64 px minimum.
    assert cli_parse.main([str(photo), "--whole-if-no-face", "--out", str(tmp_path / "m.png")]) == 2
    error = capsys.readouterr().err
    assert "--whole-if-no-face needs a picture of at least 64x64 pixels" in error
    assert sorted(path.name for path in tmp_path.iterdir()) == ["plain40.png"]


@pytest.mark.slow  # the real face finder and parser: about 3 s
def test_a_square_the_whole_picture_can_serve_still_gets_the_advice(tmp_path, capsys):
    photo = _plain_square(tmp_path, 96)
    assert cli_parse.main([str(photo), "--out", str(tmp_path / "m.png")]) == 2
    assert ADVICE in capsys.readouterr().err


def test_tiny_photos_are_refused_without_reaching_dlib(tmp_path, capsys):
    from ca2sis.model.faces.align import FaceAligner, NoFaceFound

    photo = tmp_path / "tiny.png"
    Image.new("RGB", (8, 8), (128, 100, 90)).save(photo)
    assert cli_parse.main([str(photo), "--out", str(tmp_path / "mask.png")]) == 2
    assert "too small to find a face" in capsys.readouterr().err
    aligner = FaceAligner()
    for height, width in [(3, 3), (200, 1), (2, 400), (40, 40_000)]:  # dlib would fail, then abort the process
        with pytest.raises(NoFaceFound, match="too small|no face found"):
            aligner.landmarks(np.full((height, width, 3), 128, np.uint8))
