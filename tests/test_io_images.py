"""Faces and masks read from files, PIL images or arrays (`model/io/images.py`): sizes refused."""

from __future__ import annotations

import pytest
from PIL import Image

from ca2sis.model.errors import DataError
from ca2sis.model.inference.edits import Edit, Reference
from ca2sis.model.inference.engine import Engine
from ca2sis.model.io.images import MIN_INPUT_SIZE, as_image

from conftest import edit_on_torch


def test_an_image_below_the_minimum_size_is_refused(tiny_weights, face_files, tmp_path, capsys):
    face, mask = face_files
    small = tmp_path / "small.png"
    Image.open(face).resize((8, 8)).save(small)
    with pytest.raises(DataError, match=f"at least {MIN_INPUT_SIZE}x{MIN_INPUT_SIZE}"):
        as_image(small, 64)
    engine = Engine.from_pretrained(tiny_weights, device="cpu", backend="torch")
    with pytest.raises(DataError, match="only 8x8"):
        engine.render(Edit(mask=mask, style=Reference(small, mask)))
    small_mask = tmp_path / "small_mask.png"
    Image.open(mask).resize((8, 8), Image.Resampling.NEAREST).save(small_mask)
    assert edit_on_torch("--mask", str(small_mask), "--style", str(face), "--style-mask", str(mask), "--out",
                         str(tmp_path / "o.png"), weights=tiny_weights) == 2
    assert "only 8x8" in capsys.readouterr().err
