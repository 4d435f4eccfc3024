"""Part styles kept as files (``.ca2style``): a part's look, saved once and used again.

A style file holds what an edit takes from a reference face for one part (or a pair): the
part's style code (E_s's row for its class), the part's colour as the photo pipeline reads it
(CIELAB mean and spread) and the reference photo's white point, a thumbnail of the part, and
the digest of the weights that made the code (a code means something only to the networks
that wrote it). ``model/photo/styles.py`` makes one from a face; the engine and the photo
pipeline take a ``SavedStyle`` wherever they take a reference face.

The file is one safetensors file: the arrays as tensors, everything else as JSON in its
metadata. Nothing here unpickles or runs code; a file that is not exactly that (a pickle
renamed, a truncated or edited file) is refused with a DataError naming it.
"""

from __future__ import annotations

import hashlib
import json
import struct
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from safetensors import SafetensorError
from safetensors.numpy import load as load_tensors
from safetensors.numpy import save as save_tensors

from ..errors import DataError
from ..labels import CLASS_NAMES, pair_partner
from .atomic import atomic_write_all
from .cache import content_digest

STYLE_SUFFIX = ".ca2style"
STYLE_FORMAT = "ca2sis-part-style"
STYLE_VERSION = 1
METADATA_KEY = "ca2sis_style"
THUMBNAIL_SIZE = 96  # pixels a side: a row of a list, a tile of the studio's styles library
# A style file is a few kilobytes; anything much larger is not one (and is not read whole).
MAX_STYLE_BYTES = 4 << 20
# What a weights digest covers: the networks' files and their config (``weights_folder_digest``).
_DIGESTED_FILES = ("config.json", "style_encoder.safetensors", "mask_embedder.safetensors",
                   "generator.safetensors", "mapping_network.safetensors")


@dataclass(frozen=True, eq=False)  # arrays inside: equal by identity, hashable
class SavedStyle:
    """The style of one part, or both parts of a pair, as saved in a ``.ca2style`` file.

    parts: the class indices it holds, one row of ``codes``, ``colour_means`` and
    ``colour_spreads`` each; a part whose colour could not be measured (too few pixels) has
    ``coloured`` False. ``white_point``: the reference photo's white (linear RGB, ``colour.white_point``),
    None when its photo showed none. ``weights_digest``/``weights_name``: the weights that made
    the codes (``weights_folder_digest``) and their folder's name, for messages."""

    parts: tuple[int, ...]
    codes: np.ndarray  # float32 (P, code_dim)
    colour_means: np.ndarray  # float32 (P, 3), CIELAB
    colour_spreads: np.ndarray  # float32 (P, 3)
    coloured: tuple[bool, ...]
    white_point: np.ndarray | None  # float32 (3,)
    thumbnail: np.ndarray  # uint8 (h, w, 3)
    weights_digest: str
    weights_name: str = ""
    config: str = ""
    source: str = ""  # the face it was taken from (its file name), for people
    path: Path | None = field(default=None, compare=False)  # the file it was read from

    @property
    def name(self) -> str:
        """What it styles, e.g. "hair" or "l_eye + r_eye"."""
        return " + ".join(CLASS_NAMES[part] for part in self.parts)

    def describe(self) -> str:
        """E.g. "copper.ca2style (a hair style)", for messages."""
        where = self.path.name if self.path is not None else "a saved style"
        return f"{where} (a {self.name} style)"

    def _row(self, index: int) -> int:
        """Which row serves class ``index``: its own, else its pair partner's (a style of one
        eye styles the other, as a face with a closed eye gives the open one's style)."""
        if index in self.parts:
            return self.parts.index(index)
        partner = pair_partner(index)
        if partner is not None and partner in self.parts:
            return self.parts.index(partner)
        raise DataError(f"{self.describe()} holds no {CLASS_NAMES[index]} style: apply it to "
                        f"{' or '.join(CLASS_NAMES[part] for part in self.parts)}")

    def code(self, index: int) -> np.ndarray:
        """The style code of class ``index`` (float32 (code_dim,))."""
        return self.codes[self._row(index)]

    def colour(self, index: int) -> tuple[np.ndarray, np.ndarray] | None:
        """The CIELAB (mean, spread) of class ``index`` in the reference, None when unmeasured."""
        row = self._row(index)
        return (self.colour_means[row], self.colour_spreads[row]) if self.coloured[row] else None


