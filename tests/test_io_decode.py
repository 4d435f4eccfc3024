"""Decoding pictures (``model/io/decode.py``): running out of memory on a large photo is an input
problem a user can act on (exit 2, the photo named with about what it needs), not a traceback."""

from __future__ import annotations

import struct
import zlib

import pytest
from PIL import ImageFile

from ca2sis.model.cli import parse as cli_parse
from ca2sis.model.errors import DataError
from ca2sis.model.io.decode import check_size, load_image


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def _png_header(width: int, height: int) -> bytes:
    """An RGB PNG claiming ``width`` x ``height`` with no pixel data: it opens, and only decoding
    it would take the memory."""
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header) + _chunk(b"IDAT", b"") + _chunk(b"IEND", b"")


@pytest.fixture
def out_of_memory(monkeypatch):
    """Decoding any picture runs out of memory, as a 9400 x 9400 photo does under a 2 GB limit."""
    def load(_image):
        raise MemoryError

    monkeypatch.setattr(ImageFile.ImageFile, "load", load)


def test_out_of_memory_names_the_photo_and_what_it_needs(tmp_path, out_of_memory):  # noqa: ARG001
    photo = tmp_path / "big.png"
    photo.write_bytes(_png_header(9400, 9400))
    with pytest.raises(DataError) as failed:
        load_image(photo)
    message = str(failed.value)
    # 9400 x 9400 pixels: PIL's 4 bytes each, then an RGB copy and the array: about 0.9 GiB.
    assert message.startswith(f"{photo}: not enough memory to decode this 9400x9400 picture (it needs about 927 MB)")


def test_ca2sis_parse_out_of_memory_exits_2_naming_the_photo(tmp_path, out_of_memory, capsys):  # noqa: ARG001
    photo = tmp_path / "portrait.png"
    photo.write_bytes(_png_header(9400, 9400))
    code = cli_parse.main([str(photo), "--no-align", "--size", "64", "--out", str(tmp_path / "mask.png")])
    error = capsys.readouterr().err
    assert code == 2 and error.startswith(f"error: {photo}: not enough memory") and "Traceback" not in error
    assert sorted(path.name for path in tmp_path.iterdir()) == ["portrait.png"]


def test_a_bad_size_is_an_input_error():
    with pytest.raises(DataError, match="size must be a positive integer"):
        check_size(0)
