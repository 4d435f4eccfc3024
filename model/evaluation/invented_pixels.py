"""Invented pixels: how well the pixels an edit of a photo has to invent belong in the picture
(issue 37, "How it is checked"; ``ca2sis-eval invented-pixels``).

Shape section (``shape_section``): on held-out faces of a labelled folder, hair shape edits each
way (fuller and shorter: the hair of another held-out face's mask), each made exactly as a user
makes it, ``ca2sis-edit --paste-back FACE.jpg --whole-picture --shape hair=OTHER.png:1`` (the
photo parsed by the project's parser, as in the studio), and scored on the result:

- ``iou``: the result's hair (parsed by the project's parser) against the asked shape;
- ``colour``: CIELAB distance (ΔE76) between the mean colour of the new hair (asked, not hair
  in the photo's own mask) and that of the photo's own hair;
- ``vacated``: CIELAB distance between the mean colour of the vacated pixels that were hair
  over the background (the nearest other class in the photo's mask is the background) and that
  of the photo's background next to them (within ``NEAR`` of the side);
- ``detail``: the new hair's fine detail over the photo hair's: the Laplacian's energy per unit
  of grey variance, each on its region eroded by ``ERODE`` of the side.

Targets (issue 37): ``TARGETS``; the medians are compared with them. Other sections (a painted
face's) are added to ``SECTIONS`` with a function of the same signature.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from ..errors import DataError
from ..faces.reader import FaceReader
from ..io.masks import nearest_class
from ..labels import BACKGROUND, CLASS_NAMES

HAIR = CLASS_NAMES.index("hair")
# Parts of the photo's face a sensible hair shape does not cover (the asked hair is drawn from
# another face: one that would hide the eyes is no test of hair).
FEATURES = tuple(CLASS_NAMES.index(name) for name in (
    "nose", "eye_g", "l_eye", "r_eye", "l_brow", "r_brow", "mouth", "u_lip", "l_lip"))
ERODE = 0.008  # masks eroded by this share of the side before colours and detail are measured
NEAR = 0.06  # the photo's background "next to" the vacated pixels: within this share of the side
MIN_REGION = 400  # fewer pixels than this (after erosion): that figure is not measured for the edit
# A fuller edit asks for at least this much more hair, a shorter one at most this share of it, and
# each changes at least MIN_CHANGE of the picture.
FULLER, SHORTER, MIN_CHANGE = 1.3, 0.75, 0.03
MIN_OWN_HAIR = 0.08  # photos with less hair (share of the picture) are not used: too little to copy
TARGETS = {"iou": (">=", 0.8), "colour": ("<=", 6.0), "vacated": ("<=", 6.0), "detail": (">=", 0.6)}


@dataclass(frozen=True)
class Face:
    """A labelled face of the folder: its id, image file and true mask (at the image's side)."""

    face_id: str
    image: Path
    mask_file: Path

    def mask(self) -> np.ndarray:
        return np.asarray(Image.open(self.mask_file))

    def pixels(self) -> np.ndarray:
        return np.asarray(Image.open(self.image).convert("RGB"))


def lab(rgb: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(rgb.astype(np.float32) / 255.0, cv2.COLOR_RGB2LAB)


def eroded(region: np.ndarray, share: float = ERODE) -> np.ndarray:
    pixels = max(1, round(share * region.shape[0]))
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * pixels + 1, 2 * pixels + 1))
    return cv2.erode(region.astype(np.uint8), kernel) > 0


def fine_detail(rgb: np.ndarray, region: np.ndarray) -> float:
    """The Laplacian's mean energy over ``region`` per unit of the grey level's variance there:
    how much of a region's contrast is fine detail (strands), whatever its overall contrast."""
    grey = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY).astype(np.float32)
    laplacian = cv2.Laplacian(grey, cv2.CV_32F, ksize=1)
    return float((laplacian[region] ** 2).mean() / max(float(grey[region].var()), 1e-6))


def colour_distance(first: np.ndarray, first_region: np.ndarray, second: np.ndarray,
                    second_region: np.ndarray) -> float:
    """ΔE76 between the mean CIELAB colours of two regions."""
    return float(np.linalg.norm(lab(first)[first_region].mean(axis=0) - lab(second)[second_region].mean(axis=0)))


