"""The framed test photos (``benchmarks/framed-photos``), their grades, and the part swaps measured on them.

The set holds validation faces of celebamask-mini cropped tight, turned, on new backgrounds,
in low-key light or graded (``benchmarks/framed_photos.py`` makes it): ``NAME.jpg``, its true
class mask ``NAME.png`` and ``photos.json`` (per photo: the face, the geometry matrix, the
grade). A grade is applied in linear light: exposure, white-balance gains, saturation about the
Rec. 709 luminance and a radial vignette; then a tone curve ``x ** gamma`` on the sRGB values
(``grade_colours``). ``EDITS`` are the swaps ``ca2sis-eval photo-edits`` measures.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path

import numpy as np
from PIL import Image

from ..errors import DataError
from ..training.data import read_id_list

SET_FOLDER = Path("benchmarks") / "framed-photos"  # from the repository root
PARTS = ("hair", "skin", "lips", "eyes")  # the parts the edits swap


@dataclass(frozen=True)
class Grade:
    """A photo's light and colour grading (identity by default); see ``grade_colours``."""

    exposure: float = 1.0  # linear gain
    white_balance: tuple[float, float, float] = (1.0, 1.0, 1.0)  # linear R, G, B gains
    saturation: float = 1.0  # 1 keeps, 0 grey (about the Rec. 709 luminance, in linear light)
    vignette: float = 0.0  # linear gain falls to 1 - vignette at the frame's corners
    gamma: float = 1.0  # tone curve on sRGB values: x ** gamma (> 1 darkens the mid-tones)

    @property
    def is_identity(self) -> bool:
        return self == Grade()

    @classmethod
    def from_record(cls, grade: dict) -> Grade:
        """The grade as ``photos.json`` records it."""
        return cls(**{**grade, "white_balance": tuple(grade.get("white_balance", (1.0, 1.0, 1.0)))})


def srgb_to_linear(x: np.ndarray) -> np.ndarray:
    return np.where(x <= 0.04045, x / 12.92, ((x + 0.055) / 1.055) ** 2.4)


def linear_to_srgb(x: np.ndarray) -> np.ndarray:
    x = np.clip(x, 0.0, 1.0)
    return np.where(x <= 0.0031308, 12.92 * x, 1.055 * x ** (1 / 2.4) - 0.055)


def vignette_gain(grade: Grade, size: tuple[int, int]) -> np.ndarray:
    """(H, W) linear gain of the grade's vignette: 1 at the centre, 1 - vignette at the corners."""
    width, height = size
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float64)
    radius = np.hypot((xs - (width - 1) / 2) / (width / 2), (ys - (height - 1) / 2) / (height / 2)) / np.sqrt(2)
    return 1.0 - grade.vignette * radius ** 2


def grade_colours(rgb: np.ndarray, grade: Grade | dict, vignette: np.ndarray | float = 1.0) -> np.ndarray:
    """sRGB colours (uint8 or 0..1 floats, any leading shape, last axis RGB) under ``grade``, as
    0..1 floats. ``vignette``: the vignette's gain at each colour's place (``vignette_gain``)."""
    if isinstance(grade, dict):
        grade = Grade.from_record(grade)
    x = np.asarray(rgb, np.float64)
    x = x / 255.0 if np.asarray(rgb).dtype == np.uint8 else x
    linear = srgb_to_linear(x) * grade.exposure * np.asarray(grade.white_balance)
    luminance = linear @ np.array([0.2126, 0.7152, 0.0722])
    linear = luminance[..., None] + grade.saturation * (linear - luminance[..., None])
    linear = linear * np.asarray(vignette, np.float64)[..., None] if np.ndim(vignette) else linear * vignette
    return linear_to_srgb(linear) ** grade.gamma


def validation_faces() -> list[str]:
    """The celebamask-mini validation face ids, in the list's order (``val:N`` is line N)."""
    return read_id_list(str(files("ca2sis.assets").joinpath("splits", "celebamask-mini-val.txt")))