def is_style_path(path: str | Path) -> bool:
    """Whether a file name is a style file's (by its suffix, in any case)."""
    return str(path).lower().endswith(STYLE_SUFFIX)


def weights_folder_digest(folder: str | Path) -> str:
    """A digest of a weights folder's content (config.json and the networks' safetensors files,
    not their ONNX exports): the same weights copied elsewhere have the same digest."""
    digest = hashlib.sha256()
    folder = Path(folder)
    for name in _DIGESTED_FILES:
        path = folder / name
        if not path.is_file():
            continue
        digest.update(name.encode() + b"\0")
        with open(path, "rb") as file:
            for chunk in iter(lambda file=file: file.read(1 << 20), b""):
                digest.update(chunk)
    return digest.hexdigest()[:16]


def save_style(style: SavedStyle, path: str | Path) -> Path:
    """Write ``style`` to ``path`` (atomically: a reader never sees half a file)."""
    save_styles([(style, path)])
    return Path(path)


def save_styles(styles: list[tuple[SavedStyle, str | Path]]) -> None:
    """Write each style to its path: all files or none (``atomic_write_all``)."""
    contents = [style_bytes(style) for style, _ in styles]
    with atomic_write_all([path for _, path in styles]) as temporaries:
        for temporary, data in zip(temporaries, contents):
            temporary.write_bytes(data)


def style_bytes(style: SavedStyle) -> bytes:
    """The content of ``style``'s file."""
    tensors = {
        "codes": np.ascontiguousarray(style.codes, np.float32),
        "colour_means": np.ascontiguousarray(style.colour_means, np.float32),
        "colour_spreads": np.ascontiguousarray(style.colour_spreads, np.float32),
        "thumbnail": np.ascontiguousarray(style.thumbnail, np.uint8),
    }
    if style.white_point is not None:
        tensors["white_point"] = np.ascontiguousarray(style.white_point, np.float32)
    info = {
        "format": STYLE_FORMAT,
        "version": STYLE_VERSION,
        "parts": [CLASS_NAMES[part] for part in style.parts],
        "coloured": list(style.coloured),
        "weights_digest": style.weights_digest,
        "weights_name": style.weights_name,
        "config": style.config,
        "source": style.source,
        # safetensors checks a file's layout, not its numbers: a flipped byte would be another style.
        "checksum": _checksum(tensors),
    }
    return save_tensors(tensors, metadata={METADATA_KEY: json.dumps(info)})


def read_style(path: str | Path) -> SavedStyle:
    """A style file, checked whole: anything that is not a complete style file of this format
    (a pickle or zip renamed, a truncated, edited or empty file) is a DataError naming it."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"style file not found: {path}")
    if path.stat().st_size > MAX_STYLE_BYTES:
        raise DataError(f"{path} is {path.stat().st_size >> 20} MiB: too large for a style file (a few KiB)")
    data = path.read_bytes()
    info = _header_metadata(data, path)
    try:
        tensors = load_tensors(data)
    except (SafetensorError, ValueError, OverflowError) as error:
        raise DataError(f"{path} is damaged (truncated or corrupt): {error}") from None
    return _style_from(info, tensors, path)


def _checksum(tensors: dict[str, np.ndarray]) -> str:
    """A digest of the tensors' names, shapes, types and bytes."""
    return content_digest(*(item for key in sorted(tensors) for item in (key, tensors[key])))


def _damaged(path: Path, why: str) -> DataError:
    return DataError(f"{path} is not a usable ca2sis style file ({why}); save the style again")