def score_shape_edit(photo: np.ndarray, photo_mask: np.ndarray, asked: np.ndarray, result: np.ndarray,
                     result_mask: np.ndarray) -> dict:
    """The four figures of one hair shape edit (see the module's docstring); None where the
    region a figure needs is too small. photo, result: uint8 RGB (S, S, 3); photo_mask: the
    photo's true mask; asked: bool, the asked hair; result_mask: the result parsed."""
    own = photo_mask == HAIR
    result_hair = result_mask == HAIR
    scores: dict = {"iou": float((result_hair & asked).sum() / max(1, (result_hair | asked).sum()))}
    own_inner, new_inner = eroded(own), eroded(asked & ~own)
    scores["new_pixels"] = int((asked & ~own).sum())
    scores["colour"] = scores["detail"] = None
    if new_inner.sum() >= MIN_REGION and own_inner.sum() >= MIN_REGION:
        scores["colour"] = colour_distance(result, new_inner, photo, own_inner)
        scores["detail"] = fine_detail(result, new_inner) / max(fine_detail(photo, own_inner), 1e-6)
    vacated = own & ~asked & (nearest_class(photo_mask, photo_mask == HAIR) == BACKGROUND)
    scores["vacated_pixels"] = int(vacated.sum())
    scores["vacated"] = None
    vacated_inner = eroded(vacated)
    distance = cv2.distanceTransform((~vacated).astype(np.uint8), cv2.DIST_L2, 3)
    next_to = (photo_mask == BACKGROUND) & ~asked & (distance <= NEAR * photo.shape[0]) & (distance > 0)
    if vacated_inner.sum() >= MIN_REGION and next_to.sum() >= MIN_REGION:
        scores["vacated"] = colour_distance(result, vacated_inner, photo, next_to)
    return scores


def pick_shape_edits(faces: list[Face], count: int) -> list[tuple[str, Face, Face]]:
    """(direction, photo, other): ``count`` fuller and ``count`` shorter hair edits. Photos
    with enough hair are taken in the list's order, each given the first other face whose hair
    is fuller (shorter) without covering the photo's eyes, brows, nose or mouth, one not asked
    yet in that direction where there is one."""
    masks = {face.face_id: face.mask() for face in faces}
    photos = [face for face in faces if (masks[face.face_id] == HAIR).mean() >= MIN_OWN_HAIR]
    edits = []
    for direction in ("fuller", "shorter"):
        used: set[str] = set()
        for photo in photos:
            if sum(edit[0] == direction for edit in edits) == count:
                break
            own = masks[photo.face_id] == HAIR
            features = np.isin(masks[photo.face_id], FEATURES)
            fitting = []
            for other in faces:
                asked = masks[other.face_id] == HAIR
                if other.face_id == photo.face_id or asked.shape != own.shape:
                    continue
                ratio = asked.sum() / max(1, own.sum())
                change = ((asked & ~own) if direction == "fuller" else (own & ~asked)).mean()
                wanted = ratio >= FULLER if direction == "fuller" else ratio <= SHORTER
                if wanted and change >= MIN_CHANGE and (asked & features).sum() <= 0.01 * features.sum():
                    fitting.append(other)
            if fitting:
                other = next((face for face in fitting if face.face_id not in used), fitting[0])
                used.add(other.face_id)
                edits.append((direction, photo, other))
    return edits


def edit_command(photo: Face, other: Face, out: Path) -> list[str]:
    """The user's command for the hair shape edit (run with this interpreter; ``--json`` gives
    its times, the finish's among them)."""
    return [sys.executable, "-m", "ca2sis.model.cli.edit", "--paste-back", str(photo.image), "--whole-picture",
            "--shape", f"hair={other.mask_file}:1", "--out", str(out), "--json"]


def shape_section(faces: list[Face], reader: FaceReader, count: int, sheet: Path | None = None,
                  progress: bool = True) -> dict:
    """The shape section's report: per edit, per direction and overall medians, against the targets."""
    edits = pick_shape_edits(faces, count)
    if not edits:
        raise DataError("no hair shape edit could be picked: the faces have too little hair or no masks")
    rows, cells = [], []
    with tempfile.TemporaryDirectory() as folder:
        for number, (direction, photo, other) in enumerate(edits):
            out = Path(folder) / f"{number}.png"
            started = time.perf_counter()
            run = subprocess.run(edit_command(photo, other, out), capture_output=True, text=True)
            if run.returncode != 0:
                raise DataError(f"ca2sis-edit failed on {photo.face_id}: {run.stderr.strip()[-400:]}")
            seconds = time.perf_counter() - started
            finish_ms = json.loads(run.stdout).get("milliseconds", {}).get("finish")
            pixels, result = photo.pixels(), np.asarray(Image.open(out).convert("RGB"))
            true_mask = photo.mask()
            asked = other.mask() == HAIR
            if asked.shape != pixels.shape[:2] or result.shape != pixels.shape:
                raise DataError(f"{photo.face_id}: the mask, the photo and the result must be of one size")
            parsed = reader.read(result, align=False).mask
            scores = score_shape_edit(pixels, true_mask, asked, result, parsed)
            rows.append({"direction": direction, "photo": photo.face_id, "other": other.face_id,
                         "seconds": round(seconds, 2), "finish_ms": finish_ms,
                         **{k: _rounded(v) for k, v in scores.items()}})
            cells.append((direction, pixels, asked, result))
            if progress:
                print(f"{number + 1}/{len(edits)} {direction} {photo.face_id[:8]}: "
                      + ", ".join(f"{k} {_rounded(v)}" for k, v in scores.items()), file=sys.stderr)
    if sheet is not None:
        write_sheet(cells, sheet)
    return {"edits": rows, "medians": _medians(rows), "targets": {k: list(v) for k, v in TARGETS.items()}}