def load_set(folder: Path = SET_FOLDER) -> list[dict]:
    """The records of ``photos.json``, each with ``photo`` and ``mask`` paths added."""
    folder = Path(folder)
    index = folder / "photos.json"
    try:
        records = json.loads(index.read_text())["photos"]
    except (OSError, ValueError, KeyError) as error:
        raise DataError(f"{index}: not a framed photo set ({error}); give the set with --set, or run from the "
                        "repository root (benchmarks/framed-photos)") from None
    for record in records:
        record["photo"], record["mask"] = folder / f"{record['name']}.jpg", folder / f"{record['name']}.png"
    return records


@dataclass(frozen=True)
class PhotoEdit:
    """One edit: ``photo`` (a set photo's name) takes ``part`` from ``reference``: another set
    photo's name, or ``val:N`` for the N-th validation face (0-based line of the list)."""

    photo: str
    part: str
    reference: str
    tags: tuple[str, ...] = ()  # what the swap is (dark-to-light, curly, fringe, graded-reference, ...)


def _edits(part: str, rows: list[tuple[str, str, str]]) -> list[PhotoEdit]:
    return [PhotoEdit(photo, part, reference, tuple(tags.split())) for photo, reference, tags in rows]


EDITS: tuple[PhotoEdit, ...] = tuple(
    _edits("hair", [
        ("tight-dark-long", "dark-bg-blonde", "dark-to-light"),
        ("tight-black-fringe", "tight-blonde-long", "dark-to-light fringe"),
        ("tilted-black-dark-skin", "val:84", "dark-to-light"),
        ("light-bg-black", "tilted-blonde", "dark-to-light light-background"),
        ("busy-bg-dark-curly", "val:51", "dark-to-light curly busy-background"),
        ("low-key-dark", "green-cast-blonde", "dark-to-light graded-reference low-key"),
        ("cold-desaturated-dark", "val:33", "dark-to-light graded"),
        ("tight-blonde-long", "tight-dark-long", "light-to-dark"),
        ("tight-blonde-fringe", "val:4", "light-to-dark fringe"),
        ("tight-light-curly", "light-bg-curly-dark-skin", "light-to-dark curly"),
        ("dark-bg-blonde", "val:69", "light-to-dark dark-background"),
        ("dark-bg-light-bob", "warm-cast-dark", "light-to-dark dark-background graded-reference"),
        ("tilted-blonde", "val:32", "light-to-dark"),
        ("moody-desaturated-blonde", "val:0", "light-to-dark graded"),
        ("busy-bg-light-curly", "low-key-dark-skin", "light-to-dark curly graded-reference"),
        ("tight-dark-curly", "val:81", "curly dark-to-light"),
        ("tight-dark-fringe", "val:56", "fringe dark-to-light"),
        ("tilted-auburn-curly", "val:39", "curly light-to-dark"),
        ("tight-blonde-fringe-long", "cold-desaturated-brown", "fringe graded-reference"),
        ("low-key-blonde", "val:95", "light-to-light low-key"),
        ("green-cast-blonde", "val:21", "light-to-dark graded"),
        ("warm-cast-dark", "val:66", "dark-to-light graded"),
        ("tilted-dark-skin", "val:47", "dark-to-light"),
        ("tilted-brown", "val:17", "dark-to-light"),
        ("light-bg-curly-dark-skin", "val:64", "curly dark-to-light light-background"),
        ("cold-desaturated-brown", "val:54", "light-to-dark graded"),
        ("low-key-dark-skin", "val:24", "dark-to-light low-key"),
    ])
    + _edits("skin", [
        ("tight-blonde-long", "tilted-dark-skin", "light-to-dark"),
        ("tilted-dark-skin", "val:61", "dark-to-light"),
        ("tight-dark-curly", "val:98", "dark-to-light"),
        ("low-key-dark-skin", "val:87", "dark-to-light low-key"),
        ("light-bg-curly-dark-skin", "tight-light-curly", "dark-to-light"),
        ("tilted-black-dark-skin", "moody-desaturated-blonde", "dark-to-light graded-reference"),
        ("dark-bg-blonde", "low-key-dark-skin", "light-to-dark graded-reference"),
        ("tight-black-fringe", "val:36", "light-to-dark"),
        ("cold-desaturated-brown", "val:7", "light-to-dark graded"),
        ("warm-cast-dark", "cold-desaturated-brown", "graded graded-reference"),
        ("green-cast-blonde", "val:52", "light-to-dark graded"),
        ("tight-light-curly", "val:44", "light-to-dark"),
        ("moody-desaturated-blonde", "val:38", "light-to-light graded"),
        ("tilted-brown", "val:85", "light-to-dark"),
        ("busy-bg-light-curly", "val:39", "light-to-dark"),
        ("tight-blonde-fringe", "cold-desaturated-dark", "light-to-light graded-reference"),
    ])
    + _edits("lips", [
        ("tight-blonde-long", "warm-cast-dark", "graded-reference"),
        ("tight-dark-long", "val:61", ""),
        ("tilted-dark-skin", "val:89", ""),
        ("low-key-dark-skin", "val:98", "low-key"),
        ("dark-bg-blonde", "val:42", ""),
        ("light-bg-black", "tight-blonde-long", ""),
        ("green-cast-blonde", "val:60", "graded"),
        ("busy-bg-dark-curly", "val:92", ""),
        ("cold-desaturated-dark", "val:49", "graded"),
        ("tight-dark-curly", "tilted-black-dark-skin", ""),
    ])
    + _edits("eyes", [
        ("tight-dark-long", "val:89", ""),
        ("tight-blonde-long", "tight-dark-curly", ""),
        ("dark-bg-light-bob", "val:2", ""),
        ("tilted-blonde", "tilted-black-dark-skin", ""),
        ("warm-cast-dark", "val:98", "graded"),
        ("tight-light-curly", "val:49", ""),
    ])
)