def _header_metadata(data: bytes, path: Path) -> dict:
    """The style's JSON from a safetensors header (8-byte little-endian length, then JSON),
    read without the library so that every way a file can be wrong gets a plain message."""
    # A safetensors file has its JSON header's "{" at byte 8 (its first byte, a length, may be 0x80).
    if data[8:9] != b"{" and (data[:1] == b"\x80" or data[:4] == b"PK\x03\x04"):
        raise DataError(f"{path} is a pickle or zip file, not a ca2sis style file; ca2sis does not load pickles "
                        "because they can run code")
    if len(data) < 10:
        raise _damaged(path, "empty or truncated")
    (length,) = struct.unpack("<Q", data[:8])
    if length > len(data) - 8:
        raise _damaged(path, f"truncated: its header says {length} bytes, the file holds {len(data) - 8}")
    try:
        header = json.loads(data[8 : 8 + length])
        info = json.loads(header["__metadata__"][METADATA_KEY])
    except (ValueError, KeyError, TypeError, RecursionError):
        raise _damaged(path, "no style description in its header") from None
    if not isinstance(info, dict) or info.get("format") != STYLE_FORMAT:
        raise _damaged(path, "not a part style")
    version = info.get("version")
    if not isinstance(version, int) or version < 1:
        raise _damaged(path, f"format version {version!r}")
    if version > STYLE_VERSION:
        raise DataError(f"{path} is a style file of format version {version!r}; this ca2sis reads version "
                        f"{STYLE_VERSION} and older: update ca2sis")
    return info


def _style_from(info: dict, tensors: dict[str, np.ndarray], path: Path) -> SavedStyle:
    """The SavedStyle a file's JSON and tensors describe, every field checked."""
    names = info.get("parts")
    if not isinstance(names, list) or not names or any(name not in CLASS_NAMES for name in names):
        raise _damaged(path, f"unknown parts {names!r}")
    parts = tuple(CLASS_NAMES.index(name) for name in names)
    count = len(parts)
    coloured = info.get("coloured")
    if not isinstance(coloured, list) or len(coloured) != count or not all(isinstance(c, bool) for c in coloured):
        raise _damaged(path, "its colour list does not fit its parts")
    wanted = {"codes": (count, None), "colour_means": (count, 3), "colour_spreads": (count, 3)}
    for key, (rows, columns) in wanted.items():
        array = tensors.get(key)
        if array is None or array.dtype != np.float32 or array.ndim != 2 or array.shape[0] != rows \
                or (columns is not None and array.shape[1] != columns) or not np.isfinite(array).all():
            raise _damaged(path, f"its {key} are missing, of another shape or not finite")
    white = tensors.get("white_point")
    if white is not None and (white.shape != (3,) or white.dtype != np.float32 or not np.isfinite(white).all()):
        raise _damaged(path, "its white point is not 3 finite numbers")
    thumbnail = tensors.get("thumbnail")
    if thumbnail is None or thumbnail.dtype != np.uint8 or thumbnail.ndim != 3 or thumbnail.shape[2] != 3 \
            or not 0 < thumbnail.shape[0] <= 4 * THUMBNAIL_SIZE or not 0 < thumbnail.shape[1] <= 4 * THUMBNAIL_SIZE:
        raise _damaged(path, "its thumbnail is missing or not an RGB image")
    if info.get("checksum") != _checksum(tensors):
        raise _damaged(path, "its content does not match its checksum: it was changed or damaged")
    digest = info.get("weights_digest")
    if not isinstance(digest, str) or not digest:
        raise _damaged(path, "it does not say which weights made it")
    text = {key: info.get(key, "") if isinstance(info.get(key, ""), str) else "" for key in
            ("weights_name", "config", "source")}
    return SavedStyle(parts, tensors["codes"], tensors["colour_means"], tensors["colour_spreads"], tuple(coloured),
                      white, thumbnail, digest, path=path, **text)


__all__ = ["STYLE_SUFFIX", "SavedStyle", "is_style_path", "read_style", "save_style", "save_styles", "style_bytes",
           "weights_folder_digest"]