def _rounded(value: float | int | None) -> float | int | None:
    return round(value, 3) if isinstance(value, float) else value


def _medians(rows: list[dict]) -> dict:
    """Medians of each figure, overall and per direction, and whether each overall one meets its target."""
    medians: dict = {}
    for group in ("all", "fuller", "shorter"):
        chosen = [row for row in rows if group in ("all", row["direction"])]
        medians[group] = {name: _rounded(statistics.median(values)) if (values := [
            row[name] for row in chosen if row[name] is not None]) else None for name in TARGETS}
    medians["meets_targets"] = {name: None if medians["all"][name] is None else bool(
        medians["all"][name] >= bound if sense == ">=" else medians["all"][name] <= bound)
        for name, (sense, bound) in TARGETS.items()}
    return medians


def write_sheet(cells: list[tuple[str, np.ndarray, np.ndarray, np.ndarray]], path: Path, side: int = 256) -> None:
    """A contact sheet: per edit, photo | asked hair (white over the photo's darkened face) |
    result; fuller edits on the left, shorter on the right, a row per photo."""
    columns = {"fuller": [], "shorter": []}
    for direction, photo, asked, result in cells:
        shown = (0.35 * photo).astype(np.uint8)
        shown[asked] = 255
        triple = [cv2.resize(image, (side, side), interpolation=cv2.INTER_AREA) for image in (photo, shown, result)]
        columns[direction].append(np.concatenate(triple, axis=1))
    height = max(len(column) for column in columns.values())
    blank = np.zeros((side, 3 * side, 3), np.uint8)
    grid = [np.concatenate([columns[d][k] if k < len(columns[d]) else blank for d in ("fuller", "shorter")], axis=1)
            for k in range(height)]
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.concatenate(grid, axis=0)).save(path, quality=90)


# Sections of the measure: name → function(faces, reader, count, sheet, progress) → report. A
# painted-face section (``ca2sis-edit --mask OTHER --style FACE``) is added here by its module.
Section = Callable[[list[Face], FaceReader, int, Path | None, bool], dict]
SECTIONS: dict[str, Section] = {"hair-shape": shape_section}


def labelled_faces(data: Path, ids: list[str]) -> list[Face]:
    """The faces ``ids`` of a folder with images/ID.jpg and masks/ID.png, in order."""
    faces = []
    for face_id in ids:
        image, mask = data / "images" / f"{face_id}.jpg", data / "masks" / f"{face_id}.png"
        if not image.exists() or not mask.exists():
            raise DataError(f"{data}: no image and mask for face {face_id} (images/{face_id}.jpg, masks/{face_id}.png)")
        faces.append(Face(face_id, image, mask))
    return faces


def invented_pixels(data: Path, ids: list[str], sections: list[str], count: int = 8, sheet_folder: Path | None = None,
                    progress: bool = True, command: str = "", code: str = "") -> dict:
    """The report of the chosen ``sections`` on the faces ``ids`` of ``data`` (see the module's
    docstring); ``command`` and ``code`` (e.g. a commit) are recorded in it. Each section's
    contact sheet goes to ``sheet_folder``/SECTION.jpg."""
    unknown = [name for name in sections if name not in SECTIONS]
    if unknown:
        raise DataError(f"unknown section(s) {', '.join(unknown)}: choose from {', '.join(SECTIONS)}")
    faces = labelled_faces(data, ids)
    reader = FaceReader()
    report: dict = {"command": command, "code": code, "data": str(data), "faces": len(faces), "count": count}
    for name in sections:
        sheet = None if sheet_folder is None else sheet_folder / f"{name}.jpg"
        report[name] = SECTIONS[name](faces, reader, count, sheet, progress)
    return report