class Library:
    """The set's photos and the validation faces, read once."""

    def __init__(self, data: Path, folder: Path = SET_FOLDER):
        self.data, self.folder = Path(data), Path(folder)
        if not (self.data / "images").is_dir() or not (self.data / "masks").is_dir():
            raise DataError(f"{self.data}: no images/ and masks/ folders (give celebamask-mini with --data)")
        self.records = {record["name"]: record for record in load_set(self.folder)}
        self.faces = validation_faces()
        self._cache: dict = {}

    def read(self, path: Path) -> np.ndarray:
        if path not in self._cache:
            try:
                image = Image.open(path)
                self._cache[path] = np.array(image.convert("RGB") if path.suffix == ".jpg" else image)
            except OSError as error:
                raise DataError(f"{path}: cannot read ({error})") from None
        return self._cache[path]

    def original(self, face_id: str) -> tuple[np.ndarray, np.ndarray]:
        return (self.read(self.data / "images" / f"{face_id}.jpg"), self.read(self.data / "masks" / f"{face_id}.png"))

    def reference_face(self, reference: str) -> str:
        """The validation face id a reference shows."""
        if reference.startswith("val:"):
            return self.faces[int(reference[4:])]
        return self.records[reference]["face_id"]

    def reference_argument(self, reference: str) -> str:
        if reference.startswith("val:"):
            face_id = self.reference_face(reference)
            return f"{self.data / 'images' / f'{face_id}.jpg'}:{self.data / 'masks' / f'{face_id}.png'}"
        return str(self.records[reference]["photo"])

    def reference_pixels(self, reference: str) -> tuple[np.ndarray, np.ndarray]:
        """What the reference looks like to a user (for the contact sheets) and its true mask."""
        if reference.startswith("val:"):
            return self.original(self.reference_face(reference))
        record = self.records[reference]
        return self.read(record["photo"]), self.read(record["mask"])
